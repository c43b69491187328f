"""Reading tabular tariff files (CSV or XLSX) into strings, and parsing their fields.

``TableReader`` reads a file as :class:`Table` chunks (``read_table``: the whole
file as one): each a pandas DataFrame of strings (``dtype=str``, no NA conversion)
with a normalized header, blank rows dropped, and the line number of every row.  The
field parsers below (``money``, ``percent``, ``boolean``...) are factories of
``str -> value | Invalid`` functions; ``ColumnConverter`` (and ``convert``, for one
table) applies one to a column, parsing each *distinct* raw value once per file
(tariff files repeat the same codes, dates and prices on most rows), and records a
:class:`~tariffs.records.RowError` for every row whose value is invalid.

Line numbers (``RowError.line``) are what a text editor shows: the header is line 1,
the first data row line 2, blank lines count.  A pre-scan tells whether a quoted CSV
value may span lines (an odd number of quotes before a line break); if so, record
start lines are counted with the ``csv`` module first so that they stay exact; if
that pass and pandas disagree about the records (malformed quoting), rows are numbered
as if each took one line, which is then approximate (``line_numbers_exact`` is
False).  For XLSX, the line is the spreadsheet row number of the first sheet.

File-level problems (unreadable, not UTF-8, empty, no data rows, missing required
columns, a row with more fields than the header) raise
:class:`~tariffs.records.FileRejected`.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gc
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from tariffs.records import FileRejected, RowError

__all__ = [
    "MAX_MONEY",
    "Invalid",
    "RowErrors",
    "Table",
    "TableReader",
    "billing_code",
    "boolean",
    "ColumnConverter",
    "Converted",
    "bulk",
    "convert",
    "enum",
    "identifier",
    "integer",
    "iso_date",
    "money",
    "month_day",
    "normalize_header",
    "npi",
    "npi_check_digit_ok",
    "percent",
    "read_table",
    "state_code",
    "text",
    "tin",
]

#: Largest amount a money field accepts (per unit, deductible, out-of-pocket maximum...).
MAX_MONEY = Decimal(10000000)

_XLSX_EXTENSIONS = {".xlsx", ".xlsm"}
_CHUNK = 1 << 22  # 4 MiB, for the streaming UTF-8 check

#: Data rows per chunk when a CSV file is streamed (:class:`TableReader`).
CHUNK_ROWS = 25_000


# --------------------------------------------------------------------------- bulk mode

_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = False


@contextlib.contextmanager
def bulk():
    """Suspend the cyclic garbage collector while a file is parsed.

    A parse allocates millions of small objects (records, Decimals, tuples) none of
    which form cycles; with the collector on, its repeated full passes over them cost
    30-50 % of the parse time.  Re-entrant and thread-safe: the collector is back on
    (if it was on) once the last concurrent parse leaves."""
    global _gc_holders, _gc_was_enabled
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


# --------------------------------------------------------------------------- the table


class Table:
    """A tabular file read as strings.

    ``df`` holds only the known (required or optional) columns that are present, under
    their normalized names, without blank rows, indexed by line number.  ``column(name)``
    gives a column as a Python list (``""`` for every row when an optional column is
    absent); ``lines[i]`` is the line number of row ``i``.
    """

    def __init__(
        self,
        *,
        file: str,
        format: str,
        header: list[str],
        df: pd.DataFrame,
        lines: list[int],
        line_numbers_exact: bool,
        ignored_columns: list[str],
        sheet_name: str | None = None,
    ) -> None:
        self.file = file
        self.format = format
        self.header = header
        self.df = df
        self.lines = lines
        self.line_numbers_exact = line_numbers_exact
        self.ignored_columns = ignored_columns
        self.sheet_name = sheet_name
        self._lists: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return len(self.lines)

    def has(self, name: str) -> bool:
        return name in self.df.columns

    def column(self, name: str) -> list[str]:
        values = self._lists.get(name)
        if values is None:
            if name in self.df.columns:
                values = self.df[name].tolist()
            else:
                values = [""] * len(self.lines)
            self._lists[name] = values
        return values

    def column_order(self) -> dict[str, int]:
        """Position of each column in the file (for sorting errors)."""
        return {name: i for i, name in enumerate(self.header)}


def normalize_header(name: Any) -> str:
    """``" Gross Charge "`` -> ``"gross_charge"``: strip, lower-case, inner runs of
    spaces or hyphens become one underscore."""
    s = str(name).replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", s)


_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def field_count_mismatch(pandas_message: str) -> tuple[int, int, int] | None:
    """(expected, line, saw) from pandas' "Expected N fields in line L, saw M" error, else None.
    The line counts from the start of the file, skipped rows included."""
    m = _FIELD_COUNT.search(pandas_message)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _reject(file: str, message: str, *, line: int | None = None, column: str | None = None) -> FileRejected:
    return FileRejected([RowError(file=file, line=line, column=column, message=message)])


def read_table(
    path: str | Path,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    one_of: Sequence[Sequence[str]] = (),
    display_name: str | None = None,
) -> Table:
    """Read a CSV or XLSX file (first sheet) into one :class:`Table`.

    ``required`` columns must all be in the header (else ``FileRejected`` with one
    error per missing column, line 1); for each group in ``one_of`` at least one of its
    columns must be.  Other columns than ``required``/``optional`` are ignored (listed
    in ``Table.ignored_columns``).
    """
    reader = TableReader(
        path, required=required, optional=optional, one_of=one_of, display_name=display_name, chunk_rows=None
    )
    (table,) = list(reader)  # chunk_rows=None: the whole file is one chunk
    table.line_numbers_exact = reader.line_numbers_exact  # final only now that the file is read
    return table


class TableReader:
    """A CSV or XLSX file read as :class:`Table` chunks of at most ``chunk_rows`` data
    rows (None: one chunk), so that a large file is validated while it is read.

    The header is read and checked when the reader is made: every file-level problem
    that the header or the first bytes show (not UTF-8, empty, missing columns...)
    raises ``FileRejected`` before any row is handed out.  A problem found later (a row
    with more fields than the header, no data rows at all) raises it from the
    iteration.  ``line_numbers_exact`` is final once the iteration ends.  XLSX
    workbooks are read whole (openpyxl cannot stream them through pandas) and come
    out as one chunk.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        required: Sequence[str],
        optional: Sequence[str] = (),
        one_of: Sequence[Sequence[str]] = (),
        display_name: str | None = None,
        chunk_rows: int | None = CHUNK_ROWS,
    ) -> None:
        path = Path(path)
        file = self.file = display_name or path.name
        try:
            with open(path, "rb") as fh:
                head = fh.read(8)
        except OSError as exc:
            raise _reject(file, f"cannot read the file: {exc.strerror or exc}") from None
        if not head:
            raise _reject(file, "the file is empty; expected a header row and at least one data row")

        ext = path.suffix.lower()
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise _reject(
                file,
                "this is a legacy Excel .xls workbook (or a password-protected one); "
                "save it as .xlsx or as UTF-8 CSV",
            )
        other_sheets: list[str] = []
        self.sheet_name: str | None = None
        if head.startswith(b"PK\x03\x04") or ext in _XLSX_EXTENSIONS:
            raw, lines, self.sheet_name, other_sheets = _read_xlsx(path, file)
            self.format = "xlsx"
            self._records: _Records = _XlsxRecords(raw, lines)
        else:
            if ext == ".xls":
                raise _reject(file, "legacy Excel .xls files are not supported; save it as .xlsx or as UTF-8 CSV")
            if head.startswith(b"\x1f\x8b"):
                raise _reject(file, "the file is gzip-compressed; decompress it first")
            if ext in (".gz", ".gzip"):
                raise _reject(
                    file, "the file is named .gz but is not gzip-compressed; rename it or send the real file"
                )
            self.format = "csv"
            self._records = _CsvRecords(path, file, chunk_rows)

        # ---- header: the first non-blank row
        self._chunks = iter(self._records)
        pending: tuple[pd.DataFrame, int] | None = None
        for raw, start in self._chunks:
            blank = _blank_rows(raw)
            non_blank = np.flatnonzero(~blank)
            if len(non_blank):
                h = int(non_blank[0])
                pending = (raw.iloc[h + 1 :], start + h + 1)
                header_cells = raw.iloc[h].tolist()
                self.header_line = self._records.line(start + h)
                break
        if pending is None:
            raise _reject(file, "the file is empty; expected a header row and at least one data row")
        self._pending: tuple[pd.DataFrame, int] | None = pending
        self.header = header = [normalize_header(c) for c in header_cells]

        known = list(dict.fromkeys([*required, *optional, *(c for group in one_of for c in group)]))
        known_set = set(known)
        positions: dict[str, int] = {}
        errors: list[RowError] = []
        for pos, name in enumerate(header):
            if name in known_set:
                if name in positions:
                    errors.append(
                        RowError(
                            file,
                            self.header_line,
                            name,
                            f"column '{name}' appears more than once in the header "
                            f"(columns {positions[name] + 1} and {pos + 1}); expected it once",
                        )
                    )
                else:
                    positions[name] = pos
        if errors:
            raise FileRejected(errors)

        where = f" on the first sheet ('{self.sheet_name}')" if self.sheet_name is not None else " in the header"
        for c in required:
            if c not in positions:
                errors.append(RowError(file, self.header_line, c, f"required column '{c}' is missing{where}"))
        for group in one_of:
            if not any(c in positions for c in group):
                errors.append(
                    RowError(
                        file,
                        self.header_line,
                        group[0],
                        "expected at least one of the columns " + ", ".join(f"'{c}'" for c in group) + where,
                    )
                )
        if errors:
            hint = _header_hint(header, self.format, other_sheets)
            if hint:
                first = errors[0]
                errors[0] = RowError(first.file, first.line, first.column, first.message + hint)
            raise FileRejected(errors)

        self._names = [c for c in known if c in positions]
        self._positions = [positions[c] for c in self._names]
        self.ignored_columns = [h for h in dict.fromkeys(header) if h and h not in known_set]
        self.rows_read = 0

    @property
    def line_numbers_exact(self) -> bool:
        return self._records.exact

    def __iter__(self) -> Iterator[Table]:
        chunks = self._chunks
        if self._pending is not None:
            chunks = itertools.chain([self._pending], chunks)
            self._pending = None
        for raw, start in chunks:
            data_idx = np.flatnonzero(~_blank_rows(raw))
            if len(data_idx) == 0:
                continue
            df = raw.iloc[data_idx, self._positions]
            df.columns = self._names
            data_lines = self._records.lines_of(data_idx + start)
            df.index = pd.Index(data_lines, name="line")
            self.rows_read += len(data_lines)
            yield Table(
                file=self.file,
                format=self.format,
                header=list(self.header),
                df=df,
                lines=data_lines,
                line_numbers_exact=self._records.exact,
                ignored_columns=self.ignored_columns,
                sheet_name=self.sheet_name,
            )
        if self.rows_read == 0:
            raise _reject(self.file, "the file has a header but no data rows", line=self.header_line)


