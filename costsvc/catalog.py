"""The in-process tariff catalog: every tariff the hot path reads, in memory.

An estimate never costs a database round trip per claim or per item: the API
prices from an immutable ``Catalog`` snapshot.  ``CatalogHolder`` loads it at
start-up and swaps in a fresh snapshot whenever an import activates a version:
the pipeline sends ``NOTIFY tariffs_changed`` in the activating transaction and
every API process LISTENs on its own connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, MutableMapping
from decimal import Decimal
from typing import Any

import asyncpg
import cachetools
import msgspec

from costsvc.db.pool import UNAVAILABLE, open_connection
from costsvc.db.queries import Q
from costsvc.domain.model import (
    AllowedRule,
    Amounts,
    Benefits,
    FeeLine,
    LevelBenefit,
    NegotiatedRate,
    NetworkBenefits,
    PaymentPlanPolicy,
    PaymentTerm,
    PovertyGuideline,
    SlidingTier,
)
from costsvc.domain.money import plain
from costsvc.domain.verification import MEDSURG_LEVELS
from costsvc.observe import metrics
from costsvc.outages import Dependency

log = logging.getLogger(__name__)
TARIFFS_CHANGED = "tariffs_changed"
DEFAULT_PAYMENT_POLICY = PaymentPlanPolicy()  # docs/API.md: 3, 6 and 12 months, APR 0, at least $25.00


class ProgramEntry(msgspec.Struct, frozen=True):
    program_id: str
    name: str
    state: str
    npi: str | None
    tin: str | None
    levels: dict[str, tuple[FeeLine, ...]]


class PlanEntry(msgspec.Struct, frozen=True):
    plan_id: str
    payer_id: str
    plan_name: str
    plan_type: str | None
    effective_date: dt.date
    version_id: int
    benefits: Benefits
    # Medical/surgical comparison rows (network -> medsurg_inpatient/_outpatient):
    # parity flags only, never priced (costsvc.domain.verification).
    medsurg: dict[str, dict[str, LevelBenefit]] = {}


class PolicyVersion(msgspec.Struct, frozen=True):
    """Where a program's policy in force came from: the version (and its import, None for
    one the migration made of earlier data) and the date the program gave it."""

    version_id: int
    import_id: uuid.UUID | None
    effective_date: dt.date


class SlidingPolicy(msgspec.Struct, frozen=True):
    tiers: tuple[SlidingTier, ...]
    source: PolicyVersion


class PaymentPolicy(msgspec.Struct, frozen=True):
    policy: PaymentPlanPolicy
    source: PolicyVersion


class Catalog(msgspec.Struct, frozen=True):
    programs: dict[str, ProgramEntry]
    payers: dict[str, str]
    plans: dict[str, PlanEntry]
    negotiated_rates: dict[tuple[str, str], tuple[NegotiatedRate, ...]]  # (payer, program)
    reference_rates: dict[str, dict[str, Decimal]]  # payer -> code -> amount
    poverty_guidelines: tuple[PovertyGuideline, ...]
    sliding_policies: dict[str, SlidingPolicy]  # program -> its imported policy
    payment_plan_policies: dict[str, PaymentPolicy]
    loaded_at: float
    # Estimates priced from this snapshot (services.estimates.price): dropped with it.
    # CatalogHolder gives each snapshot a bounded one (new_pricing_memo).
    pricing_memo: MutableMapping[bytes, Any] = msgspec.field(default_factory=dict)

    def plans_of(self, payer_id: str) -> list[PlanEntry]:
        return [p for p in self.plans.values() if p.payer_id == payer_id]

    def sliding_policy_for(self, program_id: str) -> tuple[SlidingTier, ...] | None:
        """The program's tiers; None: the default policy (costsvc.domain.selfpay)."""
        found = self.sliding_policies.get(program_id)
        return found.tiers if found is not None else None

    def payment_plan_policy_for(self, program_id: str) -> PaymentPlanPolicy:
        found = self.payment_plan_policies.get(program_id)
        return found.policy if found is not None else DEFAULT_PAYMENT_POLICY


def _amounts(individual: Decimal | None, family: Decimal | None) -> Amounts | None:
    if individual is None and family is None:
        return None
    return Amounts(individual=individual, family=family)


