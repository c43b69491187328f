"""Sniffing tabular files: the encoding, and what line numbering needs.

Our own CSVs are UTF-8 (a BOM tolerated): :func:`scan` streams the file once, finding
the first byte that is not UTF-8 and gathering the line-break and quote counts the
reader's line numbering relies on; :func:`utf8_rejection` turns a bad byte into an
error naming its offset, line and column.  CMS hospital files come in whatever the
hospital's spreadsheet wrote, often Windows-1252 (an en or em dash is the usual
giveaway): :func:`detect_encoding` keeps UTF-8 when the file is UTF-8 and otherwise
asks charset-normalizer, among the encodings US spreadsheets write.

Every function takes an ``open_bytes`` callable returning a fresh binary stream of the
(decompressed) content, so that a gzip file is sniffed like a plain one.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
from typing import BinaryIO, NamedTuple

import numpy as np

from tariffs.records import FileRejected, RowError
from tariffs.tabular.header import normalize_header

__all__ = [
    "OpenBytes",
    "Scan",
    "csv_record_start_lines",
    "detect_encoding",
    "leading_blank_lines",
    "reject",
    "scan",
    "utf8_rejection",
]

OpenBytes = Callable[[], BinaryIO]

_CHUNK = 1 << 22  # 4 MiB, for the streaming scan
_SAMPLE = 1 << 19  # bytes charset-normalizer looks at, from the start and around the first non-UTF-8 byte
#: What a US hospital's export is written in when it is not UTF-8.  Restricting the
#: guess to these keeps charset-normalizer from naming a Central European or DOS code
#: page for a file whose only non-ASCII byte is a Windows-1252 dash.
CANDIDATE_ENCODINGS = ("utf_8", "cp1252", "latin_1", "utf_16", "utf_32")


def reject(file: str, message: str, *, line: int | None = None, column: str | None = None) -> FileRejected:
    """A file-level rejection with one error."""
    return FileRejected([RowError(file=file, line=line, column=column, message=message)])


class Scan(NamedTuple):
    newlines: int
    crs: int
    ends_with_newline: bool
    has_quote: bool
    all_blank: bool
    quote_open_at_newline: bool  # an odd number of '"' before some line break: a value may span lines
    bad_utf8_offset: int | None  # 0-based offset of the first byte that is not UTF-8, None when all are


_QUOTE, _LF = ord('"'), ord("\n")


def scan(open_bytes: OpenBytes) -> Scan:
    """Stream the file once: the first byte that is not UTF-8 (if any), and what the
    line numbering needs (line breaks, quotes).  The counts are over bytes, so they hold
    for any ASCII-compatible encoding."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    newlines = 0
    crs = 0
    quotes = 0
    open_at_newline = False
    all_blank = True
    bad: int | None = None
    last = b""
    with open_bytes() as fh:
        while True:
            chunk = fh.read(_CHUNK)
            final = not chunk
            if bad is None:
                try:
                    pending = len(decoder.getstate()[0])
                    if pending or final or not chunk.isascii():  # ASCII is UTF-8: nothing to decode
                        decoder.decode(chunk, final)
                except UnicodeDecodeError as exc:
                    bad = max(offset - pending + exc.start, 0)
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
    return Scan(newlines, crs, last in (b"\n", b"\r"), quotes > 0, all_blank, open_at_newline, bad)


def _read_prefix(open_bytes: OpenBytes, offset: int) -> tuple[bytes, bytes, int]:
    """(the first line, the bytes of the line holding ``offset`` before it, that line's
    number) -- for placing a bad byte."""
    first_line = b""
    line = 1
    current = b""
    pos = 0
    with open_bytes() as fh:
        while pos < offset:
            chunk = fh.read(min(_CHUNK, offset - pos))
            if not chunk:
                break
            if not first_line and b"\n" in current + chunk:
                first_line = (current + chunk).split(b"\n", 1)[0]
            breaks = chunk.count(b"\n")
            line += breaks
            current = chunk[chunk.rfind(b"\n") + 1 :] if breaks else current + chunk
            current = current[-(1 << 16) :]  # a column beyond 64 KiB is shown approximately
            pos += len(chunk)
    if not first_line:
        first_line = current
    return first_line, current, line


def utf8_rejection(open_bytes: OpenBytes, file: str, offset: int) -> FileRejected:
    """The file is not UTF-8: name the first bad byte's offset, line, character column
    and (for a CSV) the header column it falls in."""
    first_line, before, line = _read_prefix(open_bytes, offset)
    with open_bytes() as fh:
        fh.read(offset)
        byte = fh.read(1)
    column_text = before.decode("utf-8", "replace")
    char_column = len(column_text) + 1
    field: str | None = None
    if line > 1:
        header = next(csv.reader([first_line.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r")]), [])
        cells = next(csv.reader([column_text]), [])
        k = max(len(cells) - 1, 0)
        if k < len(header):
            field = normalize_header(header[k]) or None
    shown = f" (byte 0x{byte[0]:02X})" if byte else ""
    where = f"column {char_column} of line {line}" + (f", in the '{field}' value" if field else "")
    return reject(
        file,
        f"the file is not valid UTF-8: invalid byte at offset {offset}{shown}, {where}; "
        "expected UTF-8 text (re-save the file as 'CSV UTF-8')",
        line=line,
        column=field,
    )


def detect_encoding(open_bytes: OpenBytes, file: str, bad_utf8_offset: int | None) -> str:
    """The encoding to read the file with: ``utf-8`` when it is UTF-8 (a BOM is
    handled by the reader), else charset-normalizer's best guess among
    ``CANDIDATE_ENCODINGS``, judged on the start of the file and the bytes around the
    first non-UTF-8 byte.  UTF-16/32 and undetectable files are rejected."""
    if bad_utf8_offset is None:
        return "utf-8"
    from charset_normalizer import from_bytes

    with open_bytes() as fh:
        head = fh.read(_SAMPLE)
        sample = head
        if bad_utf8_offset >= len(head):
            start = max(bad_utf8_offset - _SAMPLE // 2, len(head))
            fh.read(start - len(head))
            sample = head + b"\n" + fh.read(_SAMPLE)
    best = from_bytes(sample, cp_isolation=list(CANDIDATE_ENCODINGS)).best()
    if best is None:
        raise reject(
            file,
            f"cannot tell the file's text encoding: it is not UTF-8 (byte {bad_utf8_offset + 1}) nor "
            "Windows-1252 or Latin-1; expected a text CSV file (re-save it as 'CSV UTF-8')",
        )
    encoding = codecs.lookup(best.encoding).name  # "cp1252", "iso8859-1", ...
    if encoding.startswith(("utf-16", "utf-32")):
        raise reject(file, f"the file is {encoding.upper()} encoded; expected UTF-8 or Windows-1252 text")
    return encoding


def leading_blank_lines(open_bytes: OpenBytes, encoding: str = "utf-8-sig") -> int:
    count = 0
    with open_bytes() as raw, _text(raw, encoding) as fh:
        for line in fh:
            if line.strip():
                return count
            count += 1
    return count


def csv_record_start_lines(open_bytes: OpenBytes, skip: int, encoding: str = "utf-8-sig") -> list[int] | None:
    """Start line of every CSV record after ``skip`` lines (exact with multi-line
    quoted values).  None when the csv module cannot read the file."""
    starts: list[int] = []
    try:
        with open_bytes() as raw, _text(raw, encoding) as fh:
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


def _text(raw: BinaryIO, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(raw, encoding=encoding, newline="")