class _Records:
    """Raw rows of a file, as (DataFrame of strings, index of its first record)."""

    exact = True

    def __iter__(self) -> Iterator[tuple[pd.DataFrame, int]]:
        raise NotImplementedError

    def line(self, record: int) -> int:
        """The line number of a record (its first line when it spans several)."""
        raise NotImplementedError

    def lines_of(self, records: np.ndarray) -> list[int]:
        return [self.line(r) for r in records.tolist()]


def _header_hint(header: list[str], fmt: str, other_sheets: list[str]) -> str:
    non_empty = [h for h in header if h]
    hint = ""
    if len(non_empty) == 1 and fmt == "csv":
        only = non_empty[0]
        if ";" in only:
            hint = " (the header looks semicolon-separated; expected commas)"
        elif "\t" in only:
            hint = " (the header looks tab-separated; expected commas)"
    if other_sheets:
        hint += (
            " (only the first sheet is read; the workbook also has "
            + ", ".join(f"'{s}'" for s in other_sheets)
            + ")"
        )
    if not hint:
        shown = ", ".join(non_empty[:20]) + (", ..." if len(non_empty) > 20 else "")
        hint = f" (found columns: {shown})" if shown else " (the header row is empty)"
    return hint


def _blank_rows(raw: pd.DataFrame) -> np.ndarray:
    """Boolean array: rows whose every cell is empty or whitespace."""
    n = len(raw)
    if n == 0 or raw.shape[1] == 0:
        return np.ones(n, dtype=bool)
    first = raw.iloc[:, 0].tolist()
    # cheap pre-filter: only rows whose first cell is blank can be blank
    blank_values = {v for v in set(first) if not isinstance(v, str) or not v.strip()}
    out = np.zeros(n, dtype=bool)
    if not blank_values:
        return out
    cand = [i for i, v in enumerate(first) if v in blank_values]
    if not cand:
        return out
    sub = raw.iloc[cand].to_numpy(dtype=object)
    for k, row in enumerate(sub):
        if all((not v) or not str(v).strip() for v in row):
            out[cand[k]] = True
    return out


