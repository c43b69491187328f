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
Read with pandas in chunks (``dtype=str``, ``keep_default_na=False``,
``encoding="utf-8-sig"``): memory is bounded by a chunk plus the kept records.
``RowError.line`` is the line a text editor shows (header = line 3, first data row
= line 4); when quoted values span lines the numbers are recomputed at the end with
the ``csv`` module so they stay exact.

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
* Kept codes: ``billing_codes`` when given (the codes the programs' fee schedules
  price), else :func:`is_default_behavioral_code` (H0001–H2037, S9480, S0201,
  CPT 90785–90899, revenue codes 0900–0919 and 1000–1005); ``keep_all_codes=True``
  keeps every CPT/HCPCS/RC code (rates only get a fee line when a level is known).
* An item with several kept codes (e.g. ``0906`` RC and ``H0015`` HCPCS) yields its
  lines under **one** code — the first CPT/HCPCS one, else the first revenue code —
  because the estimate engine bills every fee line of a level: the same service
  under two codes would be billed twice.
* Fee lines: level of care from :func:`level_of_care` (codes without a known level
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
* A value that is present but not a number (``$`` and thousands separators are
  accepted, and ``%`` for percentages) or negative is a :class:`RowError`; blank
  values are simply absent.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

import ijson
import msgspec
import pandas as pd

from tariffs.records import FeeLineRecord, FileRejected, NegotiatedRateRecord, RowError
from tariffs.sources import (
    describe_event,
    display_name_of,
    json_error,
    normalize_billing_code,
    open_binary,
    parse_file_date,
    skip_value,
    to_decimal,
)
from tariffs.tabular.reader import field_count_mismatch
from tariffs.tic import BUF_SIZE, MAX_ERRORS, normalize_filter_codes

__all__ = [
    "HptResult",
    "frequency_of",
    "is_default_behavioral_code",
    "level_of_care",
    "parse_hpt",
]

CENT = Decimal("0.01")
# Row 1 of an HPT CSV holds the attestation sentence, and cells may hold long
# contract provisions: allow fields up to 64 MiB (the default limit is 128 KiB).
csv.field_size_limit(max(csv.field_size_limit(), 1 << 26))
CHUNK_ROWS = 50_000
FIRST_DATA_LINE = 4  # rows 1-2 general data, row 3 header

# ----------------------------------------------------------------------------- codes

_IOP = {"H0015", "S9480", "REV:0905", "REV:0906"}
_PHP = {"H0035", "S0201", "REV:0912", "REV:0913"}
_RESIDENTIAL = {"H0017", "H0018", "H0019", "REV:1001", "REV:1002"}
_DETOX = {"H0009", "H0010", "H0011"}
_PER_EPISODE = {"90791", "90792"}
_H_CODE = re.compile(r"^H(\d{4})$")
_CPT_90 = re.compile(r"^90\d{3}$")


def is_default_behavioral_code(code: str) -> bool:
    """The built-in behavioral-health code set (our code form)."""
    m = _H_CODE.match(code)
    if m:
        return 1 <= int(m.group(1)) <= 2037
    if code in ("S9480", "S0201"):
        return True
    if code.isdigit() and len(code) == 5:
        return 90785 <= int(code) <= 90899
    if code.startswith("REV:"):
        n = int(code[4:])
        return 900 <= n <= 919 or 1000 <= n <= 1005
    return False


def level_of_care(code: str) -> str | None:
    """The level of care a code prices, or None when the code alone does not say."""
    if code in _IOP:
        return "iop"
    if code in _PHP:
        return "php"
    if code in _RESIDENTIAL:
        return "residential"
    if code in _DETOX:
        return "detox"
    if _CPT_90.match(code):
        return "outpatient"
    return None


def frequency_of(code: str) -> str:
    return "per_episode" if code in _PER_EPISODE else "per_service"


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


def _norm_col(name: object) -> str:
    """Header normalization: lower-case, stripped, no whitespace around ``|``."""
    return re.sub(r"\s*\|\s*", "|", str(name).replace("\ufeff", "").strip()).lower()


def _parse_amount(raw: object, *, percent: bool = False) -> Decimal | None | str:
    """Decimal, None when blank, or the string "invalid"."""
    if raw is None:
        return None
    if isinstance(raw, (int, Decimal, float)) and not isinstance(raw, bool):
        d = to_decimal(raw)
        return d if d is not None else "invalid"
    if not isinstance(raw, str):
        return "invalid"
    text = raw.strip()
    if not text:
        return None
    text = text.replace("$", "").replace(",", "").strip()
    if percent:
        text = text.rstrip("%").strip()
    d = to_decimal(text)
    return d if d is not None else "invalid"


class _Collector:
    """Accumulates records with the dedupe/notes rules; effective date applied at the end."""

    def __init__(
        self,
        file: str,
        program_id: str,
        payer_names: Mapping[str, str],
        billing_codes: frozenset[str] | None,
        keep_all: bool,
    ):
        self.file = file
        self.program_id = program_id
        self.payers = {str(k).strip().lower(): v for k, v in payer_names.items()}
        self.codes = normalize_filter_codes(billing_codes) if billing_codes is not None else None
        self.keep_all = keep_all
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

    # -- bookkeeping -------------------------------------------------------------------
    def error(self, line: int | None, column: str | None, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(file=self.file, line=line, column=column, message=message))

    def note(self, key: str, text: str) -> None:
        self._notes.setdefault(key, text)

    def kept_code(self, code: str) -> bool:
        if self.codes is not None and not self.keep_all:
            return code in self.codes
        if self.keep_all:
            return True
        return is_default_behavioral_code(code)

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
        for value, ctype in codes:
            t = str(ctype).strip().upper() if ctype is not None else ""
            if t not in ("CPT", "HCPCS", "RC", ""):
                continue
            norm = normalize_billing_code(value, t or None)
            if norm is None:
                continue
            if self.kept_code(norm):
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
    ) -> None:
        gross = _parse_amount(gross_raw)
        cash = _parse_amount(cash_raw)
        bad = False
        if gross == "invalid":
            self.error(
                line,
                gross_col,
                f"gross charge {gross_raw!r} is not a number; expected an amount such as 1250.00",
            )
            bad = True
        elif isinstance(gross, Decimal) and gross < 0:
            self.error(line, gross_col, f"gross charge {gross_raw} is negative; expected an amount >= 0")
            bad = True
        if cash == "invalid":
            self.error(
                line,
                cash_col,
                f"discounted cash price {cash_raw!r} is not a number; expected an amount such as 1000.00",
            )
            bad = True
        elif isinstance(cash, Decimal) and cash < 0:
            self.error(
                line, cash_col, f"discounted cash price {cash_raw} is negative; expected an amount >= 0"
            )
            bad = True
        if bad:
            return
        level = level_of_care(code)
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
            self._fee[key] = [code, description.strip(), frequency_of(code), gross_c, cash_c, line, level]
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
        name = str(payer_name).strip().lower() if payer_name is not None else ""
        if not name:
            return
        payer_id = self.payers.get(name)
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
            if value == "invalid":
                self.error(
                    line,
                    col,
                    f"{raw!r} is not a number; expected "
                    + ("a percentage such as 65" if pct else "an amount such as 1250.00"),
                )
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


