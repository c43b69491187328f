"""Parsers of the service's own tabular tariff files (docs/FORMATS.md, "Our files").

``parse_fee_schedule``, ``parse_coverage_table`` and ``parse_negotiated_rates`` read a
CSV (UTF-8, BOM tolerated) or an XLSX workbook (first sheet) and return a
:class:`ParseResult`: the good records in file order and *every* row error found.  A
row with any error yields no record.  Whether a file with row errors is rejected or
partially imported (``allow_partial``) is the import pipeline's decision, not theirs.
File-level problems raise :class:`~tariffs.records.FileRejected`.

Rules beyond the formats of docs/FORMATS.md (documented for users of the import):

* values are stripped; enums are case-insensitive (``IOP`` = ``iop``); booleans accept
  ``true/false``, ``yes/no``, ``1/0``; money accepts ``1250``, ``1250.5``, ``$1,250.50``
  but never a negative amount, more than 2 decimals or more than 10,000,000;
* ids (``program_id``, ``payer_id``, ``plan_id``) are letters, digits, ``. _ - :``;
  billing codes are 5-character HCPCS/CPT codes or ``REV:`` + a 4-digit revenue code
  (``rev:906`` is stored ``REV:0906``); NPIs must have a valid check digit; TINs are
  stored as 9 digits without the dash;
* fee schedule: a program's ``program_name`` and ``state`` must be the same on all its
  rows; ``npi``/``tin`` may be left empty on some rows, but two different values
  disagree.  A row repeating (program_id, level_of_care, billing_code, frequency,
  effective_date) is a duplicate;
* coverage table: a row is keyed by (plan_id, network, level_of_care).  On every row
  of a plan ``payer_id``, ``plan_name``, ``plan_type``, ``plan_year_start`` must be the
  same, and on every row of a plan's network the deductibles, out-of-pocket maximums,
  allowed rule and balance billing (an empty cell is a value: "none"); ``payer_name``
  must be the same for all rows of a payer.  ``deductible_applies`` and
  ``coinsurance_pct`` may be empty on a ``covered=false`` row.  ``allowed_pct`` is
  0-100 for ``percent_of_billed`` and 0-1000 for ``percent_of_reference`` (e.g. 150 %
  of Medicare).  ``balance_billing=true`` is refused on in-network rows.  A family
  amount below the individual one, or an out-of-pocket maximum below the deductible,
  is an error;
* negotiated rates: ``percent_of_billed`` rates are 0-1000 (a contract may pay more
  than billed charges on paper; the lesser-of rule caps the allowed amount anyway);
  ``expiration_date`` ``9999-12-31`` means none.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import msgspec
import numpy as np
import pandas as pd

from costsvc.domain.model import LEVELS_OF_CARE, AllowedMethod, CopayUnit, Frequency, NetworkName, RateType
from costsvc.domain.verification import MEDSURG_LEVELS
from tariffs.records import (
    FeeLineRecord,
    NegotiatedRateRecord,
    PlanLevelRecord,
    ProgramRecord,
    ReferenceRateRecord,
    RowError,
)
from tariffs.tabular import fields as tb
from tariffs.tabular import reader as tr
from tariffs.tabular.bulk import bulk
from tariffs.tabular.fields import Invalid, RowErrors, convert
from tariffs.tabular.reader import Table, read_table

__all__ = [
    "COVERAGE_TABLE_COLUMNS",
    "FEE_SCHEDULE_COLUMNS",
    "NEGOTIATED_RATES_COLUMNS",
    "PARSERS",
    "FeeChunk",
    "FeeScheduleReader",
    "NegotiatedRatesReader",
    "ParseResult",
    "parse_coverage_table",
    "parse_fee_schedule",
    "parse_file",
    "parse_negotiated_rates",
    "parse_reference_rates",
]

# the domain's vocabulary, in its order (error messages list the values)
FREQUENCIES = get_args(Frequency)
NETWORKS = get_args(NetworkName)
COPAY_UNITS = get_args(CopayUnit)
ALLOWED_METHODS = get_args(AllowedMethod)
RATE_TYPES = get_args(RateType)
PLAN_TYPES = {t.lower(): t for t in ("HMO", "PPO", "EPO", "POS", "HDHP", "Medicaid", "Medicare", "other")}

#: Highest percent_of_billed negotiated rate and percent_of_reference allowed rule.
MAX_RATE_PERCENT = Decimal(1000)

#: (required, optional) columns of each kind.
FEE_SCHEDULE_COLUMNS = (
    (
        "program_id",
        "program_name",
        "state",
        "level_of_care",
        "billing_code",
        "frequency",
        "gross_charge",
        "effective_date",
    ),
    ("npi", "tin", "description", "cash_price"),
)
COVERAGE_TABLE_COLUMNS = (
    (
        "payer_id",
        "payer_name",
        "plan_id",
        "plan_name",
        "network",
        "level_of_care",
        "covered",
        "deductible_applies",
        "coinsurance_pct",
        "effective_date",
    ),
    (
        "plan_type",
        "plan_year_start",
        "copay",
        "copay_unit",
        "limit_units",
        "prior_auth",
        "ded_individual",
        "ded_family",
        "oop_individual",
        "oop_family",
        "allowed_method",
        "allowed_pct",
        "balance_billing",
    ),
)
NEGOTIATED_RATES_COLUMNS = (
    ("payer_id", "billing_code", "rate_type", "rate", "effective_date"),
    ("program_id", "npi", "tin", "expiration_date"),
)
_NEGOTIATED_ONE_OF = (("program_id", "npi", "tin"),)

_NO_EXPIRATION = dt.date(9999, 12, 31)


class ParseResult(msgspec.Struct):
    """What a tabular parser returns.

    ``records``: the good records in file order (``FeeLineRecord``,
    ``PlanLevelRecord`` or ``NegotiatedRateRecord``); ``programs``: the programs of a
    fee schedule that have at least one good row (empty for the other kinds);
    ``errors``: every row error, ordered by line then column.  ``rows_read`` counts the
    data rows (blank lines excluded).  ``line_numbers_exact`` is False only for a CSV
    whose quoting could not be followed line by line (numbers then approximate)."""

    kind: str
    file: str
    format: str  # csv | xlsx
    rows_read: int
    records: list[Any]
    programs: list[ProgramRecord]
    errors: list[RowError]
    ignored_columns: list[str] = []
    line_numbers_exact: bool = True

    @property
    def rows_accepted(self) -> int:
        return len(self.records)

    @property
    def rows_rejected(self) -> int:
        return self.rows_read - len(self.records)


def _is_bad(v: Any) -> bool:
    return type(v) is Invalid


def _fmt(v: Any) -> str:
    if v is None:
        return "empty"
    if isinstance(v, bool):
        return "true" if v else "false"
    return f"'{v}'"


# --------------------------------------------------------------------------- fee schedule


def parse_fee_schedule(
    path: str | Path, *, display_name: str | None = None, chunk_rows: int | None = None
) -> ParseResult:
    """Parse a fee schedule (docs/FORMATS.md) into ``FeeLineRecord``s and the
    ``ProgramRecord``s they belong to (whole file in memory; the import streams it
    with :class:`FeeScheduleReader` instead)."""
    with bulk():
        reader = FeeScheduleReader(path, display_name=display_name, chunk_rows=chunk_rows)
        records: list[FeeLineRecord] = []
        errors: list[RowError] = []
        for chunk in reader:
            records += chunk.records()
            errors += chunk.errors
        return _streamed_result("fee_schedule", reader.tables, records, errors, reader.programs())


#: (column, parser) of a fee schedule, in FeeLineRecord order after the program fields.
_FEE_PARSERS: tuple[tuple[str, Callable[[str], Any]], ...] = (
    ("program_id", tb.identifier()),
    ("program_name", tb.text()),
    ("npi", tb.npi()),
    ("tin", tb.tin()),
    ("state", tb.state_code()),
    ("level_of_care", tb.enum(LEVELS_OF_CARE)),
    ("billing_code", tb.billing_code()),
    ("description", tb.text(required=False, default="")),
    ("frequency", tb.enum(FREQUENCIES)),
    ("gross_charge", tb.money()),
    ("cash_price", tb.money(required=False)),
    ("effective_date", tb.iso_date()),
)
#: Program fields that must agree on every row of a program; lenient ones may be empty.
_PROGRAM_FIELDS = (("program_name", False), ("state", False), ("npi", True), ("tin", True))
_FEE_LINE_KEY = ("program_id", "level_of_care", "billing_code", "frequency", "effective_date")
#: FeeLineRecord fields before ``line``, and the fee_lines columns after version_id.
FEE_LINE_FIELDS = FeeLineRecord.__struct_fields__[:-1]  # all but the line number, which comes last


class FeeScheduleReader:
    """A fee schedule validated chunk by chunk: iterating yields a :class:`FeeChunk`
    per chunk of rows, in file order, each with its good rows and its row errors.

    The rules that span rows hold across chunks: a program's name, state, NPI and TIN
    are compared with the first value seen in the file (naming its line), and a
    duplicate fee line names the line of the first one.  So the errors of all chunks
    together are those of the whole file.  File-level problems raise ``FileRejected``
    when the reader is made (header) or from the iteration (a malformed row later on).
    ``programs()`` is complete once the iteration ends."""

    def __init__(
        self, path: str | Path, *, display_name: str | None = None, chunk_rows: int | None = tr.CHUNK_ROWS
    ) -> None:
        required, optional = FEE_SCHEDULE_COLUMNS
        self.tables = tr.TableReader(
            path, required=required, optional=optional, display_name=display_name, chunk_rows=chunk_rows
        )
        self._converters = [tb.ColumnConverter(column, parser) for column, parser in _FEE_PARSERS]
        self._refs: dict[str, dict[str, tuple[Any, int]]] = {}  # program -> field -> (first value, its line)
        self._seen: dict[tuple, int] = {}  # fee line key -> line of its first row
        self._programs: dict[str, None] = {}  # programs with a good row, in file order
        self._touched: list[str] = []  # programs of the last chunk that have a good row
        self._staged: dict[str, ProgramRecord] = {}  # what program_changes() last returned

    def __iter__(self) -> Iterator[FeeChunk]:
        for table in self.tables:
            yield self._chunk(table)

    def programs(self) -> list[ProgramRecord]:
        """The programs with at least one good row, as their first rows describe them."""
        return [self._program(pid) for pid in self._programs]

    def program_changes(self) -> list[ProgramRecord]:
        """The programs whose record is new or changed since the last call (an NPI or
        TIN first given on a later row completes a program), for a caller that stages
        programs chunk by chunk."""
        out = []
        for pid in self._touched:
            record = self._program(pid)
            if self._staged.get(pid) != record:
                self._staged[pid] = record
                out.append(record)
        self._touched = []
        return out

    def _program(self, pid: str) -> ProgramRecord:
        refs = self._refs[pid]
        return ProgramRecord(
            program_id=pid,
            name=refs["program_name"][0],
            state=refs["state"][0],
            npi=refs["npi"][0] if "npi" in refs else None,
            tin=refs["tin"][0] if "tin" in refs else None,
        )

    def _chunk(self, t: Table) -> FeeChunk:
        errs = RowErrors(t)
        cols = {conv.column: conv(t, errs) for conv in self._converters}
        lines = np.asarray(t.lines, dtype=np.int64)
        self._check_programs(cols, lines, errs)
        self._check_duplicates(cols, lines, errs)
        bad = np.zeros(len(t), dtype=bool)
        if errs.by_row:
            bad[list(errs.by_row)] = True
        good = np.flatnonzero(~bad)
        pid = cols["program_id"]
        for code in pd.unique(pid.codes[good]).tolist():
            self._programs[pid.values[code]] = None
        # a program's record can change on any of its rows, good or not
        self._touched = [p for p in pid.values.tolist() if p in self._programs]
        return FeeChunk(cols, good, lines[good], errs.sorted())

    def _check_programs(self, cols: dict[str, tb.Converted], lines: np.ndarray, errs: RowErrors) -> None:
        """Each distinct (program, name, state, NPI, TIN) combination of the chunk is
        checked once, at its first row, in file order: the same outcome as checking
        every row, since a combination's later rows carry the same values."""
        pid = cols["program_id"]
        fields = [(name, lenient, cols[name]) for name, lenient in _PROGRAM_FIELDS]
        frame = pd.DataFrame({"program_id": pid.codes, **{name: c.codes for name, _, c in fields}})
        group = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
        _, first_rows = np.unique(group, return_index=True)
        refs = self._refs
        problems: dict[int, list[tuple[str, str]]] = {}
        for g, i in enumerate(first_rows.tolist()):
            p = pid.values[pid.codes[i]]
            if type(p) is Invalid:
                continue
            ref_of = refs.get(p)
            if ref_of is None:
                ref_of = refs[p] = {}
            for name, lenient, c in fields:
                value = c.values[c.codes[i]]
                if type(value) is Invalid:
                    continue
                ref = ref_of.get(name)
                if ref is None:
                    if value is not None or not lenient:
                        ref_of[name] = (value, int(lines[i]))
                elif ref[0] != value and not (lenient and value is None):
                    problems.setdefault(g, []).append((
                        name,
                        f"program '{p}' has {name} {_fmt(ref[0])} on line {ref[1]} but {_fmt(value)} "
                        f"here; expected the same {name} on every row of a program",
                    ))
        if problems:
            for i in np.flatnonzero(np.isin(group, list(problems))).tolist():
                for name, message in problems[group[i]]:
                    errs.add(i, name, message)

    def _check_duplicates(self, cols: dict[str, tb.Converted], lines: np.ndarray, errs: RowErrors) -> None:
        key_cols = [cols[name] for name in _FEE_LINE_KEY]
        rows = None  # all rows, unless some key value is invalid
        if any(c.bad.any() for c in key_cols):
            rows = np.flatnonzero(~np.logical_or.reduce([c.invalid_rows() for c in key_cols]))
        keyed_lines = lines if rows is None else lines[rows]
        keys = zip(*(c.rows(rows).tolist() for c in key_cols))
        firsts = np.fromiter(map(self._seen.setdefault, keys, keyed_lines.tolist()), dtype=np.int64,
                             count=len(keyed_lines))
        for j in np.flatnonzero(firsts != keyed_lines).tolist():
            errs.add(
                j if rows is None else int(rows[j]),
                "billing_code",
                f"duplicate of line {firsts[j]}: same program_id, level_of_care, billing_code, "
                "frequency and effective_date; expected each fee line once",
            )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_texts(values: list[Any]) -> list[str]:
    """Values (of one column: all str, or Decimal, or date, or None) in PostgreSQL's
    COPY text format.  Invalid values never reach a good row; they format as ''."""
    out = []
    for v in values:
        if v is None:
            out.append("\\N")
        elif type(v) is str:
            out.append(v.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE.search(v) else v)
        elif type(v) is Invalid:
            out.append("")
        elif isinstance(v, dt.date):
            out.append(v.isoformat())
        else:
            out.append(str(v))  # Decimal quantized to cents
    return out


