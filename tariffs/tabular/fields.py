"""Field converters: ``str -> value | Invalid`` parsers and their application to the
columns of a :class:`~tariffs.tabular.reader.Table`.

The field parsers (``money``, ``percent``, ``boolean``...) are factories of ``str ->
value | Invalid`` functions.  ``ColumnConverter`` (and ``convert``, for one table)
applies one to a column, parsing each *distinct* raw value once per file (tariff files
repeat the same codes, dates and prices on most rows), and records a
:class:`~tariffs.records.RowError` for every row whose value is invalid.  Amounts go
through the one amount grammar of the domain (``costsvc.domain.money.parse_amount``),
states and levels come from the domain too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from costsvc.domain.model import US_STATES, US_TERRITORIES
from costsvc.domain.money import CENT, AmountSyntaxError, parse_amount, plain
from tariffs.records import RowError

if TYPE_CHECKING:
    from tariffs.tabular.reader import Table

#: Largest amount a money field accepts (per unit, deductible, out-of-pocket maximum...).
MAX_MONEY = Decimal(10000000)


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


# ASCII digits only, at most two decimals: a strict subset of ``parse_amount``'s file
# grammar, with the same value.  Most amounts in a fee schedule look like this, and
# ``Decimal(s)`` is several times cheaper than the full grammar.
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?", re.ASCII)


def money(*, required: bool = True, default: Decimal | None = None, max_value: Decimal = MAX_MONEY):
    """Non-negative amount, at most 2 decimals, at most ``max_value``, in the file
    grammar of :func:`costsvc.domain.money.parse_amount` (``$`` and ``1,250.00``
    tolerated).  Returned quantized to cents."""
    expected = f"an amount like 1250.00 (not negative, at most 2 decimals, at most {max_value:,})"

    def parse(raw: str) -> Decimal | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else default
        if _PLAIN_AMOUNT.fullmatch(s):
            value = Decimal(s)
        else:
            try:
                value = parse_amount(s, file_format=True)
            except AmountSyntaxError as exc:
                return Invalid(f"amount {_show(raw)} {exc.reason}; expected {expected}")
        if value > max_value:
            return Invalid(f"amount {_show(raw)} is too large; expected {expected}")
        return value.quantize(CENT)

    return parse


def percent(
    *,
    required: bool = True,
    default: Decimal | None = None,
    max_value: Decimal | int = 100,
    max_places: int = 3,
):
    """Percentage 0..``max_value`` (``20`` is 20 %), a trailing ``%`` tolerated; at most
    ``max_places`` decimals (the database stores percentages as numeric(7, 3)).  The
    number itself is in the strict grammar of ``parse_amount`` (no ``$``, no thousands
    groups); returned without trailing zeros (``12.50`` -> ``12.5``)."""
    max_value = Decimal(max_value)
    expected = f"a percentage from 0 to {max_value} like 20 or 12.5"

    def parse(raw: str) -> Decimal | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else default
        number = s[:-1].rstrip() if s.endswith("%") else s
        try:
            value = parse_amount(number, places=max_places)
        except AmountSyntaxError as exc:
            return Invalid(f"percentage {_show(raw)} {exc.reason}; expected {expected}")
        if value > max_value:
            return Invalid(f"percentage {_show(raw)} is above {max_value}; expected {expected}")
        return plain(value)

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


_FACILITY_STATES = US_STATES | US_TERRITORIES


def state_code(*, required: bool = True):
    """Two-letter USPS state code (50 states, DC, territories), upper-cased."""
    expected = "a 2-letter US state code like TX"

    def parse(raw: str) -> str | None | Invalid:
        s = raw.strip().upper()
        if not s:
            return _missing(expected) if required else None
        if s not in _FACILITY_STATES:
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


# C0 controls but tab and line breaks, DEL, C1 controls: never meant in a tariff file
# (NUL is refused by PostgreSQL outright; the rest come from a binary or mis-decoded
# file), so a row holding one is refused with its line and column.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_problem(value: str) -> str | None:
    """What is wrong with a text value holding a control character, else None."""
    m = _CONTROL.search(value)
    if m is None:
        return None
    return (
        f"control character U+{ord(m.group()):04X} at character {m.start() + 1} of the value; "
        "expected printable text (is the file binary or in another encoding?)"
    )


def text(*, required: bool = True, default: str | None = "", max_length: int = 500):
    """Free text, stripped, at most ``max_length`` characters, no control characters
    (tabs and line breaks are allowed)."""
    expected = "a text value"

    def parse(raw: str) -> str | None | Invalid:
        s = raw.strip()
        if not s:
            return _missing(expected) if required else default
        if len(s) > max_length:
            return Invalid(f"text of {len(s)} characters; expected at most {max_length}")
        problem = control_character_problem(s)
        if problem:
            return Invalid(problem)
        return s

    return parse