def _reject(file: str, message: str, *, line: int | None = None, column: str | None = None) -> FileRejected:
    return FileRejected([RowError(file=file, line=line, column=column, message=message)])


# ----------------------------------------------------------------------------- entry point


def parse_hpt(
    path: str,
    *,
    program_id: str,
    payer_names: Mapping[str, str],
    billing_codes: frozenset[str] | None,
    display_name: str | None = None,
    keep_all_codes: bool = False,
    chunksize: int = CHUNK_ROWS,
) -> HptResult:
    """Parse an HPT standard-charges file (CSV tall/wide or JSON, v2/v3, optionally gzip).

    ``payer_names`` maps payer names as the hospital writes them (compared lower-cased)
    to our payer ids; ``billing_codes`` limits the codes kept (None: the built-in
    behavioral set); ``keep_all_codes`` keeps every CPT/HCPCS/RC code.  Raises
    :class:`FileRejected` for a file that cannot be read as HPT at all."""
    file = display_name_of(path, display_name)
    with open_binary(path, display_name=file) as f:
        head = f.read(4096)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    col = _Collector(file, program_id, payer_names, billing_codes, keep_all_codes)
    if text.startswith(b"{"):
        return _parse_json(path, file, col)
    if text.startswith(b"["):
        raise _reject(
            file, "expected a JSON object with standard_charge_information at the top level, found an array"
        )
    if not text:
        raise _reject(file, "the file is empty; expected an HPT standard-charges CSV or JSON file")
    return _parse_csv(path, file, col, chunksize)


