"""Opening tariff files, and small helpers shared by the CMS parsers.

``open_binary(path)`` returns a binary stream over the file's *content*: gzip files
(recognised by their magic bytes, whatever their name) are decompressed on the fly,
so a 40 GB ``.json.gz`` is read in constant memory.  A name ending in ``.gz`` whose
content is not gzip is rejected.  Errors while reading (a truncated gzip stream, a
corrupt deflate block, an I/O error) surface as :class:`FileRejected` naming the
byte offset, never as a bare ``EOFError``/``zlib.error`` half-way through an import.

The shared helpers (:func:`normalize_billing_code`, :func:`json_error`,
:class:`CountingReader`) live here because ``tariffs.tic``,
``tariffs.allowed_amounts`` and ``tariffs.hpt`` all need them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import re
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import BinaryIO

from costsvc.domain.money import AmountSyntaxError, parse_amount
from tariffs.records import FileRejected, RowError

GZIP_MAGIC = b"\x1f\x8b"

__all__ = [
    "GZIP_MAGIC",
    "CountingReader",
    "describe_event",
    "display_name_of",
    "json_error",
    "normalize_billing_code",
    "open_binary",
    "open_stream",
    "parse_file_date",
    "skip_value",
    "FILE_AMOUNT_PLACES",
    "to_decimal",
]


def display_name_of(path: str | os.PathLike[str], display_name: str | None = None) -> str:
    """The name row errors use for a file: the caller's display name, else the base name."""
    return display_name if display_name else os.path.basename(os.fspath(path))


def _rejected(name: str, message: str) -> FileRejected:
    return FileRejected([RowError(file=name, line=None, column=None, message=message)])


