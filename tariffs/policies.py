"""Parsers of the policy files (docs/FORMATS.md, "Policies"): a program's sliding
scale, its payment terms, and the HHS poverty guidelines.

Each reads a CSV or XLSX file whole (they are small) with the tabular reader of the
tariff files and returns a :class:`~tariffs.csv_files.ParseResult`: the good records
in file order and every row error (file, line, column, message).  Beyond each field's
own grammar:

* sliding scale: a program's tiers are its rows in file order; their
  ``max_fpl_percent`` must rise strictly, and only the last may be empty (open-ended);
  each tier has exactly one of ``discount_percent`` (0-100) and ``nominal_fee``; tier
  labels are unique within a program;
* payment terms: one row per (program, months), 1-120 months, APR 0-36;
  ``min_down_payment`` is the program's (the same on all its rows, empty = none);
* poverty guidelines: one row per (year, region), the three regions for each year (a
  year's version replaces the whole year), a positive ``base``;
* sliding scale and payment terms: ``effective_date`` is the program's, the same on
  all its rows.

A policy is all or nothing: a program (a year, for guidelines) with any bad row
yields no record at all, so that ``allow_partial`` never imports half a policy.
Whether the program exists is the loader's question (it needs the database).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tariffs.csv_files import ParseResult, _fmt, _is_bad, _result
from tariffs.records import PaymentTermRecord, PovertyGuidelineRecord, SlidingTierRecord
from tariffs.tabular import fields as tb
from tariffs.tabular.bulk import bulk
from tariffs.tabular.fields import RowErrors, convert
from tariffs.tabular.reader import Table, read_table

SLIDING_SCALE_COLUMNS = (
    ("program_id", "tier", "effective_date"),
    ("max_fpl_percent", "discount_percent", "nominal_fee"),
)
PAYMENT_TERMS_COLUMNS = (
    ("program_id", "months", "apr", "min_monthly_payment", "effective_date"),
    ("min_down_payment",),
)
POVERTY_GUIDELINES_COLUMNS = (("year", "region", "base", "per_additional_person"), ())

#: Highest FPL percentage a tier may end at, the highest APR, the longest term.
MAX_FPL_PERCENT = Decimal(1000)
MAX_APR = Decimal(36)
MAX_MONTHS = 120
REGIONS = {"48": "48", "ak": "AK", "hi": "HI"}


def _read(path: str | Path, columns: tuple[tuple[str, ...], tuple[str, ...]],
          display_name: str | None) -> tuple[Table, RowErrors]:
    required, optional = columns
    t = read_table(path, required=required, optional=optional, display_name=display_name)
    return t, RowErrors(t)


class _Agreement:
    """Columns that must hold one value across the rows of a group (a program)."""

    def __init__(self, errs: RowErrors, what: str) -> None:
        self.errs, self.what = errs, what
        self.first: dict[tuple[Hashable, str], tuple[Any, int]] = {}

    def check(self, i: int, line: int, group: Hashable, column: str, value: Any) -> None:
        if _is_bad(value):
            return
        ref = self.first.setdefault((group, column), (value, line))
        if ref[0] != value:
            self.errs.add(i, column, f"{self.what} '{group}' has {column} {_fmt(ref[0])} on line {ref[1]} but "
                                     f"{_fmt(value)} here; expected the same {column} on all its rows")


class _Unique:
    """Keys that may appear on one row only."""

    def __init__(self, errs: RowErrors) -> None:
        self.errs = errs
        self.first: dict[Hashable, int] = {}

    def check(self, i: int, line: int, key: tuple[Any, ...], column: str, what: str) -> None:
        if any(_is_bad(k) for k in key):
            return
        first = self.first.setdefault(key, line)
        if first != line:
            self.errs.add(i, column, f"duplicate of line {first}: {what}")


def _whole_groups(records: list[Any], rows_of: dict[Hashable, list[int]], errs: RowErrors,
                  group_of: Callable[[Any], Hashable]) -> list[Any]:
    """The records of the groups none of whose rows has an error."""
    spoiled = {g for g, rows in rows_of.items() if any(i in errs for i in rows)}
    return [r for r in records if group_of(r) not in spoiled]


def parse_sliding_scale(path: str | Path, *, display_name: str | None = None) -> ParseResult:
    """A sliding-scale file: each program's tiers, in file order (``SlidingTierRecord``)."""
    with bulk():
        t, errs = _read(path, SLIDING_SCALE_COLUMNS, display_name)
        program = convert(t, "program_id", tb.identifier(), errs)
        tier = convert(t, "tier", tb.text(max_length=40), errs)
        bound = convert(t, "max_fpl_percent", tb.percent(required=False, max_value=MAX_FPL_PERCENT), errs)
        discount = convert(t, "discount_percent", tb.percent(required=False), errs)
        fee = convert(t, "nominal_fee", tb.money(required=False), errs)
        effective = convert(t, "effective_date", tb.iso_date(), errs)
        agree = _Agreement(errs, "program")
        rows_of: dict[Hashable, list[int]] = {}
        last_bound: dict[str, tuple[Decimal | None, int]] = {}  # program -> (bound, line) of its last tier
        labels = _Unique(errs)
        records: list[SlidingTierRecord] = []
        for i, line in enumerate(t.lines):
            pid, d, f, b = program[i], discount[i], fee[i], bound[i]
            if (d is None) == (f is None):
                given = "both discount_percent and" if d is not None else "neither discount_percent nor"
                errs.add(i, "discount_percent", f"{given} nominal_fee given; expected exactly one of them")
            if _is_bad(pid):
                continue
            rows_of.setdefault(pid, []).append(i)
            agree.check(i, line, pid, "effective_date", effective[i])
            labels.check(i, line, (pid, tier[i]), "tier",
                         f"program '{pid}' already has tier '{tier[i]}'; expected one row per tier")
            previous = last_bound.get(pid)
            if not _is_bad(b):
                if previous is not None and previous[0] is None:
                    errs.add(i, "max_fpl_percent", f"follows the open-ended tier of line {previous[1]}; "
                                                   "expected the open-ended tier (empty max_fpl_percent) last")
                elif previous is not None and b is not None and b <= previous[0]:  # type: ignore[operator]
                    errs.add(i, "max_fpl_percent",
                             f"'{b}' is not above the previous tier's {previous[0]} (line {previous[1]}); "
                             "expected tiers in strictly increasing max_fpl_percent")
                last_bound[pid] = (b, line)
            if i not in errs:
                records.append(SlidingTierRecord(pid, len(rows_of[pid]) - 1, tier[i], b, d, f, effective[i], line))
        good = _whole_groups(records, rows_of, errs, lambda r: r.program_id)
        return _result("sliding_scale", t, good, errs)


