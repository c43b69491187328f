"""CMS Transparency in Coverage (TiC) **in-network rates** files → negotiated rates.

Real files are tens of gigabytes, so the parser streams them with ijson's C backend
(``yajl2_c``) event by event and never builds an ``in_network`` item, let alone the
file, in memory.  What it keeps in memory:

* the provider reference groups that *match the filter* (group id → the matched
  (npi, tin) pairs; a handful of entries), plus, for remote references
  (``location`` URLs), the id → (index, URL) map until they are resolved;
* one ``negotiated_rates`` entry at a time (its provider ids and its prices);
* the records already produced (for de-duplication) — proportional to the *kept*
  rates, i.e. our programs × behavioral codes, not to the file.

Two passes
----------
``provider_references`` may come before or after ``in_network`` in the byte stream.
Pass 1 reads the whole file: the header (``last_updated_on``, plan fields,
``reporting_plans``), the provider references, and ``in_network``.  When the
references came first (the usual case) everything is done in pass 1.  When
``in_network`` came first, pass 1 still handles rates with inline
``provider_groups`` (schema 1.x) and notes whether any rate of a kept billing code
uses ``provider_references``; only then does pass 2 re-read the file for those rates,
now that the matching groups are known.  Items whose billing code is not kept are
skipped without looking inside them, in both passes.

Mapping
-------
* billing code: upper-cased; revenue codes (``billing_code_type`` ``RC``) in our
  form ``REV:0906`` (4 digits, zero-padded); kept when in ``keep.billing_codes``
  (compared upper-cased, ``REV:`` forms normalized too).
* provider group kept when one of its NPIs is in ``keep.npis`` (one record per such
  NPI, with the group's TIN) or else when its TIN is in ``keep.tins`` (one record
  with ``npi=None``).  TINs are compared as digits only (``12-3456789`` ==
  ``123456789``).  A TIN of type ``npi`` (a sole provider's NPI standing in for an
  SSN) is matched against ``keep.npis`` and reported as ``npi``.
* ``negotiated_type`` ``negotiated`` / ``fee schedule`` / ``per diem`` → ``dollar``;
  ``percentage`` → ``percent_of_billed``; ``derived`` is skipped: per the CMS guide a
  derived amount is "the price that a plan or issuer assigns to an item or service
  for the purpose of internal accounting, reconciliation with providers or
  submitting data" — not what the member's cost sharing is computed from.
* ``expiration_date`` ``9999-12-31`` (the CMS convention for "none") → None.
* effective date: the file's ``last_updated_on`` (TiC prices carry no start date).

Errors
------
A file that is not JSON, is truncated, or does not have the TiC shape (a top-level
object with an ``in_network`` array) raises :class:`FileRejected` naming the byte
position.  Problems in an item that *would be kept* (missing billing code,
non-numeric or non-positive rate, unknown negotiated type, bad date, unresolvable
remote provider reference) are recorded in ``reader.errors`` as :class:`RowError`
with the JSON path as column (``in_network[12].negotiated_rates[0]
.negotiated_prices[1].negotiated_rate``) and ``line=None``.  Items that are filtered
out are not validated: a payer's 40 GB file should not fail on a malformed price of
a knee replacement we never import.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import BinaryIO

import ijson
import msgspec
from ijson.common import ObjectBuilder

from tariffs.records import FileRejected, NegotiatedRateRecord, PlanListing
from tariffs.sources import (
    CountingReader,
    describe_event,
    json_error,
    open_stream,
    parse_file_date,
    skip_value,
    to_decimal,
)
from tariffs.tic_json import BUF_SIZE, Events, TicJsonReader

__all__ = [
    "TicFilter",
    "TicInNetworkReader",
    "iter_in_network",
    "normalize_tin",
]

NO_EXPIRATION = "9999-12-31"

RATE_TYPES = {
    "negotiated": "dollar",
    "fee schedule": "dollar",
    "per diem": "dollar",
    "percentage": "percent_of_billed",
}
SKIPPED_TYPES = {"derived"}

ProviderResolver = Callable[[str], "BinaryIO | None"]
Pair = tuple["str | None", "str | None"]

_FIRST, _ALL, _REFS_ONLY = "first", "all", "refs_only"


class TicFilter(msgspec.Struct, frozen=True):
    """What to keep from a payer file: rates of these billing codes (our form:
    ``H0015``, ``90837``, ``REV:0906``) for providers with one of these NPIs or TINs."""

    npis: frozenset[str]
    tins: frozenset[str]
    billing_codes: frozenset[str]


# ----------------------------------------------------------------------------- helpers


def normalize_tin(value: object) -> str | None:
    """Digits only (``12-3456789`` → ``123456789``); None when there are none."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", str(value))
    return digits or None