async def load_catalog(conn: asyncpg.Connection, *, timeout: float | None = None) -> Catalog:
    """Read the current version of every tariff in one repeatable-read snapshot.
    ``timeout`` bounds the fee-line reads (the large ones) instead of the connection's
    statement timeout."""
    fee_levels = _FeeLevels()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        program_rows = await conn.fetch(Q.catalog_programs)
        # In batches through a cursor: a million fee lines as driver records at once
        # would cost more memory than the snapshot built from them.
        cursor = await conn.cursor(Q.catalog_fee_lines, timeout=timeout)
        while batch := await cursor.fetch(FEE_LINE_BATCH, timeout=timeout):
            await asyncio.to_thread(fee_levels.add, batch)
        payer_rows = await conn.fetch(Q.catalog_payers)
        plan_rows = await conn.fetch(Q.catalog_plans)
        network_rows = await conn.fetch(Q.catalog_plan_networks)
        level_rows = await conn.fetch(Q.catalog_plan_levels)
        rate_rows = await conn.fetch(Q.catalog_negotiated_rates)
        reference_rows = await conn.fetch(Q.catalog_reference_rates)
        guideline_rows = await conn.fetch(Q.catalog_poverty_guidelines)
        sliding_rows = await conn.fetch(Q.catalog_sliding_tiers)
        payment_rows = await conn.fetch(Q.catalog_payment_terms)

    loaded_at = asyncio.get_running_loop().time()

    def build() -> Catalog:
        levels = fee_levels.result()
        return Catalog(
            programs={r["program_id"]: _program_entry(r, levels.get(r["program_id"], {})) for r in program_rows},
            payers={r["payer_id"]: r["name"] for r in payer_rows},
            plans=_plan_entries(plan_rows, network_rows, level_rows),
            negotiated_rates=_negotiated_rates(rate_rows),
            reference_rates=_reference_rates(reference_rows),
            poverty_guidelines=_guidelines(guideline_rows),
            sliding_policies=_sliding_policies(sliding_rows),
            payment_plan_policies=_payment_policies(payment_rows),
            loaded_at=loaded_at,
        )

    # A million fee lines take seconds to build: on a thread, the event loop keeps
    # serving requests from the previous snapshot meanwhile.
    return await asyncio.to_thread(build)


#: Fee lines read per round trip by a full load.
FEE_LINE_BATCH = 50_000

#: Above this many changed keys an incremental load is no cheaper than a full one.
MAX_INCREMENTAL_KEYS = 20_000


