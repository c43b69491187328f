"""The chunked table reader: a CSV or XLSX file read as chunks of strings.

``TableReader`` reads a file as :class:`Table` chunks (``read_table``: the whole file
as one): each a pandas DataFrame of strings (``dtype=str``, no NA conversion) with a
normalized header, blank rows dropped, and the line number of every row.  The same
reader serves our own CSVs (UTF-8 or XLSX, header on the first non-blank row) and the
CMS hospital files (any ASCII-compatible encoding, detected; gzip; general data
elements on the rows before the header: ``preamble_rows``).

Line numbers (``RowError.line``) are what a text editor shows: the header is line 1
(after any preamble), the first data row the next one, blank lines count.  A pre-scan
tells whether a quoted CSV value may span lines (an odd number of quotes before a line
break); if so, record start lines are counted with the ``csv`` module first so that
they stay exact; if that pass and pandas disagree about the records (malformed
quoting), rows are numbered as if each took one line, which is then approximate
(``line_numbers_exact`` is False).  For XLSX, the line is the spreadsheet row number of
the first sheet.

File-level problems (unreadable, not UTF-8, empty, no data rows, missing required
columns, a row with more fields than the header) raise
:class:`~tariffs.records.FileRejected`.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tariffs.records import FileRejected
from tariffs.tabular.encoding import (
    OpenBytes,
    csv_record_start_lines,
    detect_encoding,
    leading_blank_lines,
    reject,
    scan,
    utf8_rejection,
)
from tariffs.tabular.header import header_hint, locate_columns, normalize_header

__all__ = ["CHUNK_ROWS", "Table", "TableReader", "field_count_mismatch", "read_table"]

_XLSX_EXTENSIONS = {".xlsx", ".xlsm"}

#: Data rows per chunk when a CSV file is streamed (:class:`TableReader`).
CHUNK_ROWS = 25_000

# Row 1 of an HPT CSV holds a long attestation sentence and cells may hold whole
# contract provisions: the csv module (preamble, exact line numbers) must accept
# fields up to 64 MiB (its default limit is 128 KiB).
csv.field_size_limit(max(csv.field_size_limit(), 1 << 26))


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



_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def field_count_mismatch(pandas_message: str) -> tuple[int, int, int] | None:
    """(expected, line, saw) from pandas' "Expected N fields in line L, saw M" error, else None.
    The line counts from the start of the file, skipped rows included."""
    m = _FIELD_COUNT.search(pandas_message)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


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

    Options for files from elsewhere (the CMS hospital files):

    * ``open_bytes``: how to open the content (e.g. decompressing gzip); the file is
      then always read as CSV.
    * ``encoding="detect"``: UTF-8 if the file is UTF-8, else detected
      (:func:`~tariffs.tabular.encoding.detect_encoding`); ``encoding`` tells which
      was used.  The default, ``"utf-8"``, rejects a file that is not UTF-8 at its
      first bad byte.
    * ``preamble_rows``: non-blank records before the header, kept as ``preamble``
      (``(line, cells)`` pairs) and handed to ``check_preamble`` (which may reject the
      file) before the header is looked for.
    * ``normalize``: how header cells become column names; ``select``: more known
      columns chosen from the normalized header (beyond ``required``/``optional``).
      ``raw_header`` keeps the header cells as written (stripped).
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
        encoding: str = "utf-8",
        preamble_rows: int = 0,
        normalize: Callable[[Any], str] = normalize_header,
        select: Callable[[list[str]], Iterable[str]] | None = None,
        open_bytes: OpenBytes | None = None,
        check_preamble: Callable[[list[tuple[int, list[str]]]], None] | None = None,
    ) -> None:
        path = Path(path)
        file = self.file = display_name or path.name
        self.encoding = "utf-8"
        self.preamble: list[tuple[int, list[str]]] = []
        other_sheets: list[str] = []
        self.sheet_name: str | None = None
        if open_bytes is not None:
            self.format = "csv"
            self._records: _Records = _CsvRecords(
                open_bytes, file, chunk_rows, encoding=encoding, preamble_rows=preamble_rows
            )
            self.encoding, self.preamble = self._records.encoding, self._records.preamble
        else:
            try:
                with open(path, "rb") as fh:
                    head = fh.read(8)
            except OSError as exc:
                raise reject(file, f"cannot read the file: {exc.strerror or exc}") from None
            if not head:
                raise reject(file, "the file is empty; expected a header row and at least one data row")

            ext = path.suffix.lower()
            if head.startswith(b"\xd0\xcf\x11\xe0"):
                raise reject(
                    file,
                    "this is a legacy Excel .xls workbook (or a password-protected one); "
                    "save it as .xlsx or as UTF-8 CSV",
                )
            if head.startswith(b"PK\x03\x04") or ext in _XLSX_EXTENSIONS:
                raw, lines, self.sheet_name, other_sheets = _read_xlsx(path, file)
                self.format = "xlsx"
                self._records = _XlsxRecords(raw, lines)
            else:
                if ext == ".xls":
                    raise reject(
                        file, "legacy Excel .xls files are not supported; save it as .xlsx or as UTF-8 CSV"
                    )
                if head.startswith(b"\x1f\x8b"):
                    raise reject(file, "the file is gzip-compressed; decompress it first")
                if ext in (".gz", ".gzip"):
                    raise reject(
                        file, "the file is named .gz but is not gzip-compressed; rename it or send the real file"
                    )
                self.format = "csv"
                self._records = _CsvRecords(
                    lambda: open(path, "rb"), file, chunk_rows, encoding=encoding, preamble_rows=preamble_rows
                )
                self.encoding, self.preamble = self._records.encoding, self._records.preamble

        if check_preamble is not None:
            check_preamble(self.preamble)

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
            if preamble_rows:
                raise reject(
                    file,
                    f"row {preamble_rows + 1} must be the header row; the file ends before it",
                    line=preamble_rows + 1,
                )
            raise reject(file, "the file is empty; expected a header row and at least one data row")
        self._pending: tuple[pd.DataFrame, int] | None = pending
        self.raw_header = [str(c).replace("\ufeff", "").strip() for c in header_cells]
        self.header = header = [normalize(c) for c in header_cells]
        if select is not None:
            optional = [*optional, *select(header)]
        where = f" on the first sheet ('{self.sheet_name}')" if self.sheet_name is not None else " in the header"
        plan = locate_columns(
            file,
            header,
            self.header_line,
            required=required,
            optional=optional,
            one_of=one_of,
            where=where,
            hint=header_hint(header, self.format, other_sheets),
        )
        self._names, self._positions, self.ignored_columns = plan.names, plan.positions, plan.ignored
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
            raise reject(self.file, "the file has a header but no data rows", line=self.header_line)


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
    """The records of a CSV file, read by pandas in chunks.

    Line numbers: when no quoted value spans lines (no quote at all, or an even number
    of quotes before every line break) record ``r`` is on line ``skip + r + 1``;
    otherwise the record start lines are counted first with the ``csv`` module.  If the
    records pandas reads do not match that count, numbers are approximate
    (``exact`` False)."""

    def __init__(
        self, open_bytes: OpenBytes, file: str, chunk_rows: int | None, *, encoding: str, preamble_rows: int
    ) -> None:
        self.open_bytes, self.file, self.chunk_rows = open_bytes, file, chunk_rows
        try:
            with open_bytes() as fh:
                head = fh.read(4)
        except OSError as exc:
            raise reject(file, f"cannot read the file: {exc.strerror or exc}") from None
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise reject(file, "the file is UTF-16 encoded; expected UTF-8 (save it as 'CSV UTF-8')")
        found = scan(open_bytes)
        if found.bad_utf8_offset is not None and encoding != "detect":
            raise utf8_rejection(open_bytes, file, found.bad_utf8_offset)
        if found.all_blank:
            raise reject(file, "the file is empty; expected a header row and at least one data row")
        if encoding == "detect":
            encoding = detect_encoding(open_bytes, file, found.bad_utf8_offset)
        self.encoding = encoding
        # the BOM, if any, is not part of the first cell
        self._decode_as = "utf-8-sig" if encoding in ("utf-8", "utf_8") else encoding
        skip_lines = leading_blank_lines(open_bytes, self._decode_as)
        self.skip_records = skip_lines  # a blank line is a record to pandas' skiprows
        self.preamble: list[tuple[int, list[str]]] = []
        if preamble_rows:
            skip_lines, self.skip_records = self._read_preamble(preamble_rows)
        self.skip = skip_lines
        self.has_quote = found.has_quote
        self.physical = (found.newlines if found.newlines else found.crs) + (0 if found.ends_with_newline else 1)
        uniform_endings = found.crs == 0 or found.newlines == 0 or found.crs == found.newlines
        self.starts: list[int] | None = None
        # the quote scan looks at "\n" breaks: a file broken by "\r" alone is counted
        # with the csv module whenever it has quotes
        cr_only = found.newlines == 0 and found.crs > 0
        self.one_per_line = (
            uniform_endings and not found.quote_open_at_newline and not (cr_only and found.has_quote)
        )
        if not self.one_per_line:
            self.starts = csv_record_start_lines(open_bytes, self.skip, self._decode_as)
        self.exact = self.one_per_line or self.starts is not None

    def _read_preamble(self, rows: int) -> tuple[int, int]:
        """Read ``rows`` non-blank records before the header: (physical lines, records) they take."""
        records = 0
        try:
            with self.open_bytes() as raw, io.TextIOWrapper(raw, encoding=self._decode_as, newline="") as fh:
                reader = csv.reader(fh)
                end = 0
                for row in reader:
                    records += 1
                    start, end = end + 1, reader.line_num
                    if any(cell.strip() for cell in row):
                        self.preamble.append((start, row))
                        if len(self.preamble) == rows:
                            return end, records
        except csv.Error as exc:
            raise reject(self.file, f"the rows before the header are not valid CSV: {exc}") from None
        except UnicodeDecodeError as exc:
            raise reject(self.file, f"the file is not {self.encoding} text ({exc.reason})") from None
        raise reject(
            self.file,
            f"expected {rows} rows before the header row, found {len(self.preamble)}",
            line=1,
        )

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
        n = 0
        try:
            with self.open_bytes() as source:
                reader = pd.read_csv(
                    source,
                    header=None,
                    dtype=str,
                    keep_default_na=False,
                    na_filter=False,
                    skip_blank_lines=False,
                    encoding=self._decode_as,
                    skiprows=self.skip_records,
                    index_col=False,
                    sep=",",
                    compression=None,  # never guessed from the name: the content was checked above
                    chunksize=self.chunk_rows,
                )
                if self.chunk_rows is None:
                    chunks: Iterable[pd.DataFrame] = [reader]
                else:
                    chunks = reader
                try:
                    for raw in chunks:
                        yield raw, n
                        n += len(raw)
                finally:
                    if self.chunk_rows is not None:
                        reader.close()
        except pd.errors.EmptyDataError:
            if self.preamble:
                return  # nothing after the preamble: the reader says the header is missing
            raise reject(file, "the file is empty; expected a header row and at least one data row") from None
        except pd.errors.ParserError as exc:
            msg = str(exc).strip()
            counts = field_count_mismatch(msg)
            if counts:
                expected, line, saw = counts
                # pandas counts the skipped records too: without multi-line values, that is the line
                line = self.line(line - 1 - self.skip_records) if line > self.skip_records else line
                raise reject(
                    file,
                    f"the row has {saw} fields but the header has {expected}; expected one value per "
                    "header column (quote values that contain commas)"
                    + ("" if not self.has_quote else "; the line number is approximate when quoted values span lines"),
                    line=line,
                ) from None
            m = re.search(r"EOF inside string starting at row (\d+)", msg)
            if m:
                raise reject(
                    file,
                    "a quoted value is never closed; expected a matching '\"' before the end of the file",
                    line=self.skip + int(m.group(1)) + 1,
                ) from None
            raise reject(file, f"not a readable CSV file: {msg}") from None
        except UnicodeDecodeError as exc:
            # scan() vouched for UTF-8, so this is a byte the detected encoding does not define
            raise reject(
                file,
                f"the file is not {self.encoding} text after all: {exc.reason} (byte 0x{exc.object[exc.start]:02X}); "
                "expected one text encoding throughout (re-save it as 'CSV UTF-8')",
            ) from None
        if self.starts is not None:
            self.exact = len(self.starts) == n
        else:
            self.exact = self.one_per_line and self.skip + n == self.physical

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
                raise reject(file, "the workbook has no sheets")
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
        raise reject(
            file, f"not a readable .xlsx workbook ({type(exc).__name__}: {exc}); expected an Excel .xlsx file"
        ) from None
    if raw.shape[1] == 0 or len(raw) == 0:
        raise reject(file, f"the first sheet ('{sheets[0]}') is empty; expected a header row and data rows")
    raw = raw.fillna("") if raw.isna().to_numpy().any() else raw
    # openpyxl yields every row from the sheet's first row, blank ones included
    lines = list(range(1, len(raw) + 1))
    return raw, lines, sheets[0], sheets[1:]