# ----------------------------------------------------------------------------- CSV


def _read_general(path: str, file: str) -> tuple[dict[str, str], int]:
    """Rows 1-2 (names → values) and the physical line the header row starts on."""
    with open_binary(path, display_name=file) as f:
        text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        rows: list[list[str]] = []
        try:
            for row in reader:
                if not row:
                    continue
                rows.append(row)
                if len(rows) == 2:
                    break
            header_line = reader.line_num + 1
        except UnicodeDecodeError as exc:
            raise _reject(file, f"the file is not UTF-8 text ({exc.reason} near byte {exc.start})") from None
        except csv.Error as exc:
            raise _reject(file, f"rows 1-2 are not valid CSV: {exc}", line=reader.line_num) from None
    if len(rows) < 2:
        raise _reject(
            file,
            "expected rows 1-2 with the general data elements (hospital_name, last_updated_on, "
            "version, ...) and a header row 3",
            line=1,
        )
    names, values = rows
    general: dict[str, str] = {}
    for i, name in enumerate(names):
        key = _norm_col(name)
        if key and key not in general:
            general[key] = values[i].strip() if i < len(values) else ""
    return general, header_line


def _code_columns(cols: list[str]) -> list[tuple[int, int | None, str, str]]:
    """[(code column index, type column index or None, code name, type name)] by N."""
    code_idx: dict[int, int] = {}
    type_idx: dict[int, int] = {}
    for i, c in enumerate(cols):
        m = re.fullmatch(r"code\|(\d+)", c)
        if m:
            code_idx.setdefault(int(m.group(1)), i)
            continue
        m = re.fullmatch(r"code\|(\d+)\|type", c)
        if m:
            type_idx.setdefault(int(m.group(1)), i)
    return [(code_idx[n], type_idx.get(n), f"code|{n}", f"code|{n}|type") for n in sorted(code_idx)]