def parse_payment_terms(path: str | Path, *, display_name: str | None = None) -> ParseResult:
    """A payment-terms file: the terms each program offers (``PaymentTermRecord``)."""
    with bulk():
        t, errs = _read(path, PAYMENT_TERMS_COLUMNS, display_name)
        program = convert(t, "program_id", tb.identifier(), errs)
        months = convert(t, "months", tb.integer(required=True, min_value=1, max_value=MAX_MONTHS), errs)
        apr = convert(t, "apr", tb.percent(max_value=MAX_APR), errs)
        minimum = convert(t, "min_monthly_payment", tb.money(), errs)
        down = convert(t, "min_down_payment", tb.money(required=False), errs)
        effective = convert(t, "effective_date", tb.iso_date(), errs)
        agree = _Agreement(errs, "program")
        rows_of: dict[Hashable, list[int]] = {}
        terms = _Unique(errs)
        records: list[PaymentTermRecord] = []
        for i, line in enumerate(t.lines):
            pid = program[i]
            if _is_bad(pid):
                continue
            rows_of.setdefault(pid, []).append(i)
            agree.check(i, line, pid, "min_down_payment", down[i])
            agree.check(i, line, pid, "effective_date", effective[i])
            terms.check(i, line, (pid, months[i]), "months",
                        f"program '{pid}' already offers {months[i]} months; expected one row per term")
            if i not in errs:
                records.append(PaymentTermRecord(pid, months[i], apr[i], minimum[i], down[i], effective[i], line))
        good = _whole_groups(records, rows_of, errs, lambda r: r.program_id)
        return _result("payment_terms", t, good, errs)


def parse_poverty_guidelines(path: str | Path, *, display_name: str | None = None) -> ParseResult:
    """A poverty-guidelines file: each year's guideline per region (``PovertyGuidelineRecord``)."""
    with bulk():
        t, errs = _read(path, POVERTY_GUIDELINES_COLUMNS, display_name)
        year = convert(t, "year", tb.integer(required=True, min_value=1965, max_value=2200), errs)
        region = convert(t, "region", tb.enum(REGIONS), errs)
        base = convert(t, "base", tb.money(), errs)
        per_person = convert(t, "per_additional_person", tb.money(), errs)
        rows_of: dict[Hashable, list[int]] = {}
        seen = _Unique(errs)
        records: list[PovertyGuidelineRecord] = []
        for i, line in enumerate(t.lines):
            y = year[i]
            if not _is_bad(base[i]) and base[i] <= 0:
                errs.add(i, "base", "a guideline of 0 for one person; expected a positive amount")
            if _is_bad(y):
                continue
            rows_of.setdefault(y, []).append(i)
            seen.check(i, line, (y, region[i]), "region",
                       f"{y} already has region {region[i]}; expected one row per year and region")
            if i not in errs:
                records.append(PovertyGuidelineRecord(y, region[i], base[i], per_person[i], line))
        # A year's version replaces the whole year: a region left out would lose its guideline.
        for y, rows in rows_of.items():
            missing = sorted(set(REGIONS.values()) - {region[i] for i in rows})
            if missing:
                errs.add(rows[0], "region", f"{y} has no row for region {', '.join(missing)}; "
                                            "expected one row per region (48, AK, HI) for each year")
        good = _whole_groups(records, rows_of, errs, lambda r: r.year)
        return _result("poverty_guidelines", t, good, errs)
