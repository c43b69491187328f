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
from collections import defaultdict
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec

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
    PovertyGuideline,
    SlidingTier,
)

log = logging.getLogger(__name__)
TARIFFS_CHANGED = "tariffs_changed"


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


class Catalog(msgspec.Struct, frozen=True):
    programs: dict[str, ProgramEntry]
    payers: dict[str, str]
    plans: dict[str, PlanEntry]
    negotiated_rates: dict[tuple[str, str], tuple[NegotiatedRate, ...]]  # (payer, program)
    reference_rates: dict[str, dict[str, Decimal]]  # payer -> code -> amount
    poverty_guidelines: tuple[PovertyGuideline, ...]
    sliding_policies: dict[str | None, tuple[SlidingTier, ...]]  # None: service default
    payment_plan_policies: dict[str | None, PaymentPlanPolicy]
    loaded_at: float
    # Estimates priced from this snapshot (services.estimates.price): dropped with it.
    pricing_memo: dict[bytes, Any] = {}

    def plans_of(self, payer_id: str) -> list[PlanEntry]:
        return [p for p in self.plans.values() if p.payer_id == payer_id]

    def sliding_policy_for(self, program_id: str) -> tuple[SlidingTier, ...] | None:
        return self.sliding_policies.get(program_id) or self.sliding_policies.get(None)

    def payment_plan_policy_for(self, program_id: str) -> PaymentPlanPolicy:
        return (
            self.payment_plan_policies.get(program_id)
            or self.payment_plan_policies.get(None)
            or PaymentPlanPolicy()
        )


def _amounts(individual: Decimal | None, family: Decimal | None) -> Amounts | None:
    if individual is None and family is None:
        return None
    return Amounts(individual=individual, family=family)


async def load_catalog(conn: asyncpg.Connection) -> Catalog:
    """Read the current version of every tariff in one repeatable-read snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        program_rows = await conn.fetch(Q.catalog_programs)
        fee_rows = await conn.fetch(Q.catalog_fee_lines)
        payer_rows = await conn.fetch(Q.catalog_payers)
        plan_rows = await conn.fetch(Q.catalog_plans)
        network_rows = await conn.fetch(Q.catalog_plan_networks)
        level_rows = await conn.fetch(Q.catalog_plan_levels)
        rate_rows = await conn.fetch(Q.catalog_negotiated_rates)
        reference_rows = await conn.fetch(Q.catalog_reference_rates)
        guideline_rows = await conn.fetch(Q.catalog_poverty_guidelines)
        sliding_rows = await conn.fetch(Q.catalog_sliding_policies)
        payment_rows = await conn.fetch(Q.catalog_payment_plan_policies)

    levels: dict[str, dict[str, list[FeeLine]]] = defaultdict(lambda: defaultdict(list))
    for r in fee_rows:
        levels[r["program_id"]][r["level_of_care"]].append(
            FeeLine(r["billing_code"], r["description"], r["frequency"], r["gross_charge"], r["cash_price"])
        )
    programs = {
        r["program_id"]: ProgramEntry(
            r["program_id"], r["name"], r["state"].strip(), r["npi"], r["tin"],
            {lvl: tuple(lines) for lvl, lines in levels.get(r["program_id"], {}).items()},
        )
        for r in program_rows
    }

    level_benefits: dict[tuple[str, str], dict[str, LevelBenefit]] = defaultdict(dict)
    for r in level_rows:
        level_benefits[(r["plan_id"], r["network"])][r["level_of_care"]] = LevelBenefit(
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
    plans = {
        r["plan_id"]: PlanEntry(
            r["plan_id"], r["payer_id"], r["plan_name"], r["plan_type"], r["effective_date"], r["version_id"],
            Benefits(
                payer_id=r["payer_id"], plan_year_start=r["plan_year_start"],
                in_network=networks[r["plan_id"]].get("in_network"),
                out_of_network=networks[r["plan_id"]].get("out_of_network"),
            ),
        )
        for r in plan_rows
    }

    rates: dict[tuple[str, str], list[NegotiatedRate]] = defaultdict(list)
    for r in rate_rows:
        rates[(r["payer_id"], r["program_id"])].append(
            NegotiatedRate(r["billing_code"], r["rate_type"], r["rate"], r["effective_date"], r["expiration_date"])
        )
    reference: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for r in reference_rows:
        reference[r["payer_id"]][r["billing_code"]] = r["amount"]

    return Catalog(
        programs=programs,
        payers={r["payer_id"]: r["name"] for r in payer_rows},
        plans=plans,
        negotiated_rates={k: tuple(v) for k, v in rates.items()},
        reference_rates=dict(reference),
        poverty_guidelines=tuple(
            PovertyGuideline(r["year"], r["region"], r["base"], r["per_additional_person"])
            for r in guideline_rows
        ),
        sliding_policies={
            r["program_id"]: msgspec.convert(r["tiers"], tuple[SlidingTier, ...]) for r in sliding_rows
        },
        payment_plan_policies={
            r["program_id"]: PaymentPlanPolicy(tuple(r["terms"]), r["apr"], r["min_monthly"])
            for r in payment_rows
        },
        loaded_at=asyncio.get_running_loop().time(),
    )


class CatalogHolder:
    """Owns the current snapshot and keeps it fresh through LISTEN/NOTIFY."""

    def __init__(self, pool: asyncpg.Pool, dsn: str, *, reconnect_delay: float = 2.0):
        self._pool = pool
        self._dsn = dsn
        self._reconnect_delay = reconnect_delay
        self._listener: asyncpg.Connection | None = None
        self._reload_lock = asyncio.Lock()
        self._pending: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._dirty = False
        self._stopped = False
        self.current: Catalog | None = None
        self.reloads = 0

    async def reload(self) -> Catalog:
        async with self._reload_lock:
            async with self._pool.acquire() as conn:
                self.current = await load_catalog(conn)
            # The snapshot lives until the next reload: keep its many small objects out
            # of the cyclic collector's full scans (they were the tail of request latency).
            gc.freeze()
            self.reloads += 1
            log.info("tariff catalog loaded (%d programs, %d plans)", len(self.current.programs), len(self.current.plans))
            return self.current

    async def start(self) -> None:
        # LISTEN before the first load, so nothing activated after the load is missed.
        await self._listen()
        await self.reload()
        self._watch = asyncio.create_task(self._keep_listening(), name="catalog-listener")

    async def _listen(self) -> None:
        listener = await asyncpg.connect(self._dsn)
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

    def _on_notify(self, *_args: object) -> None:
        # Coalesce bursts of notifications; a notification that arrives during a reload
        # (whose snapshot may predate it) gets one more reload after it.
        self._dirty = True
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._reload_while_dirty())

    async def _reload_while_dirty(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await self.reload()
            except Exception:  # noqa: BLE001 - keep the last snapshot; the next notification retries
                log.exception("tariff catalog reload failed; serving the previous snapshot")

    async def _keep_listening(self) -> None:
        while not self._stopped:
            await self._lost
            log.warning("catalog listener connection lost; reconnecting in %.1fs", self._reconnect_delay)
            await asyncio.sleep(self._reconnect_delay)
            try:
                await self._listen()
                self._on_notify()  # whatever was activated while we were not listening
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep serving the last snapshot while the DB is away
                log.exception("catalog listener could not reconnect; retrying")