# --------------------------------------------------------------------------- CSV


class _CsvRecords(_Records):
    """The records of a UTF-8 CSV file, read by pandas in chunks.

    Line numbers: when no quoted value spans lines (no quote at all, or an even number
    of quotes before every line break) record ``r`` is on line ``skip + r + 1``;
    otherwise the record start lines are counted first with the ``csv`` module.  If the
    records pandas reads do not match that count, numbers are approximate
    (``exact`` False)."""

    def __init__(self, path: Path, file: str, chunk_rows: int | None) -> None:
        self.path, self.file, self.chunk_rows = path, file, chunk_rows
        with open(path, "rb") as fh:
            head = fh.read(2)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise _reject(file, "the file is UTF-16 encoded; expected UTF-8 (save it as 'CSV UTF-8')")
        scan = _check_utf8(path, file)
        if scan.all_blank:
            raise _reject(file, "the file is empty; expected a header row and at least one data row")
        self.skip = _leading_blank_lines(path)
        self.has_quote = scan.has_quote
        self.physical = (scan.newlines if scan.newlines else scan.crs) + (0 if scan.ends_with_newline else 1)
        uniform_endings = scan.crs == 0 or scan.newlines == 0 or scan.crs == scan.newlines
        self.starts: list[int] | None = None
        # the quote scan looks at "\n" breaks: a file broken by "\r" alone is counted
        # with the csv module whenever it has quotes
        cr_only = scan.newlines == 0 and scan.crs > 0
        self.one_per_line = uniform_endings and not scan.quote_open_at_newline and not (cr_only and scan.has_quote)
        if not self.one_per_line:
            self.starts = _csv_record_start_lines(path, self.skip)
        self.exact = self.one_per_line or self.starts is not None

    def line(self, record: int) -> int:
        starts = self.starts
        if starts is not None and record < len(starts):
            return starts[record]
        return self.skip + record + 1

    def lines_of(self, records: np.ndarray) -> list[int]:
        if self.starts is None:
            return (records + (self.skip + 1)).tolist()
        return super().lines_of(records)

    def __iter__(self) -> Iterator[tuple[pd.DataFrame, int]]:
        file = self.file
        try:
            reader = pd.read_csv(
                self.path,
                header=None,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                encoding="utf-8-sig",
                skiprows=self.skip,
                index_col=False,
                sep=",",
                compression=None,  # never guessed from the name: the content was checked above
                chunksize=self.chunk_rows,
            )
            if self.chunk_rows is None:
                chunks: Iterable[pd.DataFrame] = [reader]
            else:
                chunks = reader
            n = 0
            try:
                for raw in chunks:
                    yield raw, n
                    n += len(raw)
            finally:
                if self.chunk_rows is not None:
                    reader.close()
        except pd.errors.EmptyDataError:
            raise _reject(file, "the file is empty; expected a header row and at least one data row") from None
        except pd.errors.ParserError as exc:
            msg = str(exc).strip()
            counts = field_count_mismatch(msg)
            if counts:
                expected, line, saw = counts
                raise _reject(
                    file,
                    f"the row has {saw} fields but the header has {expected}; expected one value per "
                    "header column (quote values that contain commas)"
                    + ("" if not self.has_quote else "; the line number is approximate when quoted values span lines"),
                    line=line,
                ) from None
            m = re.search(r"EOF inside string starting at row (\d+)", msg)
            if m:
                raise _reject(
                    file,
                    "a quoted value is never closed; expected a matching '\"' before the end of the file",
                    line=self.skip + int(m.group(1)) + 1,
                ) from None
            raise _reject(file, f"not a readable CSV file: {msg}") from None
        except UnicodeDecodeError as exc:  # pragma: no cover - _check_utf8 catches it first
            raise _reject(file, f"the file is not UTF-8 ({exc.reason}); save it as UTF-8") from None
        if self.starts is not None:
            self.exact = len(self.starts) == n
        else:
            self.exact = self.one_per_line and self.skip + n == self.physical


