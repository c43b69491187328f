"""Structured logs, configured once per process from the settings.

Every record goes through one handler on the root logger: a JSON object a line
(``COSTSVC_LOG_FORMAT=json``, the default) or a readable line for local development
(``text``).  Fields a caller passes with ``extra=`` become fields of the line; so do
the fields bound to the current context (``bind``): the request id of the HTTP request
being served, the task id of the Celery task being run.  A context variable carries
them, so a line logged anywhere below a request (a service, the estimate writer, an
eager import on a worker thread) carries the request's id without being handed it.

What a line may hold is the caller's responsibility: identifiers and counts, never a
body, a key, a member id, a name or a date of birth (tests/observe/test_log_scan.py
runs a whole flow with recognisable PHI through a real server and scans its output).
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import IO, Any

import msgspec
from pythonjsonlogger.json import JsonFormatter

from costsvc.settings import Settings

#: The fields every line logged in this context carries (``bind``).
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "costsvc_log_context", default=MappingProxyType({})
)

#: Libraries whose INFO lines say nothing an operator needs (one per connection or message).
_QUIET = {"asyncio": logging.WARNING, "httpx": logging.WARNING, "httpcore": logging.WARNING,
          "multipart": logging.WARNING, "fontTools": logging.WARNING, "fpdf": logging.WARNING}


def bind(**fields: Any) -> contextvars.Token[Mapping[str, Any]]:
    """Add ``fields`` to every line logged in the current context until ``unbind``."""
    return _context.set({**_context.get(), **fields})


def unbind(token: contextvars.Token[Mapping[str, Any]]) -> None:
    _context.reset(token)


def bound() -> Mapping[str, Any]:
    """The fields bound to the current context."""
    return _context.get()


class ContextFilter(logging.Filter):
    """Copies the bound fields onto each record (a handler filter: it sees every logger's records)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)  # uvicorn's copy of the message with terminal colours
        fields = _context.get()
        if fields:
            for name, value in fields.items():
                record.__dict__.setdefault(name, value)
        return True


#: LogRecord attributes that are not fields a caller added.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime",
                                                                                      "taskName"}


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value …`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = [f"{k}={v}" for k, v in record.__dict__.items() if k not in _RECORD_ATTRS and not k.startswith("_")]
        if not extra:
            return line
        head, sep, tail = line.partition("\n")  # a traceback stays below the fields
        return head + " " + " ".join(extra) + sep + tail


def _dumps(value: Any, **_: Any) -> str:
    return _encoder.encode(value).decode()


_encoder = msgspec.json.Encoder(enc_hook=str, decimal_format="string")


def json_formatter() -> logging.Formatter:
    # msgspec encodes a line in a fraction of the json module's time (an access line
    # per request is on the hot path); anything it cannot encode is written as str().
    return JsonFormatter(
        "{levelname}{name}{message}", style="{", timestamp="time",
        rename_fields={"levelname": "level", "name": "logger"}, json_serializer=_dumps,
    )


class _CostsvcHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler ``configure`` installed, so configuring again replaces it."""


def configure(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Install the one handler of this process on the root logger (again: replace it),
    at ``settings.log_level`` in ``settings.log_format``.  Other handlers (a test's
    capture, say) are left in place."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _CostsvcHandler)]:
        root.removeHandler(old)
    handler = _CostsvcHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # No line shows the caller's file, thread or process: don't collect them for every
    # record (the logging HOWTO's "Optimization").
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(max(level, logging.getLevelName(settings.log_level)))
    logging.captureWarnings(True)
    return handler
