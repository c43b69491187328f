"""Measurement only: where a batch's time goes inside the server (docs/PERFORMANCE.md).

Loaded by the server's Python when this folder is on ``PYTHONPATH``:

    PYTHONPATH=bench/probe DATABASE_URL=... .venv/bin/python bench/http_bench.py --only "50 items), varied, 1 conn"
    .venv/bin/python bench/probe_summary.py

Records, in each server process, every collection of the cyclic garbage collector (its
generation, wall and CPU time, and whether the catalog had been frozen yet), and the time
of every ``services.estimates.price_batch`` and ``insert`` call, with a wall-clock stamp.
Written to ``bench/out/probe-<pid>.json`` every 500 INSERTs and at exit.  It wraps those
two functions once their module is loaded (an import hook that removes itself), and
changes nothing else.
"""

from __future__ import annotations

import atexit
import builtins
import gc
import json
import os
import sys
import time
from pathlib import Path

_OUT = Path(__file__).resolve().parent.parent / "out"
_log: dict[str, list] = {"gc": [], "insert": [], "price_batch": []}
_started: dict[str, float] = {}


def _collection(phase: str, info: dict) -> None:
    if phase == "start":
        _started["cpu"], _started["wall"] = time.process_time(), time.perf_counter()
        return
    _log["gc"].append((info["generation"], time.perf_counter() - _started["wall"],
                       time.process_time() - _started["cpu"], gc.get_freeze_count() > 0, time.time()))


def _dump() -> None:
    _OUT.mkdir(parents=True, exist_ok=True)
    (_OUT / f"probe-{os.getpid()}.json").write_text(json.dumps(_log))


def _wrap(module) -> None:
    real_insert, real_price_batch = module.insert, module.price_batch

    async def insert(conn, priced, stored=None):
        started = time.perf_counter()
        try:
            return await real_insert(conn, priced, stored)
        finally:
            _log["insert"].append((len(priced), time.perf_counter() - started, time.time()))
            if len(_log["insert"]) % 500 == 0:
                _dump()

    def price_batch(*args, **kwargs):
        started = time.perf_counter()
        try:
            return real_price_batch(*args, **kwargs)
        finally:
            _log["price_batch"].append((time.perf_counter() - started, time.time()))

    module.insert, module.price_batch = insert, price_batch


_real_import = builtins.__import__


def _import(name, *args, **kwargs):
    module = _real_import(name, *args, **kwargs)
    estimates = sys.modules.get("costsvc.services.estimates")
    if estimates is not None and hasattr(estimates, "insert") and hasattr(estimates, "price_batch"):
        builtins.__import__ = _real_import  # done: imports cost nothing extra from here on
        _wrap(estimates)
    return module


gc.callbacks.append(_collection)
builtins.__import__ = _import
atexit.register(_dump)
