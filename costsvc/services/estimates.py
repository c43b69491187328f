"""Estimate use cases: resolve a request against the tariff catalog, price it, store it.

Pure resolution (``build_pricing_request``) reads only the in-memory catalog;
the only I/O is one INSERT per request (one per batch, whatever its size).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import hashlib
import time
import uuid
from decimal import Decimal
from functools import lru_cache
from typing import Any

import asyncpg
import msgspec

from costsvc.catalog import Catalog
from costsvc.db.pool import UNAVAILABLE, open_connection
from costsvc.db.queries import Q
from costsvc.domain.engine import price_episode
from costsvc.domain.episode import episode_for_level
from costsvc.domain.errors import DomainError, LevelNotOffered
from costsvc.domain.model import (
    US_STATES,
    Accumulators,
    Benefits,
    EpisodeRequest,
    Household,
    PricedEpisode,
    PricingRequest,
)
from costsvc.observe import metrics
from costsvc.outages import Dependency
from costsvc.randomness import RandomDraws
from costsvc.services.errors import FieldProblem, InvalidInput, NotFound, ServiceError
from costsvc.services.requests import BatchRequest, CompareRequest, CoverageRequest, EstimateRequest

_encoder = msgspec.json.Encoder(decimal_format="string")


class Priced(msgspec.Struct, frozen=True):
    estimate_id: uuid.UUID
    created_at: dt.datetime
    program_id: str
    level_of_care: str
    body: bytes  # the JSON document returned to the client
    patient_pays: Decimal  # totals.patient_pays (compare sorts by it)
    tail: bytes  # the document after its id and time: what is stored, once per distinct answer
    digest: bytes  # SHA-256 of tail


def document_head(estimate_id: uuid.UUID, created_at: dt.datetime) -> bytes:
    """The start of an estimate document: what differs between two identical answers."""
    return f'{{"estimate_id":"{estimate_id}","created_at":"{_stamp(created_at)}"'.encode()


@lru_cache(maxsize=8)
def _stamp(created_at: dt.datetime) -> str:
    # Estimates are stamped to the second: a busy second writes one stamp many times.
    return created_at.astimezone(dt.UTC).isoformat(timespec="seconds")


def document_tail(priced: PricedEpisode, plan_id: str | None, payer_id: str | None,
                  verification_id: str | None = None) -> bytes:
    """The estimate document after its id and time: the priced episode encoded straight from
    its Structs (``claims`` only when listed), then ``plan_id``, ``verification_id`` (only
    when priced from one) and ``payer_id``.  It starts with the comma that follows
    ``document_head``."""
    encoded = _encoder.encode(priced)
    verified = b',"verification_id":' + _encoder.encode(verification_id) if verification_id else b""
    return b"," + encoded[1:-1] + b',"plan_id":' + _encoder.encode(plan_id) + verified + b',"payer_id":' \
        + _encoder.encode(payer_id) + b"}"


NOT_STORED = {
    "code": "not_stored",
    "message": "The database is unavailable: this estimate was priced from the current tariffs but not "
               "stored. It has no URL and cannot be retrieved or turned into a Good Faith Estimate; "
               "price it again later to keep it.",
}


def not_stored_document(body: bytes) -> bytes:
    """The estimate document answered when it could not be stored: ``"stored": false``
    and the ``not_stored`` notice.  Only on the degraded path, so decoding it is fine."""
    document = msgspec.json.decode(body)
    document["stored"] = False
    document["notices"] = [*document.get("notices", ()), NOT_STORED]
    return msgspec.json.encode(document)


def _coverage_benefits(catalog: Catalog, coverage: CoverageRequest | None) -> tuple[Benefits | None, str | None]:
    """The benefits to price with and the plan they came from (None for inline/self-pay)."""
    if coverage is None:
        return None, None
    if coverage.verification_id is not None:
        # Resolved by costsvc.services.verifications.resolve_coverage: the verification's
        # effective benefits inline, and the plan it names (for the document).
        if coverage.benefits is None:
            raise InvalidInput.one("coverage.verification_id", "was not resolved to its benefits")
        return coverage.benefits, coverage.plan_id
    if coverage.plan_id is not None and coverage.benefits is not None:
        message = "send either coverage.plan_id or coverage.benefits, not both"
        raise InvalidInput([FieldProblem("coverage.plan_id", message), FieldProblem("coverage.benefits", message)])
    if coverage.plan_id is not None:
        plan = catalog.plans.get(coverage.plan_id)
        if plan is None:
            raise NotFound(f"unknown plan '{coverage.plan_id}'", field="coverage.plan_id")
        return plan.benefits, plan.plan_id
    if coverage.benefits is None:
        raise InvalidInput.one("coverage", "needs plan_id or benefits (omit coverage for self-pay)")
    return coverage.benefits, None


def check_household(household: Household | None) -> None:
    if household is not None and household.state.upper() not in US_STATES:
        raise InvalidInput.one("household.state", f"unknown state '{household.state}'")


def build_pricing_request(
    catalog: Catalog, request: EstimateRequest, today: dt.date
) -> tuple[PricingRequest, str | None]:
    """The engine's input for ``request`` from the catalog snapshot, and the stored plan
    it prices with (None for inline benefits or self-pay).  Raises NotFound for an
    unknown program or plan, InvalidInput or a DomainError for what cannot be priced."""
    program_id, level_of_care = request.program_id, request.level_of_care
    coverage, household, payment_plan = request.coverage, request.household, request.payment_plan
    program = catalog.programs.get(program_id)
    if program is None:
        raise NotFound(f"unknown program '{program_id}'", field="program_id")
    fee_lines = program.levels.get(level_of_care)
    if not fee_lines:
        offered = ", ".join(sorted(program.levels)) or "none"
        raise LevelNotOffered("level_of_care", f"program '{program_id}' does not offer {level_of_care} (offers: {offered})")
    check_household(household)
    benefits, plan_id = _coverage_benefits(catalog, coverage)
    payer_id = benefits.payer_id if benefits is not None else None
    if household is not None and household.state.upper() != household.state:
        household = msgspec.structs.replace(household, state=household.state.upper())
    pricing = PricingRequest(
        program_id=program_id,
        level_of_care=level_of_care,
        fee_lines=fee_lines,
        episode=request.episode or EpisodeRequest(),
        today=today,
        benefits=benefits,
        network=coverage.network if coverage else "auto",
        tier=coverage.tier if coverage else "individual",
        accumulators=(coverage.accumulators if coverage and coverage.accumulators else Accumulators()),
        negotiated_rates=catalog.negotiated_rates.get((payer_id, program_id), ()) if payer_id else (),
        reference_rates=catalog.reference_rates.get(payer_id, {}) if payer_id else {},
        household=household,
        poverty_guidelines=catalog.poverty_guidelines,
        sliding_policy=catalog.sliding_policy_for(program_id),
        payment_plan_policy=catalog.payment_plan_policy_for(program_id),
        down_payment=payment_plan.down_payment if payment_plan else Decimal("0"),
        plan_effective_date=plan.effective_date if plan_id and (plan := catalog.plans.get(plan_id)) else None,
    )
    return pricing, plan_id


def time_ordered_uuid() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then randomness.  New ids land
    at the right edge of the primary-key index instead of on random pages."""
    value = (time.time_ns() // 1_000_000) << 80 | _random_80_bits()
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return uuid.UUID(int=value)


#: 80 random bits per estimate id: with the 48-bit time, the 128 bits of a UUIDv7.
_ID_RANDOMNESS = RandomDraws(10)


def _random_80_bits() -> int:
    """80 bits from the operating system's CSPRNG: an estimate's id is its URL, so it must
    not be guessable."""
    return int.from_bytes(_ID_RANDOMNESS.draw(), "big")


def _memo_key(*parts: Any) -> bytes:
    return _encoder.encode(parts)


#: Estimates priced by (level of care, network status, memo hit), for ``metrics.estimates``.
Tally = collections.Counter[tuple[str, str, bool]]


def price(catalog: Catalog, request: EstimateRequest, today: dt.date, *, include_claims: bool = False,
          tally: Tally | None = None) -> Priced:
    """Price one episode and encode the estimate document.  It is counted in the metrics,
    or in ``tally`` when given (a batch counts its items once, at the end).

    An estimate is a pure function of the request, the catalog snapshot and the
    date, so the priced document (all but its id and timestamp) is memoized on the
    catalog snapshot itself: a tariff change loads a new snapshot and so starts a
    new memo.  The locator asks the same questions over and over (the same plan
    at the same programs); a hit skips the engine but still stores a new estimate.
    """
    key = _memo_key(request, today, include_claims)
    memo = catalog.pricing_memo
    hit = memo.get(key)
    if hit is None:
        pricing, plan_id = build_pricing_request(catalog, request, today)
        pricing.include_claims = include_claims
        priced = price_episode(pricing)
        verification_id = request.coverage.verification_id if request.coverage is not None else None
        tail = document_tail(priced, plan_id, pricing.benefits.payer_id if pricing.benefits else None,
                             verification_id)
        # Only atoms in the memo (bytes, a Decimal): it holds thousands of answers, and a
        # memo of priced Structs and their lists was what the cyclic collector's full scans
        # walked (docs/PERFORMANCE.md, "The batch tail").
        hit = (priced.totals.patient_pays, tail, hashlib.sha256(tail).digest(), priced.network_status)
        with contextlib.suppress(ValueError):  # a document larger than the whole memo is not kept
            memo[key] = hit
        memo_hit = False
    else:
        memo_hit = True
    patient_pays, tail, digest, network_status = hit
    if tally is None:
        metrics.estimate(request.level_of_care, network_status, memo_hit=memo_hit)
    else:
        tally[request.level_of_care, network_status, memo_hit] += 1
    estimate_id = time_ordered_uuid()
    created_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return Priced(estimate_id, created_at, request.program_id, request.level_of_care,
                  document_head(estimate_id, created_at) + tail, patient_pays, tail, digest)


def price_batch(catalog: Catalog, batch: BatchRequest, today: dt.date) -> list[Priced | ServiceError | DomainError]:
    """Each item priced with the batch's shared coverage, episode and household, from
    one snapshot; an item that cannot be priced is its error, in its place."""
    results: list[Priced | ServiceError | DomainError] = []
    tally: Tally = collections.Counter()
    for item in batch.items:
        request = EstimateRequest(
            program_id=item.program_id, level_of_care=item.level_of_care, coverage=batch.coverage,
            episode=batch.episode, household=batch.household, payment_plan=batch.payment_plan,
        )  # fmt: skip
        try:
            results.append(price(catalog, request, today, tally=tally))
        except (ServiceError, DomainError) as exc:
            results.append(exc)
    metrics.estimates(tally)
    return results


def compare(catalog: Catalog, request: CompareRequest, today: dt.date) -> list[Priced]:
    """One estimate per level the program offers, cheapest first (then by level)."""
    program = catalog.programs.get(request.program_id)
    if program is None:
        raise NotFound(f"unknown program '{request.program_id}'", field="program_id")
    tally: Tally = collections.Counter()
    priced = [
        price(catalog, EstimateRequest(
            program_id=request.program_id, level_of_care=level, coverage=request.coverage,
            episode=episode_for_level(request.episode, level) if request.episode else None,
            household=request.household, payment_plan=request.payment_plan,
        ), today, tally=tally)
        for level in program.levels
    ]  # fmt: skip
    metrics.estimates(tally)
    priced.sort(key=lambda p: (p.patient_pays, p.level_of_care))
    return priced


class EstimateWriter:
    """Stores estimates with group commit on one dedicated connection.

    Requests that arrive while an INSERT is in flight are written together by the
    next one, so a busy server makes one round trip for many estimates.  ``store``
    returns True only once its rows are committed *durably* (synchronous commit: an
    estimate answered ``201`` survives a PostgreSQL crash), so a GET right after the
    POST always finds it.  The connection is its own (not the pool's): a pooled
    connection costs a reset round trip on every release.

    When the database cannot take the rows (stopped, frozen past ``timeout``,
    restarting), ``store`` returns False: the caller answers the estimate as not
    stored.  The writer is then *down*: every ``store`` returns False at once (no
    request waits for a dead server) while one background task reconnects every
    ``retry_delay`` seconds; the first connection that works brings it back.
    """

    def __init__(self, dsn: str, max_rows: int = 500, *, timeout: float = 2.0, connect_timeout: float = 2.0,
                 retry_delay: float = 1.0, outage: Dependency | None = None):
        self._dsn = dsn
        self._max_rows = max_rows
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._retry_delay = retry_delay
        self._outage = outage
        self._conn: asyncpg.Connection | None = None
        # Digests of documents this process has committed: not sent again.
        self._stored: set[bytes] = set()
        self._waiting: list[tuple[list[Priced], asyncio.Future[bool]]] = []
        self._draining = False
        self._reconnecting: asyncio.Task[None] | None = None
        self.down = False

    async def close(self) -> None:
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            # statement_timeout: the server gives up on a stuck INSERT too (a lock, a
            # full disk), not only this client.
            self._conn = await open_connection(
                self._dsn, timeout=self._connect_timeout, command_timeout=self._timeout,
                server_settings={"statement_timeout": str(int(self._timeout * 1000))},
            )
        return self._conn

    async def store(self, priced: list[Priced]) -> bool:
        """True once ``priced`` is committed; False when the database cannot take it now."""
        if not priced:
            return True
        if self.down:
            self._failed(None)
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((priced, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    def _failed(self, exc: BaseException | None) -> None:
        if self._outage is not None:
            self._outage.failed(exc)

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group: list[tuple[list[Priced], asyncio.Future[bool]]] = []
                rows = 0
                while self._waiting and rows < self._max_rows:
                    item = self._waiting.pop(0)
                    group.append(item)
                    rows += len(item[0])
                priced = [p for items, _ in group for p in items]
                try:
                    await insert(await self._connection(), priced, self._stored)
                except UNAVAILABLE as exc:
                    self._go_down(exc)
                    # Everyone waiting gets the same answer now, not after a timeout each.
                    group, self._waiting = group + self._waiting, []
                    for _, future in group:
                        if not future.done():
                            self._failed(exc)
                            future.set_result(False)
                except Exception as exc:  # noqa: BLE001 - a bug: every waiter gets the error
                    self._forget_connection()
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for _, future in group:
                        if not future.done():
                            future.set_result(True)
        finally:
            self._draining = False

    def _forget_connection(self) -> None:
        self._stored.clear()  # not sure what committed: send documents again
        if self._conn is not None and not self._conn.is_closed():
            self._conn.terminate()  # start from a fresh connection next time
        self._conn = None

    def _go_down(self, exc: BaseException) -> None:
        self._forget_connection()
        self.down = True
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect(), name="estimate-writer")

    async def _reconnect(self) -> None:
        while self.down:
            await asyncio.sleep(self._retry_delay)
            try:
                conn = await self._connection()
                await conn.execute("SELECT 1")
            except Exception as exc:  # noqa: BLE001 - whatever keeps it away (a dropped database, a bad password…)
                self._forget_connection()
                if not isinstance(exc, UNAVAILABLE):
                    self._failed(exc)  # reported under the outage; a refusal was already
                continue
            self.down = False
            if self._outage is not None:
                self._outage.ok()


async def insert(conn: asyncpg.Connection | asyncpg.Pool, priced: list[Priced],
                 stored: set[bytes] | None = None) -> None:
    """Store estimates, each distinct document once.  ``stored`` holds digests known
    to be committed already (updated here); ON CONFLICT covers the other processes."""
    if not priced:
        return
    known = stored if stored is not None else set()
    documents: dict[bytes, str] = {}
    for p in priced:
        if p.digest not in known and p.digest not in documents:
            documents[p.digest] = p.tail.decode()
    await conn.execute(
        Q.insert_estimates,
        list(documents), list(documents.values()),
        [p.estimate_id for p in priced], [p.created_at for p in priced],
        [p.program_id for p in priced], [p.level_of_care for p in priced], [p.digest for p in priced],
    )
    if stored is not None:
        if len(stored) > 100_000:
            stored.clear()
        stored.update(documents)


async def fetch(pool: asyncpg.Pool, estimate_id: str) -> bytes:
    """The stored estimate document, byte for byte as it was answered."""
    try:
        key = uuid.UUID(estimate_id)
    except ValueError:
        raise NotFound(f"no estimate '{estimate_id}'", field="estimate_id") from None
    row = await pool.fetchrow(Q.get_estimate, key)
    if row is None:
        raise NotFound(f"no estimate '{estimate_id}'", field="estimate_id")
    return document_head(row["estimate_id"], row["created_at"]) + row["tail"].encode()