def _parse_csv(path: str, file: str, col: _Collector, chunksize: int) -> HptResult:
    general, header_line = _read_general(path, file)
    if "last_updated_on" not in general and "hospital_name" not in general:
        raise _reject(
            file,
            "row 1 must name the general data elements (hospital_name, last_updated_on, version, ...) "
            "and row 2 give their values; row 3 is the header",
            line=1,
        )
    raw_date = general.get("last_updated_on", "")
    effective = parse_file_date(raw_date)
    if effective is None:
        raise _reject(
            file,
            f"last_updated_on {raw_date!r} is not a date; expected YYYY-MM-DD (or M/D/YYYY)",
            line=2,
            column="last_updated_on",
        )
    hospital = general.get("hospital_name") or None
    version = general.get("version") or None

    rows_read = 0
    layout = ""
    idx: dict[str, int] = {}
    codes_cols: list = []
    wide_payers: list[tuple[str, str, int | None, int | None, str, str]] = []
    with open_binary(path, display_name=file) as f:
        try:
            chunks = pd.read_csv(
                f,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                encoding="utf-8-sig",
                skiprows=2,
                chunksize=chunksize,
            )
            first = True
            for chunk in chunks:
                if first:
                    first = False
                    orig = [str(c).replace("\ufeff", "").strip() for c in chunk.columns]
                    cols = [_norm_col(c) for c in orig]
                    for i, c in enumerate(cols):
                        idx.setdefault(c, i)
                    layout, codes_cols, wide_payers = _check_header(file, cols, idx, header_line, orig)
                    names = {c: orig[i] for c, i in idx.items()}
                    for pname, *_rest in wide_payers:
                        if pname not in col.payers:
                            col.unknown_payer(pname)
                rows_read += _csv_chunk(
                    chunk, rows_read, col, layout, idx, codes_cols, wide_payers, header_line, names
                )
            if first:
                raise _reject(file, "row 3 must be the header row of the standard charges", line=header_line)
        except pd.errors.EmptyDataError:
            raise _reject(
                file, "row 3 must be the header row of the standard charges", line=header_line
            ) from None
        except pd.errors.ParserError as exc:
            msg = str(exc).strip()
            counts = field_count_mismatch(msg)
            if counts:
                expected, line, saw = counts
                # pandas counts lines from the start of the file (skipped rows included)
                raise _reject(
                    file, f"this row has {saw} fields but the header has {expected}", line=line
                ) from None
            raise _reject(file, f"not a valid CSV file: {msg}") from None
        except UnicodeDecodeError as exc:
            raise _reject(
                file, f"the file is not UTF-8 text ({exc.reason}) (read up to {f.where()})"
            ) from None
    if rows_read == 0:
        col.note("empty", "the file has a header but no data rows")
    fee_lines, rates = col.finish(effective)
    result = HptResult(
        fee_lines=fee_lines,
        rates=rates,
        errors=col.errors,
        rows_read=rows_read,
        hospital_name=hospital,
        version=version,
        last_updated=effective,
        layout=layout,
        error_count=col.error_count,
        notes=col.notes(),
        stats=dict(col.stats),
    )
    _fix_line_numbers(path, file, result, header_line)
    return result


def _check_header(file: str, cols: list[str], idx: dict[str, int], header_line: int, orig: list[str]):
    codes_cols = _code_columns(cols)
    missing = []
    if not codes_cols:
        missing.append("code|1")
    for need in ("description", "standard_charge|gross", "standard_charge|discounted_cash"):
        if need not in idx:
            missing.append(need)
    tall = "payer_name" in idx
    wide_payers: list[tuple[str, str, int | None, int | None, str, str]] = []
    if tall:
        for need in (
            "plan_name",
            "standard_charge|negotiated_dollar",
            "standard_charge|negotiated_percentage",
        ):
            if need not in idx:
                missing.append(need)
    else:
        groups: dict[tuple[str, str], dict[str, int]] = {}
        for i, c in enumerate(cols):
            parts = c.split("|")
            if (
                len(parts) == 4
                and parts[0] == "standard_charge"
                and parts[3] in ("negotiated_dollar", "negotiated_percentage")
            ):
                groups.setdefault((parts[1], parts[2]), {}).setdefault(parts[3], i)
        for (payer, plan), g in groups.items():
            wide_payers.append(
                (
                    payer,
                    plan,
                    g.get("negotiated_dollar"),
                    g.get("negotiated_percentage"),
                    orig[g["negotiated_dollar"]] if "negotiated_dollar" in g else "",
                    orig[g["negotiated_percentage"]] if "negotiated_percentage" in g else "",
                )
            )
    if missing:
        raise FileRejected(
            [
                RowError(
                    file, header_line, m, f"required column '{m}' is missing from the header row (row 3)"
                )
                for m in missing
            ]
        )
    for _ci, ti, cname, tname in codes_cols:
        if ti is None:
            raise _reject(
                file,
                f"column '{tname}' is missing; every {cname} needs its type column",
                line=header_line,
                column=tname,
            )
    return ("csv_tall" if tall else "csv_wide"), codes_cols, wide_payers


