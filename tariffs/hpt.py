"""CMS Hospital Price Transparency (HPT) standard-charges files → fee lines and rates.

Formats: CSV "tall" and "wide" (template versions 2.x and 3.x) and JSON (2.x, 3.x),
plain or gzip.  For the hospital-based program named by the import request
(``program_id``) the file yields:

* :class:`FeeLineRecord`s — the gross charge, and the discounted cash price as
  ``cash_price`` — for the behavioral-health codes it lists;
* :class:`NegotiatedRateRecord`s (``program_id`` set) for the payer-specific
  negotiated charges whose ``payer_name`` (lower-cased, stripped) is a key of
  ``payer_names`` (payer name → our ``payer_id``): ``negotiated_dollar`` →
  ``dollar``, ``negotiated_percentage`` → ``percent_of_billed``.  Algorithm-only
  charges cannot be expressed as either and are skipped (counted in ``notes``).

CSV
---
Rows 1–2 are the general data elements (row 1 their names — ``hospital_name``,
``last_updated_on``, ``version``, ... — row 2 their values); row 3 is the header.
Columns are found by name, case-insensitively, with whitespace around ``|``
ignored (``code | 1`` == ``code|1``), never by position.  Codes are in ``code|N`` with
their type in ``code|N|type``.  Tall layout: one row per item and payer/plan
(``payer_name``, ``plan_name``, ``standard_charge|negotiated_dollar``,
``standard_charge|negotiated_percentage``); wide layout: one row per item with
``standard_charge|<payer>|<plan>|negotiated_dollar`` (and ``..._percentage``) columns.
Read by the same chunked reader as our own CSVs (``tariffs.tabular.reader``), with
rows 1-2 as its preamble: memory is bounded by a chunk plus the kept records.  The
text encoding is UTF-8 when the file is UTF-8, else detected with charset-normalizer
(Windows-1252 for most Windows exports; ``HptResult.encoding`` says which).
``RowError.line`` is the line a text editor shows (header = line 3, first data row
= line 4), exact also when quoted values span lines.

JSON
----
``standard_charge_information[]`` items (``description``, ``code_information[]``,
``standard_charges[]`` with ``gross_charge``, ``discounted_cash``,
``payers_information[]``), streamed with ijson's C backend one item at a time;
``RowError.column`` is the JSON path, ``line`` None.

Which codes, which lines
------------------------
* Codes of type CPT and HCPCS are kept upper-cased, revenue codes (``RC``) as
  ``REV:0906``; other code types (MS-DRG, NDC, APC, LOCAL, ...) are not in our code
  space and are ignored.
* Kept codes: ``billing_codes`` when given (the codes the program's fee schedule
  prices) and, for the levels of care the program does not price yet, the codes the
  domain maps to those levels (``costsvc.domain.levels.CODE_LEVELS``); else
  the behavioral set (``costsvc.domain.levels.is_behavioral_code``: H0001–H2037,
  S9480, S0201, CPT 90785–90899, revenue codes 0900–0919 and 1000–1005);
  ``keep_all_codes=True`` keeps every CPT/HCPCS/RC code (rates only get a fee line
  when a level is known).  A file with nothing to import is rejected with the codes
  it had (a sample and the count) and the codes looked for.
* An item with several kept codes (e.g. ``0906`` RC and ``H0015`` HCPCS) yields its
  lines under **one** code — the first CPT/HCPCS one, else the first revenue code —
  because the estimate engine bills every fee line of a level: the same service
  under two codes would be billed twice.
* Fee lines: level of care from ``costsvc.domain.levels.level_of_code`` (codes without a known level
  get no fee line, noted); frequency ``per_service`` except 90791/90792
  (``per_episode``); ``effective_date`` = ``last_updated_on``; amounts rounded
  half-up to the cent.  One fee line per (level, code): the first row wins and rows
  with a different charge for the same code (tiers such as "days 1-3"/"days 4-5",
  inpatient vs outpatient) are noted, not added — again because the engine sums a
  level's lines.  Items without a gross charge get no fee line (noted).
* Rows/charges with a ``modifiers`` value (JSON ``modifier_code``) price a variant
  or an adjustment, not the code itself: skipped (noted).
* Rates: every distinct (payer, code, rate type, rate) in file order; exact
  duplicates (the same charge listed for several plans of one payer) are dropped.
  Choosing among several distinct rates of one payer is the engine's business.
* A value that is present but not a number in the one amount grammar
  (``costsvc.domain.money.parse_amount``, file form: ``$`` and comma thousands
  groups accepted, and a trailing ``%`` for percentages) or negative is a
  :class:`RowError`; blank values are simply absent.  A control character in a kept
  row's description or payer name is a :class:`RowError` too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

import ijson
import msgspec

from costsvc.domain.levels import CODE_LEVELS, frequency_of_code, is_behavioral_code, level_of_code
from costsvc.domain.model import LEVELS_OF_CARE
from costsvc.domain.money import CENT, AmountSyntaxError, parse_amount
from tariffs.options import normalize_payer_names, payer_name_key
from tariffs.records import FeeLineRecord, FileRejected, NegotiatedRateRecord, RowError
from tariffs.sources import (
    FILE_AMOUNT_PLACES,
    describe_event,
    display_name_of,
    json_error,
    normalize_billing_code,
    open_binary,
    parse_file_date,
    skip_value,
    to_decimal,
)
from tariffs.tabular.encoding import reject
from tariffs.tabular.fields import control_character_problem
from tariffs.tabular.reader import Table, TableReader
from tariffs.tic_json import BUF_SIZE, MAX_ERRORS, normalize_filter_codes

__all__ = ["HptResult", "parse_hpt"]

CHUNK_ROWS = 50_000
_SAMPLE_CODES = 12  # codes named in a "no importable rows" message
_MAX_SEEN_CODES = 100_000  # distinct codes remembered for that message


# ----------------------------------------------------------------------------- result


class HptResult(msgspec.Struct):
    """What :func:`parse_hpt` found.  ``errors`` holds at most ``MAX_ERRORS`` row errors
    (``error_count`` counts all); ``notes`` explains what was skipped and why;
    ``layout`` is ``csv_tall``, ``csv_wide`` or ``json``."""

    fee_lines: list[FeeLineRecord]
    rates: list[NegotiatedRateRecord]
    errors: list[RowError]
    rows_read: int
    hospital_name: str | None
    version: str | None
    last_updated: dt.date | None
    layout: str = ""
    error_count: int = 0
    notes: list[str] = msgspec.field(default_factory=list)
    stats: dict[str, int] = msgspec.field(default_factory=dict)
    #: The text encoding the file was read in: ``utf-8`` (JSON, and CSV files that are
    #: UTF-8), else what was detected (``cp1252`` for most Windows exports).
    encoding: str = "utf-8"


def _norm_col(name: object) -> str:
    """Header normalization: lower-case, stripped, no whitespace around ``|``."""
    return re.sub(r"\s*\|\s*", "|", str(name).replace("\ufeff", "").strip()).lower()


def _sample(codes: list[str]) -> str:
    shown = ", ".join(codes[:_SAMPLE_CODES])
    return shown + (f" and {len(codes) - _SAMPLE_CODES:,} more" if len(codes) > _SAMPLE_CODES else "")


class _Bad:
    """A present value that is not an amount; ``reason`` from the amount grammar."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _parse_amount(raw: object, *, percent: bool = False) -> Decimal | None | _Bad:
    """A charge as a Decimal (JSON numbers as they are; text in the one amount grammar,
    ``costsvc.domain.money.parse_amount``, file form, with a trailing ``%`` for
    percentages), None when blank, else :class:`_Bad`."""
    if raw is None:
        return None
    if isinstance(raw, (int, Decimal, float)) and not isinstance(raw, bool):
        d = to_decimal(raw)
        return d if d is not None else _Bad("is not a finite number")
    if not isinstance(raw, str):
        return _Bad("is not a number")
    text = raw.strip()
    if not text:
        return None
    if percent and text.endswith("%"):
        text = text[:-1].rstrip()
    try:
        return parse_amount(text, places=FILE_AMOUNT_PLACES, file_format=True)
    except AmountSyntaxError as exc:
        return _Bad(exc.reason)