class _Utf8Scan(NamedTuple):
    newlines: int
    crs: int
    ends_with_newline: bool
    has_quote: bool
    all_blank: bool
    quote_open_at_newline: bool  # an odd number of '"' before some line break: a value may span lines


_QUOTE, _LF = ord('"'), ord("\n")


def _check_utf8(path: Path, file: str) -> _Utf8Scan:
    """Stream the file once: verify it is UTF-8 (naming the byte offset and line of the
    first bad byte) and gather what the line numbering needs."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    newlines = 0
    crs = 0
    quotes = 0
    open_at_newline = False
    all_blank = True
    last = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            final = not chunk
            try:
                pending = len(decoder.getstate()[0])
                if pending or final or not chunk.isascii():  # ASCII is UTF-8: nothing to decode
                    decoder.decode(chunk, final)
            except UnicodeDecodeError as exc:
                bad = offset - pending + exc.start
                line = newlines + (chunk[: max(exc.start - pending, 0)].count(b"\n")) + 1
                byte = ""
                if 0 <= exc.start - pending < len(chunk):
                    byte = f" (byte 0x{chunk[exc.start - pending]:02X})"
                raise _reject(
                    file,
                    f"the file is not valid UTF-8: invalid byte at offset {bad}{byte}; "
                    "expected UTF-8 text (re-save the file as 'CSV UTF-8')",
                    line=line,
                ) from None
            if final:
                break
            newlines += chunk.count(b"\n")
            crs += chunk.count(b"\r")
            in_chunk = chunk.count(b'"')
            if in_chunk and not open_at_newline:
                # the parity of the quotes seen before each line break of this chunk
                data = np.frombuffer(chunk, dtype=np.uint8)
                before = np.searchsorted(np.flatnonzero(data == _QUOTE), np.flatnonzero(data == _LF))
                open_at_newline = bool(((before + quotes) & 1).any())
            elif quotes & 1 and b"\n" in chunk:
                open_at_newline = True
            quotes += in_chunk
            if all_blank:
                body = chunk[3:] if offset == 0 and chunk.startswith(codecs.BOM_UTF8) else chunk
                if body.strip():
                    all_blank = False
            offset += len(chunk)
            last = chunk[-1:]
    return _Utf8Scan(newlines, crs, last in (b"\n", b"\r"), quotes > 0, all_blank, open_at_newline)


def _leading_blank_lines(path: Path) -> int:
    count = 0
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for line in fh:
            if line.strip():
                return count
            count += 1
    return count


def _csv_record_start_lines(path: Path, skip: int) -> list[int] | None:
    """Start line of every CSV record after ``skip`` lines (exact with multi-line
    quoted values).  None when the csv module cannot read the file."""
    starts: list[int] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for _ in range(skip):
                fh.readline()
            reader = csv.reader(fh)
            prev = 0
            for _row in reader:
                starts.append(skip + prev + 1)
                prev = reader.line_num
    except (csv.Error, UnicodeDecodeError):
        return None
    return starts


# --------------------------------------------------------------------------- XLSX


class _XlsxRecords(_Records):
    def __init__(self, raw: pd.DataFrame, lines: list[int]) -> None:
        self.raw, self.lines = raw, lines

    def __iter__(self) -> Iterator[tuple[pd.DataFrame, int]]:
        yield self.raw, 0

    def line(self, record: int) -> int:
        return self.lines[record]


def _read_xlsx(path: Path, file: str) -> tuple[pd.DataFrame, list[int], str, list[str]]:
    try:
        with pd.ExcelFile(path, engine="openpyxl") as xl:
            sheets = list(xl.sheet_names)
            if not sheets:
                raise _reject(file, "the workbook has no sheets")
            raw = pd.read_excel(
                xl,
                sheet_name=0,
                header=None,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
            )
    except FileRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - BadZipFile, KeyError, openpyxl's many errors: all unreadable
        raise _reject(
            file, f"not a readable .xlsx workbook ({type(exc).__name__}: {exc}); expected an Excel .xlsx file"
        ) from None
    if raw.shape[1] == 0 or len(raw) == 0:
        raise _reject(file, f"the first sheet ('{sheets[0]}') is empty; expected a header row and data rows")
    raw = raw.fillna("") if raw.isna().to_numpy().any() else raw
    # openpyxl yields every row from the sheet's first row, blank ones included
    lines = list(range(1, len(raw) + 1))
    return raw, lines, sheets[0], sheets[1:]


# --------------------------------------------------------------------------- errors


class Invalid:
    """A field value that failed to parse; ``message`` says what was expected."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"Invalid({self.message!r})"


