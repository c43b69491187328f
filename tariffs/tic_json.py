"""What the two Transparency in Coverage readers share: walking a payer's JSON file.

``tariffs.tic`` (in-network rates) and ``tariffs.allowed_amounts`` (allowed amounts)
read files of tens of gigabytes event by event with ijson's C backend, keeping only
the items of the billing codes they look for.  :class:`TicJsonReader` holds what is
the same in both: opening the file (gzip detected) and turning a JSON error into a
``FileRejected`` with its byte position, the top-level object's members, the objects
of an item array (a non-object item is a row error), the kept-code test, and the
bounded list of row errors (JSON path as column, ``line`` None).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

import ijson

from tariffs.records import FileRejected, RowError
from tariffs.sources import (
    CountingReader,
    describe_event,
    display_name_of,
    json_error,
    normalize_billing_code,
    open_binary,
    skip_value,
)

__all__ = ["BUF_SIZE", "MAX_ERRORS", "Events", "TicJsonReader", "normalize_filter_codes"]

MAX_ERRORS = 1000  # errors kept in ``.errors``; ``.error_count`` counts them all
BUF_SIZE = 64 * 1024  # measured fastest for yajl2_c (bigger buffers were slower)

Events = Iterator[tuple[str, object]]


def normalize_filter_codes(codes: frozenset[str] | set[str] | None) -> frozenset[str]:
    """Upper-case the filter's codes and bring ``REV:906``/``RC:0906`` forms to ``REV:0906``."""
    out: set[str] = set()
    for c in codes or ():
        if c is None:
            continue
        text = str(c).strip().upper()
        if not text:
            continue
        out.add(normalize_billing_code(text) or text)
    return frozenset(out)


class TicJsonReader:
    """Base of the TiC readers.  ``kind`` names the file in messages ("TiC in-network");
    ``billing_codes`` None keeps every code."""

    kind = "TiC"

    def __init__(
        self, path: str, *, payer_id: str, billing_codes: frozenset[str] | None, display_name: str | None
    ) -> None:
        self.path = path
        self.payer_id = payer_id
        self.file = display_name_of(path, display_name)
        self._codes = normalize_filter_codes(billing_codes) if billing_codes is not None else None
        self._reset_counts()

    def _reset_counts(self) -> None:
        self.errors: list[RowError] = []
        self.error_count = 0
        self.rows_read = 0
        self.stats: Counter[str] = Counter()

    # -- errors ------------------------------------------------------------------------
    def _error(self, column: str | None, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(file=self.file, line=None, column=column, message=message))

    def _reject(self, message: str, column: str | None = None) -> FileRejected:
        return FileRejected([RowError(file=self.file, line=None, column=column, message=message)])

    # -- walking -----------------------------------------------------------------------
    @contextlib.contextmanager
    def _events(self) -> Iterator[tuple[CountingReader, Events]]:
        """The file's JSON events; a JSON error in the body becomes ``FileRejected``."""
        reader = open_binary(self.path, display_name=self.file)
        with reader:
            try:
                yield reader, ijson.basic_parse(reader, buf_size=BUF_SIZE)
            except ijson.JSONError as exc:
                if reader.position == 0:
                    raise self._reject(f"the file is empty; expected a {self.kind} JSON object") from None
                raise json_error(reader, exc) from None
            except StopIteration:  # pragma: no cover - yajl reports premature EOF first
                raise self._reject(f"the JSON is truncated at {reader.where()}") from None

    def _members(self, it: Events) -> Iterator[tuple[object, str, object]]:
        """(key, first event, value) of each member of the top-level object; the caller
        consumes (or skips) each value before asking for the next.  Trailing content
        after the object is a JSON error."""
        ev, _ = next(it)
        if ev != "start_map":
            raise self._reject(
                f"expected a JSON object at the top level (a {self.kind} file), found {describe_event(ev)} "
                "at the start of the content"
            )
        for ev, key in it:
            if ev == "end_map":
                break
            ev, val = next(it)  # after a map_key, the value's first event
            yield key, ev, val
        for _ in it:
            pass

    def _require_array(self, reader: CountingReader, ev: str, key: str) -> None:
        """A member that must be an array rejects the file otherwise."""
        if ev != "start_array":
            raise self._reject(f"{key} must be an array, found {describe_event(ev)} (before {reader.where()})", column=key)

    def _objects(self, it: Events, path: str, *, count: bool = True) -> Iterator[int]:
        """The index of each object of an array whose start was consumed (the caller reads
        the object's members); other items are skipped as row errors.  ``count``: add
        the items to ``rows_read`` (and report the bad ones)."""
        index = -1
        for ev, _ in it:
            if ev == "end_array":
                return
            index += 1
            if count:
                self.rows_read += 1
            if ev != "start_map":
                skip_value(it, ev)
                if count:
                    self._error(f"{path}[{index}]", f"expected an object, found {describe_event(ev)}")
                continue
            yield index

    def _code_kept(self, code: object, code_type: object) -> str | None:
        """Our form of the code when it is kept, else None."""
        norm = normalize_billing_code(code, code_type)
        if norm is not None and (self._codes is None or norm in self._codes):
            return norm
        return None