def _amount_error(what: str, raw: object, bad: _Bad, example: str) -> str:
    what = f"{what} " if what else ""
    if "negative" in bad.reason:
        return f"{what}{raw} is negative; expected a number >= 0"
    return f"{what}{raw!r} is not a number ({bad.reason}); expected {example}"


class _Collector:
    """Accumulates records with the dedupe/notes rules; effective date applied at the end."""

    def __init__(
        self,
        file: str,
        program_id: str,
        payer_names: Mapping[str, str],
        billing_codes: frozenset[str] | None,
        keep_all: bool,
        program_levels: Iterable[str] | None = None,
    ):
        self.file = file
        self.program_id = program_id
        self.payers = normalize_payer_names(payer_names) or {}
        self.codes = normalize_filter_codes(billing_codes) if billing_codes is not None else None
        self.keep_all = keep_all
        # The levels the program prices already keep their codes (the file's other codes
        # of such a level would be billed on top); for the levels it lacks, the file's
        # codes of the domain's code -> level map are added.
        if self.codes is None:
            self.missing_levels: frozenset[str] = frozenset()
        else:
            have = set(program_levels) if program_levels is not None else {level_of_code(c) for c in self.codes}
            self.missing_levels = frozenset(level for level in LEVELS_OF_CARE if level not in have)
        self.errors: list[RowError] = []
        self.error_count = 0
        self.stats: Counter[str] = Counter()
        self._notes: dict[str, str] = {}
        self._fee: dict[
            tuple[str, str], list
        ] = {}  # (level, code) -> [code, desc, freq, gross, cash, line, level]
        self._rates: dict[tuple, list] = {}  # (payer_id, code, type, rate) -> [.., line]
        self._unknown_payers: Counter[str] = Counter()
        self._code_cache: dict[tuple, str | None] = {}
        self._variants: dict[str, list] = {}  # code -> [count, first ignored example]
        self._seen_codes: dict[str, None] = {}  # the file's codes, as "CODE (TYPE)", for "no importable rows"

    # -- bookkeeping -------------------------------------------------------------------
    def error(self, line: int | None, column: str | None, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(file=self.file, line=line, column=column, message=message))

    def note(self, key: str, text: str) -> None:
        self._notes.setdefault(key, text)

    def kept_code(self, code: str) -> bool:
        if self.keep_all:
            return True
        if self.codes is None:
            return is_behavioral_code(code)
        return code in self.codes or CODE_LEVELS.get(code) in self.missing_levels

    def payer_id(self, name: object) -> str | None:
        return self.payers.get(payer_name_key(name))

    def looked_for(self) -> str:
        """The codes this parse keeps, in words."""
        if self.keep_all:
            return "every CPT, HCPCS and revenue code"
        if self.codes is None:
            return (
                "the behavioral-health codes (HCPCS H0001-H2037, S9480, S0201, CPT 90785-90899, "
                "revenue codes 0900-0919 and 1000-1005)"
            )
        parts = []
        if self.codes:
            parts.append("the codes the program prices (" + _sample(sorted(self.codes)) + ")")
        extra = sorted(c for c, level in CODE_LEVELS.items() if level in self.missing_levels)
        if extra:
            levels = ", ".join(level for level in LEVELS_OF_CARE if level in self.missing_levels)
            parts.append(f"the codes of the levels it does not price yet ({levels}: {_sample(extra)})")
        return " and ".join(parts) or "no code"

    def nothing_importable(self, rows_read: int) -> str:
        """Why no fee line and no rate came out of the file."""
        kept = self.stats["rows_kept"] + self.stats["rows_with_modifiers_skipped"]
        if kept:
            why = "; ".join(self.notes()) or "their charges were empty"
            return f"no importable rows: {kept} row(s) have a code the import looks for, but {why}"
        seen = list(self._seen_codes)
        if not seen:
            return (
                f"no importable rows: none of the file's {rows_read} row(s) has a code; "
                f"looked for {self.looked_for()}"
            )
        count = f"{len(seen):,}" + ("+" if len(seen) >= _MAX_SEEN_CODES else "")
        return (
            f"no importable rows: none of the file's {count} distinct code(s) is one the import looks for "
            f"(the file has {_sample(seen)}); looked for {self.looked_for()}"
        )

    def choose_code(self, codes: tuple[tuple[object, object], ...]) -> str | None:
        """The one code an item's lines go under (see module doc), or None.  Memoized:
        a file repeats the same few thousand codes over millions of rows."""
        cache = self._code_cache
        try:
            return cache[codes]
        except KeyError:
            pass
        except TypeError:  # unhashable (JSON lists): compute without caching
            return self._choose_code(codes)
        if len(cache) > 200_000:
            cache.clear()
        cache[codes] = found = self._choose_code(codes)
        return found

    def _choose_code(self, codes) -> str | None:
        kept: list[str] = []
        seen = self._seen_codes
        for value, ctype in codes:
            t = str(ctype).strip().upper() if ctype is not None else ""
            if len(seen) < _MAX_SEEN_CODES and value is not None and str(value).strip():
                seen.setdefault(f"{str(value).strip()} ({t or 'no type'})")
            if t not in ("CPT", "HCPCS", "RC", ""):
                continue
            norm = normalize_billing_code(value, t or None)
            if norm is None:
                continue
            if self.kept_code(norm) and control_character_problem(norm) is None:
                kept.append(norm)
        if not kept:
            return None
        for c in kept:
            if not c.startswith("REV:"):
                return c
        return kept[0]

    # -- items ---------------------------------------------------------------------------
    def fee(
        self,
        code: str,
        description: str,
        gross_raw: object,
        cash_raw: object,
        line: int | None,
        gross_col: str,
        cash_col: str,
        description_col: str,
    ) -> None:
        gross = _parse_amount(gross_raw)
        cash = _parse_amount(cash_raw)
        bad = False
        if type(gross) is _Bad:
            self.error(line, gross_col, _amount_error("gross charge", gross_raw, gross, "an amount such as 1250.00"))
            bad = True
        elif isinstance(gross, Decimal) and gross < 0:
            self.error(line, gross_col, f"gross charge {gross_raw} is negative; expected an amount >= 0")
            bad = True
        if type(cash) is _Bad:
            self.error(
                line, cash_col, _amount_error("discounted cash price", cash_raw, cash, "an amount such as 1000.00")
            )
            bad = True
        elif isinstance(cash, Decimal) and cash < 0:
            self.error(
                line, cash_col, f"discounted cash price {cash_raw} is negative; expected an amount >= 0"
            )
            bad = True
        problem = control_character_problem(description)
        if problem:
            self.error(line, description_col, problem)
            bad = True
        if bad:
            return
        level = level_of_code(code)
        if level is None:
            self.stats["fee_lines_without_level"] += 1
            self.note(
                f"level:{code}", f"{code}: no level of care is known for this code; no fee line was made"
            )
            return
        if gross is None:
            self.stats["fee_lines_without_gross"] += 1
            self.note(f"gross:{code}", f"{code}: an item has no gross charge; no fee line was made from it")
            return
        gross_c = gross.quantize(CENT, rounding=ROUND_HALF_UP)  # type: ignore[union-attr]
        cash_c = cash.quantize(CENT, rounding=ROUND_HALF_UP) if isinstance(cash, Decimal) else None
        key = (level, code)
        have = self._fee.get(key)
        if have is None:
            self._fee[key] = [code, description.strip(), frequency_of_code(code), gross_c, cash_c, line, level]
            return
        if have[3] != gross_c or have[4] != cash_c:
            self.stats["fee_line_variants_ignored"] += 1
            v = self._variants.get(code)
            if v is None:
                self._variants[code] = [1, gross_c, cash_c, line, have]
            else:
                v[0] += 1

    def unknown_payer(self, name: str) -> None:
        self._unknown_payers[name] += 1

    def rate(
        self,
        code: str,
        payer_name: object,
        plan_name: object,
        dollar_raw: object,
        pct_raw: object,
        line: int | None,
        dollar_col: str,
        pct_col: str,
    ) -> None:
        if payer_name is None or not str(payer_name).strip():
            return
        payer_id = self.payer_id(payer_name)
        if payer_id is None:
            self.unknown_payer(str(payer_name).strip())
            return
        found = False
        for raw, col, rate_type, pct in (
            (dollar_raw, dollar_col, "dollar", False),
            (pct_raw, pct_col, "percent_of_billed", True),
        ):
            value = _parse_amount(raw, percent=pct)
            if value is None:
                continue
            if type(value) is _Bad:
                example = "a percentage such as 65" if pct else "an amount such as 1250.00"
                self.error(line, col, _amount_error("", raw, value, example))
                continue
            if value < 0:  # type: ignore[operator]
                self.error(line, col, f"{raw} is negative; expected a number >= 0")
                continue
            found = True
            key = (payer_id, code, rate_type, value)
            if key in self._rates:
                self.stats["rates_duplicate"] += 1
                continue
            self._rates[key] = [payer_id, code, rate_type, value, line]
        if not found:
            self.stats["rates_without_amount"] += 1
            self.note(
                "algorithm",
                "payer charges given only as an algorithm (no dollar amount or percentage) were skipped",
            )

    # -- results -------------------------------------------------------------------------
    def finish(self, effective: dt.date) -> tuple[list[FeeLineRecord], list[NegotiatedRateRecord]]:
        fee_lines = [
            FeeLineRecord(
                program_id=self.program_id,
                level_of_care=level,
                billing_code=code,
                description=desc,
                frequency=freq,
                gross_charge=gross,
                cash_price=cash,
                effective_date=effective,
                line=line,
            )
            for code, desc, freq, gross, cash, line, level in self._fee.values()
        ]
        rates = [
            NegotiatedRateRecord(
                payer_id=payer_id,
                billing_code=code,
                rate_type=rate_type,
                rate=value,
                effective_date=effective,
                expiration_date=None,
                program_id=self.program_id,
                line=line,
            )
            for payer_id, code, rate_type, value, line in self._rates.values()
        ]
        return fee_lines, rates

    def notes(self) -> list[str]:
        out = list(self._notes.values())
        for code, (count, gross_c, cash_c, line, have) in self._variants.items():
            first = f"line {have[5]}" if have[5] else "the first item"
            where = f"line {line}" if line else "a later item"
            others = f" and {count - 1} more row(s) with other charges" if count > 1 else ""
            out.append(
                f"{code}: kept gross {have[3]} / cash {have[4]} from {first}; ignored gross {gross_c} / cash "
                f"{cash_c} at {where}{others} (one fee line per code and level)"
            )
        if self._unknown_payers:
            names = ", ".join(sorted(self._unknown_payers)[:10])
            more = len(self._unknown_payers) - 10
            out.append(
                "payers not in payer_names (their charges were skipped): "
                + names
                + (f" and {more} more" if more > 0 else "")
            )
        return out