class RowErrors:
    """Row errors of one table, keyed by row index; ``sorted()`` orders them by line,
    then by the column's position in the file."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.by_row: dict[int, list[RowError]] = {}
        self._extra: list[RowError] = []

    def add(self, i: int, column: str | None, message: str) -> None:
        err = RowError(self.table.file, self.table.lines[i], column, message)
        lst = self.by_row.get(i)
        if lst is None:
            self.by_row[i] = [err]
        else:
            lst.append(err)

    def __contains__(self, i: int) -> bool:
        return i in self.by_row

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_row.values())

    def sorted(self) -> list[RowError]:
        order = self.table.column_order()
        big = len(order) + 1
        out: list[RowError] = []
        for i in sorted(self.by_row):
            errs = self.by_row[i]
            if len(errs) > 1:
                errs = sorted(errs, key=lambda e: order.get(e.column or "", big))
            out.extend(errs)
        return out


def _show(raw: str) -> str:
    raw = raw.strip()
    return repr(raw if len(raw) <= 40 else raw[:37] + "...")


class Converted:
    """One column of a table, parsed: row ``i`` holds ``values[codes[i]]``.

    ``values`` (object array) are the parsed distinct values of the column, ``bad``
    marks those that are :class:`Invalid`.  Vectorised checks work on ``codes``; a
    row's value is only materialised when asked for."""

    __slots__ = ("bad", "codes", "values")

    def __init__(self, codes: np.ndarray, values: np.ndarray, bad: np.ndarray) -> None:
        self.codes, self.values, self.bad = codes, values, bad

    def rows(self, index: np.ndarray | None = None) -> np.ndarray:
        """The parsed value of every row (or of the rows in ``index``)."""
        return self.values[self.codes if index is None else self.codes[index]]

    def invalid_rows(self) -> np.ndarray:
        """Boolean array: rows whose value is Invalid."""
        return self.bad[self.codes]