class CountingReader(io.RawIOBase):
    """A read-only binary stream over another one that counts the bytes it has handed
    out (``position``), remembers the last chunk (``last_chunk``, ``last_chunk_start``)
    so that a JSON parse error can be placed at an exact byte, and turns low-level
    reading errors into :class:`FileRejected` with the offset.

    For gzip input the counted bytes are *decompressed* bytes; ``compressed_position``
    gives the offset in the file on disk when known."""

    def __init__(self, inner: BinaryIO, name: str, *, raw: BinaryIO | None = None, compressed: bool = False):
        super().__init__()
        self._inner = inner
        self._raw = raw  # the file on disk under a GzipFile, for compressed offsets
        self.name_for_errors = name
        self.compressed = compressed
        self.position = 0
        self.last_chunk = b""
        self.last_chunk_start = 0

    # -- io.RawIOBase protocol -------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.position

    @property
    def compressed_position(self) -> int | None:
        if not self.compressed or self._raw is None:
            return None
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return None

    def where(self, offset: int | None = None) -> str:
        """Human description of a byte offset (default: bytes read so far)."""
        off = self.position if offset is None else offset
        if not self.compressed:
            return f"byte {off}"
        comp = self.compressed_position
        return f"byte {off} of the decompressed content" + (
            f" (compressed offset about {comp})" if comp is not None else ""
        )

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        try:
            data = self._inner.read(size)
        except FileRejected:
            raise
        except EOFError as exc:
            raise _rejected(
                self.name_for_errors,
                f"compressed stream is truncated after {self.where()}: {exc}",
            ) from exc
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise _rejected(self.name_for_errors, f"corrupt gzip data at {self.where()}: {exc}") from exc
        except OSError as exc:
            raise _rejected(self.name_for_errors, f"cannot read the file at {self.where()}: {exc}") from exc
        if data is None:  # non-blocking raw stream; not expected for files
            return b""
        self.last_chunk_start = self.position
        self.last_chunk = data
        self.position += len(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def readall(self) -> bytes:
        return self.read(-1)

    def close(self) -> None:
        try:
            self._inner.close()
            if self._raw is not None:
                self._raw.close()
        finally:
            super().close()


class _Prefixed(io.RawIOBase):
    """A stream that first returns ``head`` (bytes already read to sniff the format),
    then the rest of ``inner``."""

    def __init__(self, head: bytes, inner: BinaryIO):
        super().__init__()
        self._head = head
        self._inner = inner

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                out = self._head + self._inner.read()
                self._head = b""
                return out
            out, self._head = self._head[:size], self._head[size:]
            if len(out) < size:
                out += self._inner.read(size - len(out)) or b""
            return out
        return self._inner.read(size)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def _wrap(raw: BinaryIO, name: str, *, must_be_gzip: bool) -> CountingReader:
    try:
        head = raw.read(2) or b""
    except OSError as exc:
        raw.close()
        raise _rejected(name, f"cannot read the file: {exc}") from exc
    is_gzip = head == GZIP_MAGIC
    if must_be_gzip and not is_gzip:
        raw.close()
        raise _rejected(
            name,
            "the name ends in .gz but the content is not gzip-compressed "
            f"(expected the gzip magic bytes 1f 8b, found {head.hex(' ') or 'an empty file'})",
        )
    try:
        raw.seek(0)
        source: BinaryIO = raw
    except (OSError, AttributeError, io.UnsupportedOperation):
        source = _Prefixed(head, raw)  # type: ignore[assignment]
    if is_gzip:
        gz = gzip.GzipFile(fileobj=source, mode="rb")
        return CountingReader(gz, name, raw=source, compressed=True)  # type: ignore[arg-type]
    return CountingReader(source, name)


def open_binary(path: str | os.PathLike[str], *, display_name: str | None = None) -> CountingReader:
    """Open ``path`` for binary reading, gunzipping transparently when the content starts
    with the gzip magic bytes (or the name ends in ``.gz``, which then *must* be gzip).

    The result is a :class:`CountingReader` (a ``BinaryIO``) and a context manager.
    Raises :class:`FileRejected` when the file cannot be opened or a ``.gz`` is not gzip."""
    name = display_name_of(path, display_name)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the returned reader
    except OSError as exc:
        raise _rejected(name, f"cannot open the file: {exc.strerror or exc}") from exc
    return _wrap(raw, name, must_be_gzip=os.fspath(path).lower().endswith(".gz"))


def open_stream(stream: BinaryIO, name: str) -> CountingReader:
    """Like :func:`open_binary` for an already open binary stream (e.g. what a provider
    reference resolver returns): gzip is detected by content."""
    return _wrap(stream, name, must_be_gzip=name.lower().endswith(".gz"))


# ----------------------------------------------------------------------------- JSON errors

_YAJL_CONTEXT = re.compile(r"\n(?P<context>.*)\n(?P<pointer> *\(right here\) -+\^)", re.DOTALL)


def _locate_in_chunk(reader: CountingReader, message: str) -> int | None:
    """yajl's messages quote up to 30 characters around the error (newlines and tabs
    shown as spaces) and point at it; find that text in the last chunk read to compute
    the exact byte offset.  None when it cannot be placed unambiguously."""
    m = _YAJL_CONTEXT.search(message)
    if not m:
        return None
    context, pointer = m.group("context"), m.group("pointer")
    caret = len(pointer) - 1
    before = context[:caret].lstrip(" ")
    if not before:
        return None
    chunk = reader.last_chunk
    pattern = b"".join(rb"\s" if ch == " " else re.escape(ch.encode("utf-8", "replace")) for ch in before)
    try:
        hits = [h.end() for h in re.finditer(pattern, chunk)]
    except re.error:  # pragma: no cover - defensive
        return None
    if len(hits) == 1:
        return reader.last_chunk_start + hits[0]
    return None


def json_error(reader: CountingReader, exc: Exception) -> FileRejected:
    """Turn an ijson error into :class:`FileRejected` naming the byte position."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if "premature EOF" in text:
        message = f"the JSON is truncated: the content ends at {reader.where()} in the middle of a value"
    else:
        exact = _locate_in_chunk(reader, text)
        if exact is not None:
            where = reader.where(exact)
        else:
            where = (
                f"between {reader.where(reader.last_chunk_start)} and {reader.where()}"
                if reader.last_chunk
                else reader.where()
            )
        message = f"invalid JSON at {where}: {first}"
    return _rejected(reader.name_for_errors, message)


# ----------------------------------------------------------------------------- JSON events and values

_MDY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_file_date(value: object) -> dt.date | None:
    """A date as found in CMS files: ``YYYY-MM-DD`` (optionally followed by a time),
    or ``M/D/YYYY`` as the HPT CSV examples write it.  None when not a date."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = _MDY.match(text)
    try:
        if m:
            return dt.date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
        if len(text) >= 10 and re.match(r"^\d{4}-\d{2}-\d{2}($|[T ])", text):
            return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None
    return None


#: Decimals a numeric string in a CMS file may have.  Exports write floats as text
#: ("0.30000000000000004"); values are rounded by the reader where they are money.
FILE_AMOUNT_PLACES = 20


def to_decimal(value: object) -> Decimal | None:
    """A finite Decimal from a JSON number (int/Decimal/float), or from a string in the
    file grammar of ``costsvc.domain.money.parse_amount`` (``$``, thousands groups,
    up to ``FILE_AMOUNT_PLACES`` decimals, never negative); None otherwise (booleans,
    NaN, infinities, other text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        d = Decimal(repr(value))
        return d if d.is_finite() else None
    if isinstance(value, str):
        try:
            return parse_amount(value, places=FILE_AMOUNT_PLACES, file_format=True)
        except AmountSyntaxError:
            return None
    return None


def describe_event(event: str | None, value: object = None) -> str:
    """What an ijson event starts, for messages ("an object", "a string"...)."""
    return {
        "start_map": "an object",
        "start_array": "an array",
        "string": "a string",
        "number": "a number",
        "boolean": "a boolean",
        "null": "null",
        None: "nothing",
    }.get(event, str(event))


def skip_value(it: Iterator[tuple[str, object]], event: str) -> None:
    """Consume the rest of a value whose first event was ``event``."""
    if event != "start_map" and event != "start_array":
        return
    depth = 1
    for ev, _ in it:
        if ev == "start_map" or ev == "start_array":
            depth += 1
        elif ev == "end_map" or ev == "end_array":
            depth -= 1
            if not depth:
                return


# ----------------------------------------------------------------------------- billing codes

_REV_PREFIXES = ("REV:", "REV-", "RC:", "RC-")


def normalize_billing_code(code: object, code_type: object = None) -> str | None:
    """Our form of a billing code: CPT/HCPCS upper-cased and stripped; revenue codes
    (type ``RC``, or already written ``REV:906``) as ``REV:`` + 4 digits, zero-padded
    (``906`` → ``REV:0906``).  Returns None for an empty code or a revenue code that is
    not 1–4 digits."""
    if code is None:
        return None
    text = str(code).strip().upper()
    if not text:
        return None
    ctype = str(code_type).strip().upper() if code_type is not None else ""
    for prefix in _REV_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
            ctype = "RC"
            break
    if ctype == "RC":
        if not text.isdigit() or len(text) > 4:
            return None
        return "REV:" + text.zfill(4)
    return text