# ----------------------------------------------------------------------------- entry point


def parse_hpt(
    path: str,
    *,
    program_id: str,
    payer_names: Mapping[str, str],
    billing_codes: frozenset[str] | None,
    program_levels: Iterable[str] | None = None,
    display_name: str | None = None,
    keep_all_codes: bool = False,
    chunksize: int = CHUNK_ROWS,
) -> HptResult:
    """Parse an HPT standard-charges file (CSV tall/wide or JSON, v2/v3, optionally gzip).

    ``payer_names`` maps payer names as the hospital writes them (compared by
    :func:`tariffs.options.payer_name_key`) to our payer ids.  ``billing_codes``: the
    codes the program prices (None: the built-in behavioral set); the codes of the
    domain's code -> level map are kept too for the levels of care the program does not
    price yet (``program_levels``, by default the levels of ``billing_codes``).
    ``keep_all_codes`` keeps every CPT/HCPCS/RC code.  Raises :class:`FileRejected` for
    a file that cannot be read as HPT at all, and for one with nothing to import (no
    fee line, no rate, no row error), saying which codes it had and which were looked
    for."""
    file = display_name_of(path, display_name)
    with open_binary(path, display_name=file) as f:
        head = f.read(4096)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    col = _Collector(file, program_id, payer_names, billing_codes, keep_all_codes, program_levels)
    if text.startswith(b"{"):
        result = _parse_json(path, file, col)
    elif text.startswith(b"["):
        raise reject(
            file, "expected a JSON object with standard_charge_information at the top level, found an array"
        )
    elif not text:
        raise reject(file, "the file is empty; expected an HPT standard-charges CSV or JSON file")
    else:
        result = _parse_csv(path, file, col, chunksize)
    if not result.fee_lines and not result.rates and not result.error_count:
        raise reject(file, col.nothing_importable(result.rows_read))
    return result