def _csv_chunk(
    chunk: pd.DataFrame,
    offset: int,
    col: _Collector,
    layout: str,
    idx: dict[str, int],
    codes_cols,
    wide_payers,
    header_line: int,
    names: dict[str, str],
) -> int:
    """Process one chunk of data rows; ``names`` maps normalized column names to the
    header text as written (what row errors name)."""
    n = len(chunk)
    if n == 0:
        return 0

    def at(i: int | None) -> list:
        # na_filter=False: missing trailing fields are "" already, never NaN
        return chunk.iloc[:, i].tolist() if i is not None else [""] * n

    def column(name: str) -> list:
        return at(idx.get(name))

    code_vals = [(at(ci), at(ti)) for ci, ti, _c, _t in codes_cols]
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
        # only the payers we map: a wide file may have hundreds of payer columns
        wide = [
            (pname, plname, at(di), at(pi), dcol, pcol)
            for pname, plname, di, pi, dcol, pcol in wide_payers
            if pname in col.payers
        ]
    gross_name = names.get("standard_charge|gross", "standard_charge|gross")
    cash_name = names.get("standard_charge|discounted_cash", "standard_charge|discounted_cash")
    dollar_name = names.get("standard_charge|negotiated_dollar", "standard_charge|negotiated_dollar")
    pct_name = names.get("standard_charge|negotiated_percentage", "standard_charge|negotiated_percentage")
    first_line = header_line + 1 + offset
    for r in range(n):
        line = first_line + r
        code = col.choose_code(tuple([(cv[r], tv[r]) for cv, tv in code_vals]))
        if code is None:
            continue
        if str(mods[r]).strip():
            col.stats["rows_with_modifiers_skipped"] += 1
            col.note(
                "modifiers", "rows with modifiers (a variant or adjustment of a code's charge) were skipped"
            )
            continue
        col.stats["rows_kept"] += 1
        col.fee(code, str(desc[r]), gross[r], cash[r], line, gross_name, cash_name)
        if layout == "csv_tall":
            col.rate(code, payer[r], plan[r], dollar[r], pct[r], line, dollar_name, pct_name)
        else:
            for pname, plname, dvals, pvals, dcol, pcol in wide:
                d = dvals[r]
                p = pvals[r]
                if not d.strip() and not p.strip():
                    continue
                col.rate(code, pname, plname, d, p, line, dcol, pcol)
    return n


def _fix_line_numbers(path: str, file: str, result: HptResult, header_line: int) -> None:
    """Line numbers were computed as one line per record; if the file has quoted values
    spanning lines (or blank lines), recompute them exactly with the csv module."""
    newlines = 0
    last = b""
    with open_binary(path, display_name=file) as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            newlines += block.count(b"\n")
            last = block[-1:]
    physical = newlines + (0 if last in (b"\n", b"") else 1)
    if physical == header_line + result.rows_read:
        return  # one record per line: the numbers are exact
    starts: list[int] = []  # start line of each data record, in order
    with open_binary(path, display_name=file) as f:
        text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        seen = 0
        prev_end = 0
        for row in reader:
            start = prev_end + 1
            prev_end = reader.line_num
            if not row:
                continue  # pandas skips blank lines too
            seen += 1
            if seen > 3:
                starts.append(start)
    if not starts:
        return

    def remap(line: int | None) -> int | None:
        if line is None:
            return None
        k = line - (header_line + 1)
        return starts[k] if 0 <= k < len(starts) else line

    result.fee_lines = [msgspec.structs.replace(r, line=remap(r.line)) for r in result.fee_lines]
    result.rates = [msgspec.structs.replace(r, line=remap(r.line)) for r in result.rates]
    result.errors = [
        RowError(e.file, remap(e.line) if e.line and e.line > header_line else e.line, e.column, e.message)
        for e in result.errors
    ]
    result.notes = [
        re.sub(r"\bline (\d+)\b", lambda m: f"line {remap(int(m.group(1)))}", n) for n in result.notes
    ]


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
                raise _reject(file, f"expected a JSON object at the top level, found {describe_event(ev)}")
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
        raise _reject(
            file,
            "not an HPT standard-charges file: there is no standard_charge_information array",
            column=_ITEMS,
        )
    if items_event != "start_array":
        raise _reject(
            file,
            f"standard_charge_information must be an array, found {describe_event(items_event)}",
            column=_ITEMS,
        )
    raw_date = header.get("last_updated_on")
    effective = parse_file_date(raw_date)
    if effective is None:
        raise _reject(
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