_MISSING = object()


class ColumnConverter:
    """Parses one column, chunk after chunk, each distinct raw value once per file.

    Tariff files repeat the same codes, dates and prices on most rows: the parse of a
    raw value is cached for the whole file, and within a chunk the column is factorised
    (pandas, in C) so that Python code runs once per distinct value, not once per row.
    Every row whose value is invalid gets a RowError (column = ``column``)."""

    def __init__(self, column: str, parser: Callable[[str], Any]) -> None:
        self.column = column
        self.parser = parser
        self._cache: dict[str, Any] = {}
        self._invalid: set[str] = set()  # raw values that parsed as Invalid

    def __call__(self, table: Table, errors: RowErrors) -> Converted:
        cache, parser = self._cache, self.parser
        if table.has(self.column):
            codes, uniques = pd.factorize(table.df[self.column].to_numpy(dtype=object))
        else:  # an absent optional column: every row is empty
            codes, uniques = np.zeros(len(table), dtype=np.intp), np.array([""], dtype=object)
        raws = uniques.tolist()
        get = cache.get
        parsed = [get(raw, _MISSING) for raw in raws]
        bad: list[int] = []
        for k in [k for k, v in enumerate(parsed) if v is _MISSING]:
            v = parsed[k] = cache[raws[k]] = parser(raws[k])
            if type(v) is Invalid:
                self._invalid.add(raws[k])
        if self._invalid:
            bad = [k for k, raw in enumerate(raws) if raw in self._invalid]
        values = np.empty(len(parsed), dtype=object)
        values[:] = parsed
        bad_mask = np.zeros(len(parsed), dtype=bool)
        if bad:
            bad_mask[bad] = True
            for i in np.flatnonzero(bad_mask[codes]).tolist():
                errors.add(i, self.column, parsed[codes[i]].message)
        return Converted(codes, values, bad_mask)


def convert(table: Table, column: str, parser: Callable[[str], Any], errors: RowErrors) -> list[Any]:
    """Parse a whole column (see :class:`ColumnConverter`): the parsed value of every
    row, an ``Invalid`` where the value is invalid (and a RowError for that row)."""
    return ColumnConverter(column, parser)(table, errors).rows().tolist()


# --------------------------------------------------------------------------- field parsers
#
# Each factory returns ``parse(raw: str) -> value | Invalid``.  Values are stripped;
# an empty value gives ``default`` unless ``required``.


def _missing(expected: str) -> Invalid:
    return Invalid(f"a value is required; expected {expected}")


_AMOUNT_RE = re.compile(r"(?P<sign>[-+]?)\s*\$?\s*(?P<int>\d{1,3}(?:,\d{3})+|\d*)(?:\.(?P<frac>\d*))?")


def _decimal(raw: str) -> tuple[Decimal, int] | str:
    """Plain decimal -> (value, decimal places ignoring trailing zeros), or an error
    word: 'negative' / 'invalid'.  Accepts a leading '$' and comma thousands groups."""
    m = _AMOUNT_RE.fullmatch(raw)
    if m is None or (not m.group("int") and not m.group("frac")):
        return "invalid"
    if m.group("sign") == "-":
        return "negative"
    int_part = m.group("int").replace(",", "") or "0"
    frac = (m.group("frac") or "").rstrip("0")
    try:
        value = Decimal(f"{int_part}.{frac}" if frac else int_part)
    except InvalidOperation:  # pragma: no cover - the regex admits only digits
        return "invalid"
    return value, len(frac)


_CENT = Decimal("0.01")
_PLAIN_AMOUNT = re.compile(r"\d{1,12}(?:\.\d{1,2})?")


def money(*, required: bool = True, default: Decimal | None = None, max_value: Decimal = MAX_MONEY):
    """Non-negative amount, at most 2 decimals, at most ``max_value``; ``$`` and
    ``1,250.00`` tolerated.  Returned quantized to cents."""
    expected = f"an amount like 1250.00 (not negative, at most 2 decimals, at most {max_value:,})"

    def parse(raw: str) -> Decimal | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else default
        if _PLAIN_AMOUNT.fullmatch(s):  # most values: digits, maybe 1-2 decimals
            value = Decimal(s)
            if value > max_value:
                return Invalid(f"amount {_show(raw)} is too large; expected {expected}")
            return value.quantize(_CENT)
        r = _decimal(s)
        if r == "negative":
            return Invalid(f"negative amount {_show(raw)}; expected {expected}")
        if r == "invalid":
            return Invalid(f"expected {expected}, got {_show(raw)}")
        value, places = r  # type: ignore[misc]
        if places > 2:
            return Invalid(f"more than 2 decimals in {_show(raw)}; expected {expected}")
        if value > max_value:
            return Invalid(f"amount {_show(raw)} is too large; expected {expected}")
        return value.quantize(_CENT)

    return parse