# ----------------------------------------------------------------------------- CSV

_FIXED_COLUMNS = (
    "description",
    "standard_charge|gross",
    "standard_charge|discounted_cash",
    "modifiers",
    "payer_name",
    "plan_name",
    "standard_charge|negotiated_dollar",
    "standard_charge|negotiated_percentage",
)
_CODE_COLUMN = re.compile(r"code\|(\d+)(\|type)?")
_WIDE_KINDS = ("negotiated_dollar", "negotiated_percentage")


def _wide_column(name: str) -> tuple[str, str, str] | None:
    """(payer, plan, kind) of a wide layout's ``standard_charge|<payer>|<plan>|<kind>``."""
    parts = name.split("|")
    if len(parts) == 4 and parts[0] == "standard_charge" and parts[3] in _WIDE_KINDS:
        return parts[1], parts[2], parts[3]
    return None


def _parse_csv(path: str, file: str, col: _Collector, chunksize: int) -> HptResult:
    def columns_we_read(header: list[str]) -> list[str]:
        # a wide file may have hundreds of payer columns: only those of mapped payers are read
        wanted = [c for c in header if _CODE_COLUMN.fullmatch(c)]
        wanted += [c for c in header if (w := _wide_column(c)) and col.payer_id(w[0]) is not None]
        return [*_FIXED_COLUMNS, *wanted]

    general: dict[str, str] = {}

    def read_general(preamble: list[tuple[int, list[str]]]) -> None:
        general.update(_general(file, preamble))

    reader = TableReader(
        path,
        required=(),
        display_name=file,
        chunk_rows=chunksize,
        encoding="detect",
        preamble_rows=2,
        normalize=_norm_col,
        select=columns_we_read,
        open_bytes=lambda: open_binary(path, display_name=file),
        check_preamble=read_general,
    )
    raw_date = general.get("last_updated_on", "")
    effective = parse_file_date(raw_date)
    if effective is None:
        raise reject(
            file,
            f"last_updated_on {raw_date!r} is not a date; expected YYYY-MM-DD (or M/D/YYYY)",
            line=reader.preamble[1][0],
            column="last_updated_on",
        )
    layout, codes_cols, wide_payers = _check_header(file, reader)
    written = dict(zip(reader.header, reader.raw_header))  # what row errors name: the header as written
    for payer, *_rest in wide_payers:
        if col.payer_id(payer) is None:
            col.unknown_payer(payer)
    if reader.encoding != "utf-8":
        col.note("encoding", f"the file is not UTF-8; it was read as {reader.encoding}")
    for table in reader:
        _csv_chunk(table, col, layout, codes_cols, wide_payers, written)
    fee_lines, rates = col.finish(effective)
    return HptResult(
        fee_lines=fee_lines,
        rates=rates,
        errors=col.errors,
        rows_read=reader.rows_read,
        hospital_name=general.get("hospital_name") or None,
        version=general.get("version") or None,
        last_updated=effective,
        layout=layout,
        error_count=col.error_count,
        notes=col.notes(),
        stats=dict(col.stats),
        encoding=reader.encoding,
    )