def _as_int_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _build(it: Iterator[tuple[str, object]], event: str, value: object) -> object:
    """Build a (small) value whose first event was ``event`` into Python objects."""
    if event != "start_map" and event != "start_array":
        return value
    builder = ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for ev, val in it:
        builder.event(ev, val)
        if ev == "start_map" or ev == "start_array":
            depth += 1
        elif ev == "end_map" or ev == "end_array":
            depth -= 1
            if not depth:
                break
    return builder.value


def _scalars_of_object(it: Iterator[tuple[str, object]]) -> dict[str, object]:
    """Read an object (its start_map already consumed) keeping only scalar members."""
    out: dict[str, object] = {}
    key = None
    for ev, val in it:
        if ev == "map_key":
            key = val
        elif ev == "end_map":
            return out
        elif ev == "start_map" or ev == "start_array":
            skip_value(it, ev)
        else:
            out[key] = val  # type: ignore[index]
    return out


# ----------------------------------------------------------------------------- the reader


class TicInNetworkReader(TicJsonReader):
    """Iterate over the kept rates (and the plans) of a TiC in-network file.

    ``for rec in reader`` yields :class:`NegotiatedRateRecord` and
    :class:`PlanListing`; afterwards ``reader.errors`` holds the row errors (at most
    :data:`MAX_ERRORS`; ``reader.error_count`` counts all), ``reader.rows_read`` the
    number of ``in_network`` items read, ``reader.passes`` 1 or 2 and
    ``reader.stats`` a few counters.  Iterating again re-reads the file."""

    def __init__(
        self,
        path: str,
        *,
        payer_id: str,
        keep: TicFilter,
        display_name: str | None = None,
        provider_reference_resolver: ProviderResolver | None = None,
    ):
        super().__init__(path, payer_id=payer_id, billing_codes=keep.billing_codes, display_name=display_name)
        self.keep = keep
        self.resolver = provider_reference_resolver
        self._npis = frozenset(str(n).strip() for n in keep.npis if str(n).strip())
        self._npi_ints = frozenset(int(n) for n in self._npis if n.isdigit())
        self._tins = frozenset(t for t in (normalize_tin(x) for x in keep.tins) if t)
        self._reset()

    kind = "TiC in-network"

    def _reset(self) -> None:
        self._reset_counts()
        self.passes = 0
        self.last_updated_on: dt.date | None = None
        self.version: str | None = None
        self.reporting_entity_name: str | None = None
        self._header: dict[str, object] = {}
        self._plans: list[PlanListing] = []
        self._refs: dict[int, tuple[Pair, ...]] = {}
        self._remote: dict[int, tuple[int, str]] = {}
        self._refs_seen = False
        self._need_pass2 = False
        self._seen: set[tuple] = set()
        self._pending: list[tuple] = []  # records waiting for last_updated_on

    # -- iteration ---------------------------------------------------------------------
    def __iter__(self) -> Iterator[NegotiatedRateRecord | PlanListing]:
        self._reset()
        yield from self._run_pass(_FIRST)
        if self._need_pass2:
            # pass 2 re-reads the items: keep pass 1's counts of them
            counted = {k: self.stats[k] for k in ("items_skipped", "items_kept", "rates_read")}
            yield from self._run_pass(_REFS_ONLY)
            for key, value in counted.items():
                self.stats[key] = value

    def _run_pass(self, mode: str) -> Iterator[NegotiatedRateRecord | PlanListing]:
        self.passes += 1
        with self._events() as (reader, it):
            yield from self._pass(reader, it, mode)

    def _pass(self, reader: CountingReader, it: Events, mode: str) -> Iterator[NegotiatedRateRecord | PlanListing]:
        seen_in_network = False
        for key, ev, val in self._members(it):
            if key == "in_network":
                self._require_array(reader, ev, "in_network")
                seen_in_network = True
                item_mode = mode
                if mode == _FIRST:
                    item_mode = _ALL if self._refs_seen else _FIRST
                    self.stats["in_network_before_provider_references"] = int(not self._refs_seen)
                yield from self._in_network(it, item_mode)
            elif mode != _FIRST:
                skip_value(it, ev)
            elif key == "provider_references":
                self._require_array(reader, ev, "provider_references")
                self._read_provider_references(it)
                self._refs_seen = True
            elif key == "reporting_plans":
                self._read_reporting_plans(it, ev, val)
            elif ev == "start_map" or ev == "start_array":
                skip_value(it, ev)
            else:
                self._header[key] = val  # type: ignore[index]
                if key == "last_updated_on" and self.last_updated_on is None:
                    self.last_updated_on = parse_file_date(val)
                    yield from self._flush_pending()
        if mode != _FIRST:
            return
        if not seen_in_network:
            raise self._reject("not a TiC in-network file: there is no in_network array", column="in_network")
        raw_date = self._header.get("last_updated_on")
        if self.last_updated_on is None:
            raise self._reject(
                "last_updated_on is missing or not a date; expected YYYY-MM-DD"
                + (f", found {raw_date!r}" if raw_date is not None else ""),
                column="last_updated_on",
            )
        version = self._header.get("version")
        self.version = str(version) if version is not None else None
        name = self._header.get("reporting_entity_name")
        self.reporting_entity_name = str(name) if name is not None else None
        yield from self._flush_pending()
        yield from self._plan_listings()
        if self._need_pass2 and not self._refs_seen:
            self._need_pass2 = False
            self._error(
                "provider_references",
                "negotiated rates refer to provider_references but the file has no provider_references array",
            )

    # -- header parts ------------------------------------------------------------------
    def _read_reporting_plans(self, it, ev, val) -> None:
        plans = _build(it, ev, val)
        if not isinstance(plans, list):
            self._error("reporting_plans", f"expected an array of plans, found {describe_event(ev)}")
            return
        for i, plan in enumerate(plans):
            if not isinstance(plan, dict) or not plan.get("plan_name"):
                self._error(f"reporting_plans[{i}].plan_name", "missing plan_name; expected a string")
                continue
            self._plans.append(self._plan_listing(plan))

    @staticmethod
    def _plan_listing(d: dict) -> PlanListing:
        def s(key: str) -> str | None:
            v = d.get(key)
            return str(v).strip() if v is not None and str(v).strip() else None

        return PlanListing(
            plan_name=str(d["plan_name"]).strip(),
            plan_id=s("plan_id"),
            plan_id_type=s("plan_id_type"),
            plan_market_type=s("plan_market_type"),
        )

    def _plan_listings(self) -> Iterator[PlanListing]:
        yield from self._plans
        if self._header.get("plan_name"):
            yield self._plan_listing(self._header)

    # -- provider groups ---------------------------------------------------------------
    def _match_group(self, npis: list[object], tin_type: object, tin_value: object) -> list[Pair]:
        """The (npi, tin) pairs a provider group contributes."""
        ttype = str(tin_type).strip().lower() if tin_type is not None else "ein"
        pairs: list[Pair] = []
        if ttype == "npi":
            tin_npi = str(tin_value).strip() if tin_value is not None else ""
            tin = None
        else:
            tin_npi = ""
            tin = normalize_tin(tin_value)
        for n in npis:
            pairs.append((str(n), tin))
        if not pairs and tin_npi and tin_npi in self._npis:
            pairs.append((tin_npi, None))
        if not pairs and tin is not None and tin in self._tins:
            pairs.append((None, tin))
        return pairs

    def _read_group(self, it) -> list[Pair]:
        """One provider group object (start_map consumed): matched pairs only."""
        npis: list[object] = []
        tin_type = tin_value = None
        npi_ints, npi_strs = self._npi_ints, self._npis
        for ev, key in it:
            if ev == "end_map":
                break
            ev, _val = next(it)
            if key == "npi" and ev == "start_array":
                for ev2, v in it:
                    if ev2 == "number":
                        if v in npi_ints and type(v) is int:
                            npis.append(v)
                        elif type(v) is not int and str(v) in npi_strs:
                            npis.append(str(v))
                    elif ev2 == "string":
                        if v.strip() in npi_strs:  # type: ignore[union-attr]
                            npis.append(v.strip())  # type: ignore[union-attr]
                    elif ev2 == "end_array":
                        break
                    else:
                        skip_value(it, ev2)
            elif key == "tin" and ev == "start_map":
                tin = _scalars_of_object(it)
                tin_type, tin_value = tin.get("type"), tin.get("value")
            else:
                skip_value(it, ev)
        return self._match_group(npis, tin_type, tin_value)

    def _read_groups_array(self, it) -> list[Pair]:
        """An array of provider groups (start_array consumed)."""
        pairs: list[Pair] = []
        for ev, _ in it:
            if ev == "start_map":
                pairs.extend(self._read_group(it))
            elif ev == "end_array":
                break
            else:
                skip_value(it, ev)
        return pairs

    def _read_provider_references(self, it) -> None:
        """The top-level provider_references array (start_array consumed)."""
        index = -1
        for ev, _ in it:
            if ev == "end_array":
                break
            index += 1
            if ev != "start_map":
                skip_value(it, ev)
                self._error(
                    f"provider_references[{index}]", f"expected an object, found {describe_event(ev)}"
                )
                continue
            gid: int | None = None
            raw_gid: object = None
            location: str | None = None
            pairs: list[Pair] | None = None
            for ev2, key in it:
                if ev2 == "end_map":
                    break
                ev3, val = next(it)
                if key == "provider_group_id":
                    raw_gid = val
                    gid = _as_int_id(val)
                    skip_value(it, ev3)
                elif key == "provider_groups" and ev3 == "start_array":
                    pairs = self._read_groups_array(it)
                elif key == "location" and ev3 == "string":
                    location = val  # type: ignore[assignment]
                else:
                    skip_value(it, ev3)
            self.stats["provider_references"] += 1
            if gid is None:
                # Only worth an error when the group would matter to us.
                if pairs:
                    self._error(
                        f"provider_references[{index}].provider_group_id",
                        f"expected an integer provider_group_id, found {raw_gid!r}",
                    )
                continue
            if pairs is not None:
                if pairs:
                    self._refs[gid] = tuple(dict.fromkeys(pairs))
                    self.stats["provider_references_matched"] += 1
            elif location:
                self._remote[gid] = (index, location)
                self.stats["provider_references_remote"] += 1

    def _ref_pairs(self, gid: int) -> tuple[Pair, ...]:
        """Matched pairs of a provider reference id; resolves remote ones (once)."""
        pairs = self._refs.get(gid)
        if pairs is not None:
            return pairs
        remote = self._remote.pop(gid, None)
        if remote is None:
            return ()
        index, location = remote
        pairs = tuple(dict.fromkeys(self._resolve_remote(index, location)))
        self._refs[gid] = pairs
        return pairs

    def _resolve_remote(self, index: int, location: str) -> list[Pair]:
        column = f"provider_references[{index}].location"
        stream = None
        problem = None
        if self.resolver is not None:
            try:
                stream = self.resolver(location)
            except FileRejected:
                raise
            except Exception as exc:  # noqa: BLE001 - a resolver failure is a row problem, not a crash
                problem = f"{type(exc).__name__}: {exc}"
        if stream is None:
            self.stats["remote_references_unresolved"] += 1
            self._error(
                column,
                f"remote provider reference not resolvable: {location}"
                + (f" ({problem})" if problem else " (expected a file from the same upload batch)"),
            )
            return []
        name = location.rsplit("/", 1)[-1] or location
        pairs: list[Pair] = []
        reader = open_stream(stream, name)
        with reader:
            try:
                for group in ijson.items(reader, "provider_groups.item", buf_size=BUF_SIZE):
                    if not isinstance(group, dict):
                        continue
                    npis = group.get("npi") or []
                    tin = group.get("tin") if isinstance(group.get("tin"), dict) else {}
                    matched = [
                        n for n in (npis if isinstance(npis, list) else []) if str(n).strip() in self._npis
                    ]
                    pairs.extend(self._match_group(matched, tin.get("type"), tin.get("value")))
            except ijson.JSONError as exc:
                err = json_error(reader, exc).errors[0]
                self._error(column, f"remote provider reference {location} is not valid JSON: {err.message}")
                return []
            except FileRejected as exc:
                self._error(column, f"remote provider reference {location}: {exc.errors[0].message}")
                return []
        self.stats["remote_references_resolved"] += 1
        return pairs

    # -- in_network --------------------------------------------------------------------
    def _maybe_kept(self, code: object) -> bool:
        """Billing code known but its type not yet: could it be kept under some type?"""
        return self._code_kept(code, None) is not None or self._code_kept(code, "RC") is not None

    def _in_network(self, it: Events, mode: str) -> Iterator[NegotiatedRateRecord]:
        for index in self._objects(it, "in_network", count=mode != _REFS_ONLY):
            out = self._item(it, index, mode)
            if out:
                yield from out

    def _item(self, it, i: int, mode: str) -> list[NegotiatedRateRecord]:
        """One in_network item (start_map consumed).  Returns the records it yields."""
        code: object = None
        code_type: object = None
        has_code = False
        candidates: list[tuple[int, tuple[Pair, ...], list[tuple[int, dict]]]] = []
        deferred = False
        for ev, key in it:
            if ev == "end_map":
                break
            ev, val = next(it)
            if key == "billing_code":
                if ev in ("string", "number"):
                    code, has_code = val, True
                else:
                    skip_value(it, ev)
            elif key == "billing_code_type":
                if ev == "string":
                    code_type = val
                else:
                    skip_value(it, ev)
            elif key == "negotiated_rates":
                if ev != "start_array":
                    skip_value(it, ev)
                    continue
                if has_code:
                    if code_type is not None:
                        if self._code_kept(code, code_type) is None:
                            self.stats["items_skipped"] += 1
                            skip_value(it, ev)
                            continue
                    elif not self._maybe_kept(code):
                        self.stats["items_skipped"] += 1
                        skip_value(it, ev)
                        continue
                d = self._rates(it, i, mode, candidates)
                deferred = deferred or d
            else:
                skip_value(it, ev)
        if not has_code:
            if deferred:
                self._need_pass2 = True  # its referenced providers may match: check in pass 2
            if candidates:
                self._error(
                    f"in_network[{i}].billing_code",
                    "missing billing_code (expected a string such as 'H0015') in an item with rates "
                    "for a provider we import",
                )
            return []
        kept = self._code_kept(code, code_type)
        if kept is None:
            return []
        self.stats["items_kept"] += 1
        if deferred:
            self._need_pass2 = True
        if not candidates:
            return []
        records: list[NegotiatedRateRecord] = []
        for j, pairs, prices in candidates:
            if pairs is None:
                continue
            for k, price in prices:
                records.extend(
                    self._price_records(
                        kept, pairs, price, f"in_network[{i}].negotiated_rates[{j}].negotiated_prices[{k}]"
                    )
                )
        return records

    def _rates(self, it, i: int, mode: str, candidates: list) -> bool:
        """The negotiated_rates array of item ``i`` (start_array consumed).  Appends the
        rates that may match to ``candidates`` as (j, pairs, [(k, price)]); returns True
        when some rate was left for pass 2."""
        deferred = False
        j = -1
        for ev, _ in it:
            if ev == "end_array":
                break
            j += 1
            if ev != "start_map":
                skip_value(it, ev)
                continue
            refs: list[int] | None = None
            inline: list[Pair] | None = None
            prices: list[tuple[int, dict]] = []
            for ev2, key in it:
                if ev2 == "end_map":
                    break
                ev3, _val = next(it)
                if key == "provider_references" and ev3 == "start_array":
                    refs = []
                    for ev4, v in it:
                        if ev4 == "end_array":
                            break
                        if ev4 == "start_map" or ev4 == "start_array":
                            skip_value(it, ev4)
                            continue
                        gid = _as_int_id(v)
                        if gid is not None:
                            refs.append(gid)
                elif key == "provider_groups" and ev3 == "start_array":
                    inline = self._read_groups_array(it)
                elif key == "negotiated_prices" and ev3 == "start_array":
                    k = -1
                    for ev4, _v in it:
                        if ev4 == "end_array":
                            break
                        k += 1
                        if ev4 == "start_map":
                            prices.append((k, _scalars_of_object(it)))
                        else:
                            skip_value(it, ev4)
                            prices.append((k, {"__not_object__": describe_event(ev4)}))
                else:
                    skip_value(it, ev3)
            self.stats["rates_read"] += 1
            # Which pass handles this rate?
            if mode == _FIRST and refs:
                deferred = True
                continue
            if mode == _REFS_ONLY and not refs:
                continue  # done in pass 1
            pairs: dict[Pair, None] = {}
            if inline:
                pairs.update(dict.fromkeys(inline))
            if refs:
                for gid in refs:
                    got = self._ref_pairs(gid)
                    if got:
                        pairs.update(dict.fromkeys(got))
            if pairs and prices:
                self.stats["rates_matched"] += 1
                candidates.append((j, tuple(pairs), prices))
        return deferred

    def _price_records(
        self, code: str, pairs: tuple[Pair, ...], price: dict, path: str
    ) -> list[NegotiatedRateRecord]:
        if "__not_object__" in price:
            self._error(path, f"expected a negotiated price object, found {price['__not_object__']}")
            return []
        self.stats["prices_read"] += 1
        ntype = price.get("negotiated_type")
        if not isinstance(ntype, str) or not ntype.strip():
            self._error(
                f"{path}.negotiated_type",
                "missing negotiated_type; expected one of negotiated, fee schedule, per diem, percentage, derived",
            )
            return []
        t = ntype.strip().lower()
        if t in SKIPPED_TYPES:
            self.stats["derived_skipped"] += 1
            return []
        rate_type = RATE_TYPES.get(t)
        if rate_type is None:
            self._error(
                f"{path}.negotiated_type",
                f"unknown negotiated_type {ntype!r}; expected one of negotiated, fee schedule, per diem, "
                "percentage, derived",
            )
            return []
        raw_rate = price.get("negotiated_rate")
        rate = to_decimal(raw_rate)
        if rate is None:
            self._error(
                f"{path}.negotiated_rate",
                f"negotiated_rate {raw_rate!r} is not a number; expected a positive number",
            )
            return []
        if rate <= 0:
            self._error(f"{path}.negotiated_rate", f"negotiated_rate {raw_rate} must be positive")
            return []
        raw_exp = price.get("expiration_date")
        expiration: dt.date | None = None
        if raw_exp is not None and not (isinstance(raw_exp, str) and raw_exp.strip() in ("", NO_EXPIRATION)):
            expiration = parse_file_date(raw_exp)
            if expiration is None:
                self._error(
                    f"{path}.expiration_date",
                    f"expiration_date {raw_exp!r} is not a date; expected YYYY-MM-DD (9999-12-31 for none)",
                )
                return []
        out: list[NegotiatedRateRecord] = []
        for npi, tin in pairs:
            key = (code, rate_type, rate, expiration, npi, tin)
            if key in self._seen:
                self.stats["duplicates_skipped"] += 1
                continue
            self._seen.add(key)
            if self.last_updated_on is None:
                self._pending.append(key)
                continue
            out.append(self._record(key))
        return out

    def _record(self, key: tuple) -> NegotiatedRateRecord:
        code, rate_type, rate, expiration, npi, tin = key
        self.stats["records"] += 1
        return NegotiatedRateRecord(
            payer_id=self.payer_id,
            billing_code=code,
            rate_type=rate_type,
            rate=rate,
            effective_date=self.last_updated_on,  # type: ignore[arg-type]
            expiration_date=expiration,
            program_id=None,
            npi=npi,
            tin=tin,
            line=None,
        )

    def _flush_pending(self) -> Iterator[NegotiatedRateRecord]:
        if self.last_updated_on is None or not self._pending:
            return
        pending, self._pending = self._pending, []
        for key in pending:
            yield self._record(key)


def iter_in_network(
    path: str,
    *,
    payer_id: str,
    keep: TicFilter,
    display_name: str | None = None,
    provider_reference_resolver: ProviderResolver | None = None,
) -> TicInNetworkReader:
    """The kept negotiated rates and the plans of a TiC in-network file.

    Returns a :class:`TicInNetworkReader`: iterate over it for the records, then read
    ``.errors`` / ``.rows_read`` / ``.stats``."""
    return TicInNetworkReader(
        path,
        payer_id=payer_id,
        keep=keep,
        display_name=display_name,
        provider_reference_resolver=provider_reference_resolver,
    )