_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


class FeeChunk:
    """The good rows of one chunk of a fee schedule, column by column, and the row
    errors of the chunk (ordered by line, then column)."""

    def __init__(self, cols: dict[str, tb.Converted], good: np.ndarray, lines: np.ndarray,
                 errors: list[RowError]) -> None:
        self._cols = cols
        self._good = good
        self.lines = lines
        self.errors = errors

    def __len__(self) -> int:
        return len(self._good)

    def column(self, name: str) -> list[Any]:
        return self._cols[name].rows(self._good).tolist()

    def records(self) -> list[FeeLineRecord]:
        return list(map(FeeLineRecord, *(self.column(name) for name in FEE_LINE_FIELDS), self.lines.tolist()))

    def program_levels(self) -> set[tuple[str, str]]:
        """The (program_id, level_of_care) pairs of the good rows."""
        pid, level = self._cols["program_id"], self._cols["level_of_care"]
        width = len(level.values)
        pairs = pd.unique(pid.codes[self._good].astype(np.int64) * width + level.codes[self._good])
        return {(pid.values[x // width], level.values[x % width]) for x in pairs.tolist()}

    def copy_text(self, version_id: int) -> bytes:
        """The good rows as COPY text for ``fee_lines`` (``version_id``,
        ``FEE_LINE_FIELDS``, ``line``): each distinct value is formatted once."""
        if not len(self._good):
            return b""
        parts = []
        for name in FEE_LINE_FIELDS:
            c = self._cols[name]
            text = np.empty(len(c.values), dtype=object)
            prefix = f"{version_id}\t" if name == "program_id" else ""
            texts = _copy_texts(c.values.tolist())
            text[:] = [prefix + x for x in texts] if prefix else texts
            parts.append(text[c.codes[self._good]].tolist())
        parts.append(list(map(str, self.lines.tolist())))
        return ("\n".join(map("\t".join, zip(*parts))) + "\n").encode()


# --------------------------------------------------------------------------- coverage table


_PLAN_WIDE = ("payer_id", "plan_name", "plan_type", "plan_year_start")
_NETWORK_WIDE = (
    "ded_individual",
    "ded_family",
    "oop_individual",
    "oop_family",
    "allowed_method",
    "allowed_pct",
    "balance_billing",
)
_ORDERED_AMOUNTS = (
    ("ded_individual", "ded_family", "the family deductible is below the individual one"),
    ("oop_individual", "oop_family", "the family out-of-pocket maximum is below the individual one"),
    ("ded_individual", "oop_individual", "the out-of-pocket maximum is below the deductible"),
    ("ded_family", "oop_family", "the family out-of-pocket maximum is below the family deductible"),
)


def parse_coverage_table(path: str | Path, *, display_name: str | None = None) -> ParseResult:
    """Parse a coverage table (docs/FORMATS.md) into ``PlanLevelRecord``s, one per
    (plan, network, level of care)."""
    with bulk():
        return _parse_coverage_table(path, display_name)


def _parse_coverage_table(path: str | Path, display_name: str | None) -> ParseResult:
    required, optional = COVERAGE_TABLE_COLUMNS
    t = read_table(path, required=required, optional=optional, display_name=display_name)
    errs = RowErrors(t)

    col: dict[str, list[Any]] = {
        "payer_id": convert(t, "payer_id", tb.identifier(), errs),
        "payer_name": convert(t, "payer_name", tb.text(), errs),
        "plan_id": convert(t, "plan_id", tb.identifier(), errs),
        "plan_name": convert(t, "plan_name", tb.text(), errs),
        "plan_type": convert(t, "plan_type", tb.enum(PLAN_TYPES, required=False), errs),
        "plan_year_start": convert(t, "plan_year_start", tb.month_day(default="01-01"), errs),
        "network": convert(t, "network", tb.enum(NETWORKS), errs),
        # medsurg_* rows: medical/surgical comparisons for parity flags, never priced
        "level_of_care": convert(t, "level_of_care", tb.enum(LEVELS_OF_CARE + MEDSURG_LEVELS), errs),
        "covered": convert(t, "covered", tb.boolean(), errs),
        "copay": convert(t, "copay", tb.money(required=False, default=Decimal("0.00")), errs),
        "copay_unit": convert(t, "copay_unit", tb.enum(COPAY_UNITS, required=False, default="per_day"), errs),
        # required when covered (checked per row)
        "deductible_applies": convert(t, "deductible_applies", tb.boolean(required=False), errs),
        "coinsurance_pct": convert(t, "coinsurance_pct", tb.percent(required=False), errs),
        "limit_units": convert(t, "limit_units", tb.integer(required=False), errs),
        "prior_auth": convert(t, "prior_auth", tb.boolean(required=False, default=False), errs),
        "ded_individual": convert(t, "ded_individual", tb.money(required=False), errs),
        "ded_family": convert(t, "ded_family", tb.money(required=False), errs),
        "oop_individual": convert(t, "oop_individual", tb.money(required=False), errs),
        "oop_family": convert(t, "oop_family", tb.money(required=False), errs),
        "allowed_method": convert(t, "allowed_method", tb.enum(ALLOWED_METHODS, required=False), errs),
        "allowed_pct": convert(
            t, "allowed_pct", tb.percent(required=False, max_value=MAX_RATE_PERCENT), errs
        ),
        "balance_billing": convert(t, "balance_billing", tb.boolean(required=False, default=False), errs),
        "effective_date": convert(t, "effective_date", tb.iso_date(), errs),
    }
    lines = t.lines
    names = list(col)
    at = {name: k for k, name in enumerate(names)}
    refs_by_scope: dict[tuple, dict[str, tuple[Any, int]]] = {}
    consistent: set[tuple] = set()  # (scope, values) signatures known to agree
    seen: dict[tuple, int] = {}
    records: list[PlanLevelRecord] = []
    # (scope name, key columns, columns that must agree within the scope, "what", "where")
    scopes = (
        ("payer", ("payer_id",), ("payer_name",)),
        ("plan", ("plan_id",), _PLAN_WIDE),
        ("network", ("plan_id", "network"), _NETWORK_WIDE),
    )
    scope_idx = [
        (label, tuple(at[c] for c in key), tuple(at[c] for c in cols), cols) for label, key, cols in scopes
    ]
    i_plan, i_net, i_level = at["plan_id"], at["network"], at["level_of_care"]

    def describe(label: str, key: tuple) -> tuple[str, str]:
        if label == "payer":
            return f"payer '{key[0]}'", "a payer"
        if label == "plan":
            return f"plan '{key[0]}'", "a plan"
        return f"plan '{key[0]}' ({key[1]})", f"a plan's {key[1]} rows"

    for i, row in enumerate(zip(*col.values())):
        line = lines[i]
        g = dict(zip(names, row))
        plan_id, network, level = row[i_plan], row[i_net], row[i_level]

        # ---- per-row rules
        covered = g["covered"]
        if covered is True:
            if g["deductible_applies"] is None:
                errs.add(
                    i, "deductible_applies", "a value is required on a covered row; expected true or false"
                )
            if g["coinsurance_pct"] is None:
                errs.add(
                    i,
                    "coinsurance_pct",
                    "a value is required on a covered row; expected a percentage from 0 to 100 like 20",
                )
        method, pct = g["allowed_method"], g["allowed_pct"]
        if method is None and pct is not None and not _is_bad(pct):
            errs.add(
                i,
                "allowed_method",
                "allowed_pct is given, so expected allowed_method (percent_of_billed or percent_of_reference)",
            )
        elif pct is None and method is not None and not _is_bad(method):
            errs.add(i, "allowed_pct", f"allowed_method is {method}, so expected allowed_pct (a percentage)")
        elif method == "percent_of_billed" and not _is_bad(pct) and pct > 100:
            errs.add(i, "allowed_pct", f"'{pct}' is above 100; expected 0 to 100 for percent_of_billed")
        if network == "in_network" and g["balance_billing"] is True:
            errs.add(
                i,
                "balance_billing",
                "balance billing applies only to out_of_network rows; expected false or empty on in_network rows",
            )
        for low, high, why in _ORDERED_AMOUNTS:
            a, b = g[low], g[high]
            if a is not None and b is not None and not _is_bad(a) and not _is_bad(b) and b < a:
                errs.add(i, high, f"{why} ({b} < {a}); expected {high} >= {low}")

        # ---- agreement across rows (payer_name per payer; plan-wide; network-wide)
        for label, key_idx, col_idx, cols in scope_idx:
            key = tuple(row[k] for k in key_idx)
            if any(type(x) is Invalid for x in key):
                continue
            sig = (label, key, tuple(row[k] for k in col_idx))
            if sig in consistent:
                continue
            refs = refs_by_scope.setdefault((label, key), {})
            ok = True
            for column, k in zip(cols, col_idx):
                value = row[k]
                if type(value) is Invalid:
                    ok = False
                    continue
                ref = refs.get(column)
                if ref is None:
                    refs[column] = (value, line)
                elif ref[0] != value:
                    ok = False
                    what, where = describe(label, key)
                    errs.add(
                        i,
                        column,
                        f"{what} has {column} {_fmt(ref[0])} on line {ref[1]} but {_fmt(value)} here; "
                        f"expected the same {column} on every row of {where}",
                    )
            if ok:
                consistent.add(sig)

        key = (plan_id, network, level)
        if not any(type(x) is Invalid for x in key):
            first = seen.setdefault(key, line)
            if first != line:
                errs.add(
                    i,
                    "level_of_care",
                    f"duplicate of line {first}: same plan_id, network and level_of_care; "
                    "expected one row per plan, network and level of care",
                )

        if i in errs:
            continue
        records.append(
            PlanLevelRecord(
                payer_id=g["payer_id"],
                payer_name=g["payer_name"],
                plan_id=plan_id,
                plan_name=g["plan_name"],
                plan_type=g["plan_type"],
                plan_year_start=g["plan_year_start"],
                network=network,
                level_of_care=level,
                covered=covered,
                copay=g["copay"],
                copay_unit=g["copay_unit"],
                deductible_applies=True if g["deductible_applies"] is None else g["deductible_applies"],
                coinsurance_pct=Decimal(0) if g["coinsurance_pct"] is None else g["coinsurance_pct"],
                limit_units=g["limit_units"],
                prior_auth=g["prior_auth"],
                ded_individual=g["ded_individual"],
                ded_family=g["ded_family"],
                oop_individual=g["oop_individual"],
                oop_family=g["oop_family"],
                allowed_method=method,
                allowed_pct=pct,
                balance_billing=g["balance_billing"],
                effective_date=g["effective_date"],
                line=line,
            )
        )
    return _result("coverage_table", t, records, errs)


# --------------------------------------------------------------------------- negotiated rates


def parse_negotiated_rates(
    path: str | Path, *, display_name: str | None = None, chunk_rows: int | None = None
) -> ParseResult:
    """Parse a negotiated-rates file (docs/FORMATS.md) into ``NegotiatedRateRecord``s.
    Rows naming the program by NPI/TIN only keep ``program_id`` None; the pipeline
    resolves them.  (Whole file in memory; the import streams it with
    :class:`NegotiatedRatesReader` instead.)"""
    with bulk():
        reader = NegotiatedRatesReader(path, display_name=display_name, chunk_rows=chunk_rows)
        records: list[NegotiatedRateRecord] = []
        errors: list[RowError] = []
        for chunk_records, chunk_errors in reader:
            records += chunk_records
            errors += chunk_errors
        return _streamed_result("negotiated_rates", reader.tables, records, errors)


_RATE_PARSERS: tuple[tuple[str, Callable[[str], Any]], ...] = (
    ("payer_id", tb.identifier()),
    ("program_id", tb.identifier(required=False)),
    ("npi", tb.npi()),
    ("tin", tb.tin()),
    ("billing_code", tb.billing_code()),
    ("rate_type", tb.enum(RATE_TYPES)),
    ("effective_date", tb.iso_date()),
    ("expiration_date", tb.iso_date(required=False)),
)


class NegotiatedRatesReader:
    """A negotiated-rates file validated chunk by chunk: iterating yields, per chunk
    of rows, its good ``NegotiatedRateRecord``s and its row errors (ordered by line,
    then column).  A duplicate rate names the line of the first one wherever it is
    in the file.  File-level problems raise ``FileRejected`` when the reader is made
    (header) or from the iteration (a malformed row later on)."""

    def __init__(
        self, path: str | Path, *, display_name: str | None = None, chunk_rows: int | None = tr.CHUNK_ROWS
    ) -> None:
        required, optional = NEGOTIATED_RATES_COLUMNS
        self.tables = tr.TableReader(
            path, required=required, optional=optional, one_of=_NEGOTIATED_ONE_OF, display_name=display_name,
            chunk_rows=chunk_rows,
        )
        self._converters = [tb.ColumnConverter(column, parser) for column, parser in _RATE_PARSERS]
        # the rate depends on the row's rate_type: each distinct raw value is parsed both ways
        self._as_dollar: dict[str, Any] = {}
        self._as_percent: dict[str, Any] = {}
        self._seen: dict[tuple, int] = {}  # rate key -> line of its first row

    def __iter__(self) -> Iterator[tuple[list[NegotiatedRateRecord], list[RowError]]]:
        for table in self.tables:
            yield self._chunk(table)

    def _chunk(self, t: Table) -> tuple[list[NegotiatedRateRecord], list[RowError]]:
        errs = RowErrors(t)
        payer_id, program_id, npi, tin, code, rate_type, effective, expiration = (
            conv(t, errs).rows().tolist() for conv in self._converters
        )
        as_dollar, as_percent, seen = self._as_dollar, self._as_percent, self._seen
        dollar_parser = tb.money()
        percent_parser = tb.percent(max_value=MAX_RATE_PERCENT)
        lines = t.lines
        bad_rows = errs.by_row
        records: list[NegotiatedRateRecord] = []
        append = records.append
        rows = zip(payer_id, program_id, npi, tin, code, rate_type, t.column("rate"), effective, expiration)
        for i, (payer, pid, np_, tn, cd, rt, raw, eff, exp) in enumerate(rows):
            if rt == "dollar":
                rate = as_dollar.get(raw)
                if rate is None:
                    rate = as_dollar[raw] = dollar_parser(raw)
            else:
                rate = as_percent.get(raw)
                if rate is None:
                    rate = as_percent[raw] = percent_parser(raw)
                # with an unknown rate_type, only complain when the rate is no number at all
                if type(rt) is Invalid and type(rate) is Invalid:
                    rate = as_dollar.get(raw)
                    if rate is None:
                        rate = as_dollar[raw] = dollar_parser(raw)
            if type(rate) is Invalid:
                errs.add(i, "rate", rate.message + (f" (rate_type {rt})" if type(rt) is not Invalid else ""))

            if pid is None and np_ is None and tn is None:
                errs.add(i, "program_id", "no program given; expected a program_id, an npi or a tin")
            if exp is not None:
                if exp == _NO_EXPIRATION:
                    exp = None
                elif type(exp) is not Invalid and type(eff) is not Invalid and exp < eff:
                    errs.add(
                        i,
                        "expiration_date",
                        f"expiration_date {exp.isoformat()} is before effective_date {eff.isoformat()}; "
                        "expected expiration_date on or after effective_date",
                    )
            key = (payer, pid, np_, tn, cd, eff)
            if (i not in bad_rows or not any(type(x) is Invalid for x in key)) and (pid or np_ or tn):
                first = seen.setdefault(key, lines[i])
                if first != lines[i]:
                    errs.add(
                        i,
                        "billing_code",
                        f"duplicate of line {first}: same payer_id, program (program_id/npi/tin), billing_code "
                        "and effective_date; expected each rate once",
                    )
            if i in bad_rows:
                continue
            append(NegotiatedRateRecord(payer, cd, rt, rate, eff, exp, pid, np_, tn, lines[i]))
        return records, errs.sorted()


# --------------------------------------------------------------------------- common


# --------------------------------------------------------------------------- reference rates

REFERENCE_RATES_COLUMNS = (("payer_id", "billing_code", "amount"), ())


def parse_reference_rates(path: str | Path, *, display_name: str | None = None) -> ParseResult:
    """Parse a reference-rates file (payer_id, billing_code, amount) into
    ``ReferenceRateRecord``s: the out-of-network reference a ``percent_of_reference``
    rule multiplies (docs/API.md), for payers whose CMS allowed-amount files are not
    imported.  One amount per (payer_id, billing_code)."""
    with bulk():
        required, optional = REFERENCE_RATES_COLUMNS
        t = read_table(path, required=required, optional=optional, display_name=display_name)
        errs = RowErrors(t)
        payer_id = convert(t, "payer_id", tb.identifier(), errs)
        code = convert(t, "billing_code", tb.billing_code(), errs)
        amount = convert(t, "amount", tb.money(), errs)
        seen: dict[tuple, int] = {}
        records: list[ReferenceRateRecord] = []
        for i, (payer, cd, amt) in enumerate(zip(payer_id, code, amount)):
            if not _is_bad(payer) and not _is_bad(cd):
                first = seen.setdefault((payer, cd), t.lines[i])
                if first != t.lines[i]:
                    errs.add(i, "billing_code", f"duplicate of line {first}: expected one amount per payer and code")
            if i not in errs.by_row:
                records.append(ReferenceRateRecord(payer, cd, amt))
        return _result("reference_rates", t, records, errs)


def _streamed_result(
    kind: str, tables: tr.TableReader, records: list[Any], errors: list[RowError],
    programs: list[ProgramRecord] | None = None,
) -> ParseResult:
    return ParseResult(
        kind=kind,
        file=tables.file,
        format=tables.format,
        rows_read=tables.rows_read,
        records=records,
        programs=programs or [],
        errors=errors,
        ignored_columns=tables.ignored_columns,
        line_numbers_exact=tables.line_numbers_exact,
    )


def _result(
    kind: str, t: Table, records: list[Any], errs: RowErrors, programs: list[ProgramRecord] | None = None
) -> ParseResult:
    return ParseResult(
        kind=kind,
        file=t.file,
        format=t.format,
        rows_read=len(t),
        records=records,
        programs=programs or [],
        errors=errs.sorted(),
        ignored_columns=t.ignored_columns,
        line_numbers_exact=t.line_numbers_exact,
    )


PARSERS: dict[str, Callable[..., ParseResult]] = {
    "fee_schedule": parse_fee_schedule,
    "coverage_table": parse_coverage_table,
    "negotiated_rates": parse_negotiated_rates,
    "reference_rates": parse_reference_rates,
}


def parse_file(kind: str, path: str | Path, *, display_name: str | None = None) -> ParseResult:
    """Dispatch on ``kind`` (a key of ``PARSERS``)."""
    try:
        parser = PARSERS[kind]
    except KeyError:
        raise ValueError(f"unknown tabular kind {kind!r}; expected one of {', '.join(PARSERS)}") from None
    return parser(path, display_name=display_name)