def _general(file: str, preamble: list[tuple[int, list[str]]]) -> dict[str, str]:
    """Rows 1-2: the general data elements' names and their values."""
    (_, names), (_, values) = preamble
    general: dict[str, str] = {}
    for i, name in enumerate(names):
        key = _norm_col(name)
        if key and key not in general:
            general[key] = values[i].strip() if i < len(values) else ""
    if "last_updated_on" not in general and "hospital_name" not in general:
        raise reject(
            file,
            "row 1 must name the general data elements (hospital_name, last_updated_on, version, ...) "
            "and row 2 give their values; row 3 is the header",
            line=1,
        )
    return general


def _check_header(
    file: str, reader: TableReader
) -> tuple[str, list[tuple[str, str]], list[tuple[str, str, str | None, str | None]]]:
    """The layout, the (code, type) column pairs by N, and the wide layout's
    (payer, plan, dollar column, percentage column); missing columns reject the file."""
    cols = reader.header
    present = set(cols)
    numbers: dict[int, set[str]] = {}
    for c in cols:
        m = _CODE_COLUMN.fullmatch(c)
        if m:
            numbers.setdefault(int(m.group(1)), set()).add(c)
    missing = [] if numbers else ["code|1"]
    missing += [c for c in ("description", "standard_charge|gross", "standard_charge|discounted_cash") if c not in present]
    tall = "payer_name" in present
    wide_payers: list[tuple[str, str, str | None, str | None]] = []
    if tall:
        missing += [
            c
            for c in ("plan_name", "standard_charge|negotiated_dollar", "standard_charge|negotiated_percentage")
            if c not in present
        ]
    else:
        groups: dict[tuple[str, str], dict[str, str]] = {}
        for c in cols:
            w = _wide_column(c)
            if w:
                groups.setdefault((w[0], w[1]), {}).setdefault(w[2], c)
        wide_payers = [
            (payer, plan, g.get("negotiated_dollar"), g.get("negotiated_percentage"))
            for (payer, plan), g in groups.items()
        ]
    if missing:
        raise FileRejected(
            [
                RowError(
                    file,
                    reader.header_line,
                    m,
                    f"required column '{m}' is missing from the header row (row {reader.header_line})",
                )
                for m in missing
            ]
        )
    codes_cols = []
    for n in sorted(numbers):
        code_name, type_name = f"code|{n}", f"code|{n}|type"
        if code_name not in numbers[n]:
            continue  # a type without its code: nothing to read
        if type_name not in numbers[n]:
            raise reject(
                file,
                f"column '{type_name}' is missing; every {code_name} needs its type column",
                line=reader.header_line,
                column=type_name,
            )
        codes_cols.append((code_name, type_name))
    return ("csv_tall" if tall else "csv_wide"), codes_cols, wide_payers