def percent(
    *,
    required: bool = True,
    default: Decimal | None = None,
    max_value: Decimal | int = 100,
    max_places: int = 3,
):
    """Percentage 0..``max_value`` (``20`` is 20 %), a trailing ``%`` tolerated; at most
    ``max_places`` decimals (the database stores percentages as numeric(7, 3))."""
    max_value = Decimal(max_value)
    expected = f"a percentage from 0 to {max_value} like 20 or 12.5"

    def parse(raw: str) -> Decimal | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else default
        if s.endswith("%"):
            s = s[:-1].rstrip()
        if "$" in s or "," in s:
            return Invalid(f"expected {expected}, got {_show(raw)}")
        r = _decimal(s)
        if r == "negative":
            return Invalid(f"negative percentage {_show(raw)}; expected {expected}")
        if r == "invalid":
            return Invalid(f"expected {expected}, got {_show(raw)}")
        value, places = r  # type: ignore[misc]
        if places > max_places:
            return Invalid(f"more than {max_places} decimals in {_show(raw)}; expected {expected}")
        if value > max_value:
            return Invalid(f"percentage {_show(raw)} is above {max_value}; expected {expected}")
        return value.normalize() if places else Decimal(int(value))

    return parse


_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def boolean(*, required: bool = True, default: bool | None = None):
    """``true``/``false`` (also ``yes``/``no``, ``1``/``0``), case-insensitive."""
    expected = "true or false"

    def parse(raw: str) -> bool | None | Invalid:
        s = raw.strip().lower()
        if not s:
            return _missing(expected) if required else default
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        return Invalid(f"expected {expected}, got {_show(raw)}")

    return parse


# ISO date; a spreadsheet date cell arrives as "2026-01-01 00:00:00", so a midnight
# time is tolerated.
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")


def iso_date(*, required: bool = True, default: dt.date | None = None):
    """ISO date ``YYYY-MM-DD`` (year 1900-9999)."""
    expected = "an ISO date like 2026-01-31"

    def parse(raw: str) -> dt.date | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else default
        m = _DATE_RE.fullmatch(s)
        if m is None:
            return Invalid(f"expected {expected}, got {_show(raw)}")
        y, mo, d = (int(g) for g in m.groups())
        if y < 1900:
            return Invalid(f"year out of range in {_show(raw)}; expected {expected}")
        try:
            return dt.date(y, mo, d)
        except ValueError:
            return Invalid(f"{_show(raw)} is not a calendar date; expected {expected}")

    return parse


def enum(allowed: Iterable[str] | Mapping[str, str], *, required: bool = True, default: str | None = None):
    """One of ``allowed``, case-insensitive; returns the canonical spelling (a mapping
    gives ``lower-case key -> canonical``)."""
    if isinstance(allowed, Mapping):
        table = {k.lower(): v for k, v in allowed.items()}
        shown = list(dict.fromkeys(allowed.values()))
    else:
        shown = list(allowed)
        table = {a.lower(): a for a in shown}
    expected = "one of " + ", ".join(shown)

    def parse(raw: str) -> str | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else default
        v = table.get(s.lower())
        if v is None:
            return Invalid(f"expected {expected}, got {_show(raw)}")
        return v

    return parse


_INT_RE = re.compile(r"\d+(?:\.0*)?")


def integer(
    *, required: bool = False, default: int | None = None, min_value: int = 0, max_value: int = 1_000_000
):
    """Whole number ``min_value..max_value`` (``30.0`` from a spreadsheet tolerated)."""
    expected = f"a whole number from {min_value} to {max_value:,}"

    def parse(raw: str) -> int | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else default
        if s.startswith("-") and _INT_RE.fullmatch(s[1:]):
            return Invalid(f"negative number {_show(raw)}; expected {expected}")
        if not _INT_RE.fullmatch(s):
            return Invalid(f"expected {expected}, got {_show(raw)}")
        v = int(s.split(".", 1)[0])
        if not min_value <= v <= max_value:
            return Invalid(f"{_show(raw)} is out of range; expected {expected}")
        return v

    return parse


_MMDD_RE = re.compile(r"(\d{1,2})-(\d{1,2})")


