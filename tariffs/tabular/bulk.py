"""Bulk mode: the cyclic garbage collector suspended while a file is parsed, in the
processes that opted in.

A parse allocates millions of small objects (records, Decimals, tuples) none of which
form cycles; with the collector on, its repeated full passes over them cost 30-50 % of
the parse time.  But ``gc.disable()`` is process-wide: in the API process it would
also stop collection for every request served concurrently (their cycles would pile
up for as long as an import runs).  So ``bulk()`` only suspends the collector in a
process whose entry point called :func:`allow_gc_suspension` -- the ``costsvc``
command line and the Celery worker, which run imports and nothing else.  Everywhere
else (the API process, tests, a library user) it changes nothing.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["allow_gc_suspension", "bulk", "gc_suspension_allowed"]

_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = False
_allowed = False


def allow_gc_suspension(allowed: bool = True) -> None:
    """Let :func:`bulk` suspend the collector in this process (call it from the entry
    point of a process that only runs imports: the CLI, a job worker)."""
    global _allowed
    _allowed = allowed


def gc_suspension_allowed() -> bool:
    return _allowed


@contextlib.contextmanager
def bulk() -> Iterator[None]:
    """Suspend the cyclic garbage collector while a file is parsed, when this process
    allows it (:func:`allow_gc_suspension`); otherwise a no-op.  Re-entrant and
    thread-safe: the collector is back on (if it was on) once the last concurrent parse
    leaves."""
    global _gc_holders, _gc_was_enabled
    if not _allowed:
        yield
        return
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()