def _csv_chunk(
    t: Table,
    col: _Collector,
    layout: str,
    codes_cols: list[tuple[str, str]],
    wide_payers: list[tuple[str, str, str | None, str | None]],
    written: dict[str, str],
) -> None:
    """Process one chunk of data rows; ``written`` maps normalized column names to the
    header text as written (what row errors name)."""

    def column(name: str | None) -> list[str]:
        return t.column(name) if name is not None else [""] * len(t)

    def shown(name: str) -> str:
        return written.get(name, name)

    code_vals = [(column(c), column(ty)) for c, ty in codes_cols]
    desc = column("description")
    gross = column("standard_charge|gross")
    cash = column("standard_charge|discounted_cash")
    mods = column("modifiers")
    if layout == "csv_tall":
        payer = column("payer_name")
        plan = column("plan_name")
        dollar = column("standard_charge|negotiated_dollar")
        pct = column("standard_charge|negotiated_percentage")
    else:
        wide = [
            (pname, plname, column(dc), column(pc), shown(dc) if dc else "", shown(pc) if pc else "")
            for pname, plname, dc, pc in wide_payers
            if col.payer_id(pname) is not None
        ]
    gross_name, cash_name = shown("standard_charge|gross"), shown("standard_charge|discounted_cash")
    dollar_name = shown("standard_charge|negotiated_dollar")
    pct_name = shown("standard_charge|negotiated_percentage")
    desc_name, payer_name_col = shown("description"), shown("payer_name")
    for r, line in enumerate(t.lines):
        code = col.choose_code(tuple([(cv[r], tv[r]) for cv, tv in code_vals]))
        if code is None:
            continue
        if mods[r].strip():
            col.stats["rows_with_modifiers_skipped"] += 1
            col.note(
                "modifiers", "rows with modifiers (a variant or adjustment of a code's charge) were skipped"
            )
            continue
        col.stats["rows_kept"] += 1
        col.fee(code, desc[r], gross[r], cash[r], line, gross_name, cash_name, desc_name)
        if layout == "csv_tall":
            problem = control_character_problem(payer[r])
            if problem:
                col.error(line, payer_name_col, problem)
                continue
            col.rate(code, payer[r], plan[r], dollar[r], pct[r], line, dollar_name, pct_name)
        else:
            for pname, plname, dvals, pvals, dcol, pcol in wide:
                d = dvals[r]
                p = pvals[r]
                if not d.strip() and not p.strip():
                    continue
                col.rate(code, pname, plname, d, p, line, dcol, pcol)