def month_day(*, required: bool = False, default: str | None = "01-01"):
    """``MM-DD`` (a date that exists every year: ``02-29`` is refused).  A full ISO date
    (what a spreadsheet makes of ``07-01``) gives its month and day."""
    expected = "a month-day like 01-01 or 07-01"

    def parse(raw: str) -> str | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else default
        m = _MMDD_RE.fullmatch(s)
        if m is None:
            d = _DATE_RE.fullmatch(s)
            if d is None:
                return Invalid(f"expected {expected}, got {_show(raw)}")
            mo, day = int(d.group(2)), int(d.group(3))
        else:
            mo, day = int(m.group(1)), int(m.group(2))
        try:
            dt.date(2001, mo, day)  # not a leap year: 02-29 is not a yearly date
        except ValueError:
            return Invalid(f"{_show(raw)} is not a day that exists every year; expected {expected}")
        return f"{mo:02d}-{day:02d}"

    return parse


def npi_check_digit(base9: str) -> str:
    """The Luhn check digit of an NPI: computed over ``80840`` + its first 9 digits."""
    total = 24  # the Luhn contribution of the 80840 prefix
    for k, ch in enumerate(reversed(base9)):
        d = ord(ch) - 48
        if k % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def npi_check_digit_ok(value: str) -> bool:
    """The NPI's 10th digit is its check digit."""
    return npi_check_digit(value[:9]) == value[9]


def npi(*, required: bool = False):
    """10-digit NPI with a valid check digit."""
    expected = "a 10-digit NPI like 1234567893"

    def parse(raw: str) -> str | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else None
        if len(s) != 10 or not s.isascii() or not s.isdigit():
            return Invalid(f"expected {expected}, got {_show(raw)}")
        if not npi_check_digit_ok(s):
            return Invalid(
                f"{_show(raw)} is not a valid NPI (its check digit does not match); expected {expected}"
            )
        return s

    return parse


def tin(*, required: bool = False):
    """9-digit tax id; dashes and spaces tolerated, returned as 9 digits."""
    expected = "a 9-digit tax id like 12-3456789"

    def parse(raw: str) -> str | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else None
        digits = s.replace("-", "").replace(" ", "")
        if len(digits) != 9 or not digits.isascii() or not digits.isdigit():
            hint = " (a leading zero lost in a spreadsheet?)" if len(digits) == 8 and digits.isdigit() else ""
            return Invalid(f"expected {expected}, got {_show(raw)}{hint}")
        return digits

    return parse


_US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "VI",
        "GU",
        "AS",
        "MP",
    ]
)


def state_code(*, required: bool = True):
    """Two-letter USPS state code (50 states, DC, territories), upper-cased."""
    expected = "a 2-letter US state code like TX"

    def parse(raw: str) -> str | None | Invalid:
        s = raw.strip().upper()
        if not s:
            return _missing(expected) if required else None
        if s not in _US_STATES:
            return Invalid(f"expected {expected}, got {_show(raw)}")
        return s

    return parse


_CODE_RE = re.compile(r"[A-Z0-9]{5}")
_REV_RE = re.compile(r"REV\s*[:\-]?\s*(\d{3,4})")


def billing_code(*, required: bool = True):
    """HCPCS/CPT code (5 characters: ``H0015``, ``90837``, ``0163T``) or revenue code
    ``REV:0906``; upper-cased and stripped (``rev:906`` -> ``REV:0906``)."""
    expected = "a HCPCS/CPT code like H0015 or 90837, or a revenue code like REV:0906"

    def parse(raw: str) -> str | None | Invalid:
        s = raw.strip().upper()
        if not s:
            return _missing(expected) if required else None
        if _CODE_RE.fullmatch(s):
            return s
        m = _REV_RE.fullmatch(s)
        if m:
            return "REV:" + m.group(1).zfill(4)
        return Invalid(f"expected {expected}, got {_show(raw)}")

    return parse


_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


def identifier(*, required: bool = True):
    """A stable id/slug: letters, digits, ``.``, ``_``, ``-``, ``:``; no spaces;
    at most 128 characters; case preserved."""
    expected = "an id like sunrise-recovery (letters, digits, '.', '_', '-', ':'; no spaces)"

    def parse(raw: str) -> str | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else None
        if not _ID_RE.fullmatch(s):
            return Invalid(f"expected {expected}, got {_show(raw)}")
        return s

    return parse


def text(*, required: bool = True, default: str | None = "", max_length: int = 500):
    """Free text, stripped, at most ``max_length`` characters."""
    expected = "a text value"

    def parse(raw: str) -> str | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else default
        if len(s) > max_length:
            return Invalid(f"text of {len(s)} characters; expected at most {max_length}")
        return s

    return parse