async def load_catalog_changes(conn: asyncpg.Connection, base: Catalog, version_ids: Iterable[int], *,
                               timeout: float | None = None) -> Catalog | None:
    """``base`` with the tariffs of every key that the versions ``version_ids`` carry
    read again (their *current* version, whichever that is now), the payers too;
    everything else is shared with ``base``.  None when the versions carry more than
    ``MAX_INCREMENTAL_KEYS`` keys (load the whole catalog instead).

    Activating a version changes exactly the keys it carries (the current version of
    a key is the one activated last), and a fee schedule changes exactly the programs
    of its keys: so this equals a full load as long as every change since ``base``
    was announced by a notification whose version is in ``version_ids`` or was
    applied earlier."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        key_rows = await conn.fetch(Q.catalog_version_keys, list(version_ids))
        if len(key_rows) > MAX_INCREMENTAL_KEYS:
            return None
        keys: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for r in key_rows:
            keys[r["scope"]].append((r["key1"], r["key2"]))

        async def current(scope: str) -> tuple[list[int], list[str], list[str]]:
            pairs = keys.get(scope, [])
            rows = await conn.fetch(Q.catalog_current_versions_of_keys, scope,
                                    [a for a, _ in pairs], [b for _, b in pairs])
            return [r["version_id"] for r in rows], [r["key1"] for r in rows], [r["key2"] for r in rows]

        fee_programs = sorted({program for program, _ in keys.get("fee", [])})
        program_rows = await conn.fetch(Q.catalog_programs_by_id, fee_programs)
        fee_rows = await conn.fetch(Q.catalog_fee_lines_of_versions, *await current("fee"), timeout=timeout)
        payer_rows = await conn.fetch(Q.catalog_payers)
        plan_versions, plan_ids, _ = await current("plan")
        plan_rows = await conn.fetch(Q.catalog_plans_of_versions, plan_versions, plan_ids)
        network_rows = await conn.fetch(Q.catalog_plan_networks_of_versions, plan_versions, plan_ids)
        level_rows = await conn.fetch(Q.catalog_plan_levels_of_versions, plan_versions, plan_ids)
        rate_rows = await conn.fetch(Q.catalog_negotiated_rates_of_versions, *await current("rates"))
        reference_versions, reference_payers, _ = await current("reference")
        reference_rows = await conn.fetch(Q.catalog_reference_rates_of_versions, reference_versions, reference_payers)
        sliding_versions, sliding_programs, _ = await current("sliding")
        sliding_rows = await conn.fetch(Q.catalog_sliding_tiers_of_versions, sliding_versions, sliding_programs)
        payment_versions, payment_programs, _ = await current("payment")
        payment_rows = await conn.fetch(Q.catalog_payment_terms_of_versions, payment_versions, payment_programs)
        guideline_versions, guideline_years, _ = await current("guidelines")
        guideline_rows = await conn.fetch(Q.catalog_poverty_guidelines_of_versions, guideline_versions,
                                          guideline_years)

    levels = _fee_levels(fee_rows)
    changed_levels: dict[str, list[str]] = defaultdict(list)
    for program_id, level in keys.get("fee", []):
        changed_levels[program_id].append(level)
    entries = {}
    for r in program_rows:
        program_id = r["program_id"]
        old = base.programs.get(program_id)
        program_levels = dict(old.levels) if old is not None else {}
        for level in changed_levels[program_id]:
            program_levels.pop(level, None)
        new_levels = levels.get(program_id, {})
        # a full load lists a program's levels in order (the fee-line query sorts them)
        program_levels = dict(sorted({**program_levels, **new_levels}.items()))
        entries[program_id] = _program_entry(r, program_levels)
    programs = _replace_keys(base.programs, fee_programs, entries)

    plans = _replace_keys(base.plans, [k for k, _ in keys.get("plan", [])],
                          _plan_entries(plan_rows, network_rows, level_rows),
                          order=lambda item: (item[1].payer_id, item[0]))
    rates = _replace_keys(base.negotiated_rates, keys.get("rates", []), _negotiated_rates(rate_rows))
    reference = _replace_keys(base.reference_rates, [k for k, _ in keys.get("reference", [])],
                              _reference_rates(reference_rows))
    changed_years = {int(year) for year, _ in keys.get("guidelines", [])}
    guidelines = base.poverty_guidelines
    if changed_years:
        kept = [g for g in guidelines if g.year not in changed_years]
        guidelines = tuple(sorted([*kept, *_guidelines(guideline_rows)], key=lambda g: (g.year, g.region)))
    return msgspec.structs.replace(
        base,
        programs=programs,
        poverty_guidelines=guidelines,
        sliding_policies=_replace_keys(base.sliding_policies, [k for k, _ in keys.get("sliding", [])],
                                       _sliding_policies(sliding_rows)),
        payment_plan_policies=_replace_keys(base.payment_plan_policies, [k for k, _ in keys.get("payment", [])],
                                            _payment_policies(payment_rows)),
        payers={r["payer_id"]: r["name"] for r in payer_rows},
        plans=plans,
        negotiated_rates=rates,
        reference_rates=reference,
        loaded_at=asyncio.get_running_loop().time(),
        pricing_memo={},  # priced documents may depend on what changed
    )


def _replace_keys(
    old: dict[Any, Any], keys: Iterable[Any], new: dict[Any, Any], order: Callable[[Any], Any] | None = None
) -> dict[Any, Any]:
    """A copy of ``old`` where each of ``keys`` has its value from ``new`` (or none),
    in the order of a full load: sorted by ``order(item)`` (default: the key) when a
    key was added."""
    out = dict(old)
    added = False
    for key in keys:
        if key in new:
            added = added or key not in out
            out[key] = new[key]
        else:
            out.pop(key, None)
    return dict(sorted(out.items(), key=order or (lambda item: item[0]))) if added else out


class _FeeLevels:
    """Fee lines grouped by program and level, fed in batches of rows."""

    def __init__(self) -> None:
        self._levels: dict[str, dict[str, list[FeeLine]]] = defaultdict(lambda: defaultdict(list))
        # The driver makes a new string for every value of every row; fee lines repeat
        # the same codes, descriptions and frequencies across programs, so one shared
        # string per distinct value: 346 MB instead of 563 MB of live objects for a
        # million lines (sharing equal amounts too saves 160 MB more but costs 1.7 s of
        # Decimal hashing per load).
        self._shared: dict[str, str] = {}

    def add(self, fee_rows: Iterable[asyncpg.Record]) -> None:
        levels, one = self._levels, self._shared.setdefault
        for r in fee_rows:
            code, description, frequency, gross, cash = (
                r["billing_code"], r["description"], r["frequency"], r["gross_charge"], r["cash_price"]
            )
            levels[r["program_id"]][r["level_of_care"]].append(
                FeeLine(one(code, code), one(description, description), one(frequency, frequency), gross, cash)
            )

    def result(self) -> dict[str, dict[str, tuple[FeeLine, ...]]]:
        return {program: {lvl: tuple(lines) for lvl, lines in by_level.items()}
                for program, by_level in self._levels.items()}


def _fee_levels(fee_rows: Iterable[asyncpg.Record]) -> dict[str, dict[str, tuple[FeeLine, ...]]]:
    levels = _FeeLevels()
    levels.add(fee_rows)
    return levels.result()


def _program_entry(r: asyncpg.Record, levels: dict[str, tuple[FeeLine, ...]]) -> ProgramEntry:
    return ProgramEntry(r["program_id"], r["name"], r["state"].strip(), r["npi"], r["tin"], levels)


def _plan_entries(
    plan_rows: Iterable[asyncpg.Record], network_rows: Iterable[asyncpg.Record], level_rows: Iterable[asyncpg.Record]
) -> dict[str, PlanEntry]:
    level_benefits: dict[tuple[str, str], dict[str, LevelBenefit]] = defaultdict(dict)
    medsurg: dict[str, dict[str, dict[str, LevelBenefit]]] = defaultdict(lambda: defaultdict(dict))
    for r in level_rows:
        into = medsurg[r["plan_id"]][r["network"]] if r["level_of_care"] in MEDSURG_LEVELS \
            else level_benefits[(r["plan_id"], r["network"])]
        into[r["level_of_care"]] = LevelBenefit(
            covered=r["covered"], copay=r["copay"], copay_unit=r["copay_unit"],
            deductible_applies=r["deductible_applies"], coinsurance_pct=r["coinsurance_pct"],
            limit_units=r["limit_units"], prior_auth=r["prior_auth"],
        )
    networks: dict[str, dict[str, NetworkBenefits]] = defaultdict(dict)
    for r in network_rows:
        allowed = (
            AllowedRule(method=r["allowed_method"], percent=r["allowed_pct"])
            if r["allowed_method"] else None
        )
        networks[r["plan_id"]][r["network"]] = NetworkBenefits(
            deductible=_amounts(r["ded_individual"], r["ded_family"]),
            oop_max=_amounts(r["oop_individual"], r["oop_family"]),
            allowed=allowed,
            balance_billing=r["balance_billing"],
            levels=level_benefits.get((r["plan_id"], r["network"]), {}),
        )
    return {
        r["plan_id"]: PlanEntry(
            r["plan_id"], r["payer_id"], r["plan_name"], r["plan_type"], r["effective_date"], r["version_id"],
            Benefits(
                payer_id=r["payer_id"], plan_year_start=r["plan_year_start"],
                in_network=networks[r["plan_id"]].get("in_network"),
                out_of_network=networks[r["plan_id"]].get("out_of_network"),
            ),
            {net: dict(rows) for net, rows in medsurg.get(r["plan_id"], {}).items()},
        )
        for r in plan_rows
    }


def _negotiated_rates(rate_rows: Iterable[asyncpg.Record]) -> dict[tuple[str, str], tuple[NegotiatedRate, ...]]:
    rates: dict[tuple[str, str], list[NegotiatedRate]] = defaultdict(list)
    for r in rate_rows:
        rates[(r["payer_id"], r["program_id"])].append(
            NegotiatedRate(r["billing_code"], r["rate_type"], r["rate"], r["effective_date"], r["expiration_date"])
        )
    return {k: tuple(v) for k, v in rates.items()}


def _guidelines(rows: Iterable[asyncpg.Record]) -> tuple[PovertyGuideline, ...]:
    return tuple(PovertyGuideline(r["year"], r["region"], r["base"], r["per_additional_person"]) for r in rows)


def _percent(value: Decimal | None) -> Decimal | None:
    """A stored percentage as the file wrote it (numeric(7, 3) gives 50.000 for 50)."""
    return None if value is None else plain(value)


def _source(r: asyncpg.Record) -> PolicyVersion:
    return PolicyVersion(r["version_id"], r["import_id"], r["effective_date"])


def _sliding_policies(rows: Iterable[asyncpg.Record]) -> dict[str, SlidingPolicy]:
    """Tier rows (in each program's order) grouped into each program's policy."""
    tiers: dict[str, list[SlidingTier]] = defaultdict(list)
    sources: dict[str, PolicyVersion] = {}
    for r in rows:
        tiers[r["program_id"]].append(SlidingTier(_percent(r["max_fpl_percent"]), _percent(r["discount_percent"]),
                                                  r["nominal_fee"], r["tier"]))
        sources.setdefault(r["program_id"], _source(r))
    return {pid: SlidingPolicy(tuple(t), sources[pid]) for pid, t in tiers.items()}


def _payment_policies(rows: Iterable[asyncpg.Record]) -> dict[str, PaymentPolicy]:
    offers: dict[str, list[PaymentTerm]] = defaultdict(list)
    first: dict[str, asyncpg.Record] = {}
    for r in rows:
        offers[r["program_id"]].append(PaymentTerm(r["months"], plain(r["apr"]), r["min_monthly_payment"]))
        first.setdefault(r["program_id"], r)
    return {
        pid: PaymentPolicy(
            PaymentPlanPolicy(terms=tuple(o.months for o in terms), offers=tuple(terms),
                              min_down_payment=first[pid]["min_down_payment"]),
            _source(first[pid]),
        )
        for pid, terms in offers.items()
    }


def _reference_rates(reference_rows: Iterable[asyncpg.Record]) -> dict[str, dict[str, Decimal]]:
    reference: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for r in reference_rows:
        reference[r["payer_id"]][r["billing_code"]] = r["amount"]
    return dict(reference)


#: What an entry of the pricing memo costs beyond its document: the key (the request
#: encoded, a few hundred bytes), the digest, the Decimal, the tuple and the LRU's links.
MEMO_ENTRY_OVERHEAD = 600


def _memo_entry_bytes(entry: tuple[Any, ...]) -> int:
    return len(entry[1]) + MEMO_ENTRY_OVERHEAD  # entry[1]: the encoded document's tail


def new_pricing_memo(max_bytes: int) -> MutableMapping[bytes, Any]:
    """A memo of priced documents that holds about ``max_bytes`` of them, dropping the
    least recently used: its memory stops growing once it is full, whatever the traffic.
    Storing an entry larger than the whole memo raises ValueError (it is not kept)."""
    return cachetools.LRUCache(maxsize=max_bytes, getsizeof=_memo_entry_bytes)


class CatalogHolder:
    """Owns the current snapshot and keeps it fresh through LISTEN/NOTIFY."""

    def __init__(self, pool: asyncpg.Pool, dsn: str, *, reconnect_delay: float = 2.0,
                 connect_timeout: float = 2.0, load_timeout: float = 300.0, outage: Dependency | None = None,
                 memo_bytes: int):
        self._pool = pool
        self._memo_bytes = memo_bytes
        self._dsn = dsn
        self._reconnect_delay = reconnect_delay
        self._connect_timeout = connect_timeout
        self._load_timeout = load_timeout
        self._outage = outage
        self._listener: asyncpg.Connection | None = None
        self._reload_lock = asyncio.Lock()
        self._pending: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._dirty = False
        self._changed_versions: set[int] = set()  # notified since the last reload
        self._needs_full = False  # a notification without a version id, or a failed reload
        self._stopped = False
        self.current: Catalog | None = None
        self.version: int | None = None  # the most recently activated tariff version, as of the last reload
        self.reloads = 0
        self.full_reloads = 0

    async def reload(self, version_ids: set[int] | None = None) -> Catalog:
        """Load the whole catalog, or (``version_ids``) only the keys those versions
        carry on top of the current snapshot (``load_catalog_changes``)."""
        async with self._reload_lock:
            started = time.perf_counter()
            # Bounded as a whole (a frozen database must not hold the lock forever),
            # but not per statement: sorting a million fee lines may take longer than
            # a request's statement timeout.
            async with asyncio.timeout(self._load_timeout), self._pool.acquire() as conn:
                catalog = None
                if version_ids is not None and self.current is not None:
                    catalog = await load_catalog_changes(conn, self.current, version_ids,
                                                         timeout=self._load_timeout)
                scope = "changes"
                if catalog is None:
                    catalog = await load_catalog(conn, timeout=self._load_timeout)
                    self.full_reloads += 1
                    scope = "full"
                self.current = msgspec.structs.replace(catalog, pricing_memo=new_pricing_memo(self._memo_bytes))
                self.version = await conn.fetchval(Q.catalog_latest_version, timeout=self._load_timeout)
            metrics.catalog_reloaded(scope, time.perf_counter() - started, self.version)
            # The snapshot lives until the next reload: keep its many small objects out
            # of the cyclic collector's full scans (they were the tail of request latency).
            # Unfrozen and collected first: what the last freeze kept (the snapshot just
            # replaced, garbage of that moment) would otherwise never be collected.
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.reloads += 1
            log.info("tariff catalog loaded (%d programs, %d plans)", len(catalog.programs), len(catalog.plans))
            return catalog

    async def start(self) -> None:
        # LISTEN before the first load, so nothing activated after the load is missed.
        await self._listen()
        await self.reload()
        self._watch = asyncio.create_task(self._keep_listening(), name="catalog-listener")

    async def _listen(self) -> None:
        listener = await open_connection(self._dsn, timeout=self._connect_timeout)
        await listener.add_listener(TARIFFS_CHANGED, self._on_notify)
        lost = asyncio.get_running_loop().create_future()
        listener.add_termination_listener(lambda _c: lost.done() or lost.set_result(None))
        self._listener, self._lost = listener, lost

    async def stop(self) -> None:
        self._stopped = True
        for task in (self._watch, self._pending):
            if task is not None:
                task.cancel()
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()

    def _on_notify(self, _conn: object = None, _pid: object = None, _channel: object = None,
                   payload: str | None = None) -> None:
        # The pipeline's payload is the activated version: only its keys are re-read.
        # Anything else (a NOTIFY sent by hand, a reconnect that may have missed notifications)
        # reloads the whole catalog.
        if payload is not None and payload.isdigit():
            self._changed_versions.add(int(payload))
        else:
            self._needs_full = True
        # Coalesce bursts of notifications; a notification that arrives during a reload
        # (whose snapshot may predate it) gets one more reload after it.
        self._dirty = True
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._reload_while_dirty())

    async def _reload_while_dirty(self) -> None:
        while self._dirty:
            self._dirty = False
            versions, full = self._changed_versions, self._needs_full
            self._changed_versions, self._needs_full = set(), False
            try:
                await self.reload(None if full else versions)
            except UNAVAILABLE as exc:  # the outage is reported once, not per attempt
                self._needs_full = True
                if self._outage is not None:
                    self._outage.failed(exc)
            except Exception:  # noqa: BLE001 - keep the last snapshot; the next notification retries
                self._needs_full = True  # whatever this reload missed
                log.exception("tariff catalog reload failed; serving the previous snapshot")

    async def _keep_listening(self) -> None:
        while not self._stopped:
            await self._lost
            log.warning("catalog listener connection lost; serving the current snapshot, reconnecting every %.1f s",
                        self._reconnect_delay)
            while not self._stopped:
                await asyncio.sleep(self._reconnect_delay)
                try:
                    await self._listen()
                except UNAVAILABLE as exc:  # keep serving the last snapshot while the DB is away
                    if self._outage is not None:
                        self._outage.failed(exc)
                    continue
                log.info("catalog listener reconnected")
                if self._outage is not None:
                    self._outage.ok()
                self._on_notify()  # whatever was activated while we were not listening
                break