# ----------------------------------------------------------------------------- JSON

_HEADER_KEYS = ("hospital_name", "last_updated_on", "version")
_ITEMS = "standard_charge_information"


def _json_header(path: str, file: str) -> tuple[dict[str, object], str | None]:
    """Top-level scalars, and the first event of standard_charge_information (None when
    absent).  Stops as soon as both are known, normally within the first kilobytes."""
    header: dict[str, object] = {}
    items_event: str | None = None
    reader = open_binary(path, display_name=file)
    with reader:
        try:
            it = ijson.basic_parse(reader, buf_size=BUF_SIZE)
            ev, _ = next(it)
            if ev != "start_map":
                raise reject(file, f"expected a JSON object at the top level, found {describe_event(ev)}")
            for ev, key in it:
                if ev == "end_map":
                    for _ in it:  # trailing garbage is an error
                        pass
                    break
                ev, val = next(it)
                if key == _ITEMS:
                    items_event = ev
                    if all(k in header for k in _HEADER_KEYS):
                        break
                    skip_value(it, ev)
                elif ev in ("start_map", "start_array"):
                    skip_value(it, ev)
                elif key in _HEADER_KEYS:
                    header[key] = val
        except ijson.JSONError as exc:
            raise json_error(reader, exc) from None
    return header, items_event


def _parse_json(path: str, file: str, col: _Collector) -> HptResult:
    header, items_event = _json_header(path, file)
    if items_event is None:
        raise reject(
            file,
            "not an HPT standard-charges file: there is no standard_charge_information array",
            column=_ITEMS,
        )
    if items_event != "start_array":
        raise reject(
            file,
            f"standard_charge_information must be an array, found {describe_event(items_event)}",
            column=_ITEMS,
        )
    raw_date = header.get("last_updated_on")
    effective = parse_file_date(raw_date)
    if effective is None:
        raise reject(
            file,
            f"last_updated_on {raw_date!r} is missing or not a date; expected YYYY-MM-DD",
            column="last_updated_on",
        )
    rows_read = 0
    reader = open_binary(path, display_name=file)
    with reader:
        try:
            # One item at a time, built by the C backend; the whole file is parsed, so
            # a truncated or malformed file is still rejected.
            for i, item in enumerate(ijson.items(reader, _ITEMS + ".item", buf_size=BUF_SIZE)):
                rows_read += 1
                _json_item(col, item, i)
        except ijson.JSONError as exc:
            raise json_error(reader, exc) from None
    fee_lines, rates = col.finish(effective)
    hospital = header.get("hospital_name")
    version = header.get("version")
    return HptResult(
        fee_lines=fee_lines,
        rates=rates,
        errors=col.errors,
        rows_read=rows_read,
        hospital_name=str(hospital) if hospital is not None else None,
        version=str(version) if version is not None else None,
        last_updated=effective,
        layout="json",
        error_count=col.error_count,
        notes=col.notes(),
        stats=dict(col.stats),
    )


def _json_item(col: _Collector, item: object, i: int) -> None:
    base = f"standard_charge_information[{i}]"
    if not isinstance(item, dict):
        col.error(None, base, "expected an object with description, code_information and standard_charges")
        return
    infos = item.get("code_information")
    if not isinstance(infos, list):
        col.error(
            None, f"{base}.code_information", "missing code_information; expected an array of {code, type}"
        )
        return
    code = col.choose_code(tuple((c.get("code"), c.get("type")) for c in infos if isinstance(c, dict)))
    if code is None:
        return
    charges = item.get("standard_charges")
    if not isinstance(charges, list):
        col.error(None, f"{base}.standard_charges", "missing standard_charges; expected an array")
        return
    desc = item.get("description")
    desc = str(desc) if desc is not None else ""
    for k, ch in enumerate(charges):
        path = f"{base}.standard_charges[{k}]"
        if not isinstance(ch, dict):
            col.error(None, path, "expected a standard charge object")
            continue
        if ch.get("modifier_code"):
            col.stats["rows_with_modifiers_skipped"] += 1
            col.note(
                "modifiers",
                "charges with modifiers (a variant or adjustment of a code's charge) were skipped",
            )
            continue
        col.stats["rows_kept"] += 1
        col.fee(
            code,
            desc,
            ch.get("gross_charge"),
            ch.get("discounted_cash"),
            None,
            f"{path}.gross_charge",
            f"{path}.discounted_cash",
            f"{base}.description",
        )
        payers = ch.get("payers_information") or []
        if not isinstance(payers, list):
            col.error(None, f"{path}.payers_information", "expected an array of payer charges")
            continue
        for p_i, p in enumerate(payers):
            if not isinstance(p, dict):
                continue
            ppath = f"{path}.payers_information[{p_i}]"
            col.rate(
                code,
                p.get("payer_name"),
                p.get("plan_name"),
                p.get("standard_charge_dollar"),
                p.get("standard_charge_percentage"),
                None,
                f"{ppath}.standard_charge_dollar",
                f"{ppath}.standard_charge_percentage",
            )
