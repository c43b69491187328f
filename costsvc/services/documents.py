"""Document use cases: issue and read Good Faith Estimates; an insured estimate as an
Advanced EOB.

A GFE re-prices a stored estimate's program, level of care, episode and
household **as self-pay**, whatever coverage the estimate used, with the same
engine and request resolution as ``POST /v1/estimates``.  A stored estimate
keeps its episode as start, end and units (laid out again here) and its
household only as the sliding-scale placement it earned (``selfpay.tier``):
the household itself (income) is not stored, so the GFE applies that same tier
unless the request sends a household to place afresh.  docs/DOCUMENTS.md.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Container
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec

from costsvc.catalog import Catalog
from costsvc.db.queries import Q
from costsvc.documents.fhir import PlanInfo, advanced_eob_bundle
from costsvc.domain import gfe
from costsvc.domain.engine import price_episode
from costsvc.domain.model import Household, PricedEpisode, SlidingTier
from costsvc.phi import PhiDecryptError, PhiVault
from costsvc.services import estimates
from costsvc.services.errors import Conflict, FieldProblem, InvalidInput, NotFound, Unavailable
from costsvc.services.requests import EstimateRequest

GFE_ID_BYTES = 18  # 144 random bits, 24 URL-safe characters
_GFE_ID_LENGTH = len(secrets.token_urlsafe(GFE_ID_BYTES))
_GFE_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
NO_KEY = ("PHI cannot be stored or read: no PHI encryption key is configured (set COSTSVC_PHI_KEY to one or "
          "more Fernet keys)")


class IssueGfe(msgspec.Struct, frozen=True):
    estimate_id: str
    name: str
    date_of_birth: dt.date
    diagnosis_codes: list[str] = []
    scheduled_date: dt.date | None = None
    requested_by: gfe.RequestedBy = "patient"
    requested_on: dt.date | None = None  # when the service was scheduled or the GFE asked for; default today
    household: Household | None = None


class StoredEstimate(msgspec.Struct, frozen=True):
    """A stored estimate document, as the engine priced it, with the ids the API added."""

    estimate_id: str
    created_at: dt.datetime
    priced: PricedEpisode
    plan_id: str | None
    payer_id: str | None


class _Ids(msgspec.Struct):
    estimate_id: str
    created_at: dt.datetime
    plan_id: str | None = None
    payer_id: str | None = None


async def load_estimate(pool: asyncpg.Pool, estimate_id: str) -> StoredEstimate:
    body = await estimates.fetch(pool, estimate_id)  # NotFound when there is none
    ids = msgspec.json.decode(body, type=_Ids)
    return StoredEstimate(ids.estimate_id, ids.created_at, msgspec.json.decode(body, type=PricedEpisode),
                          ids.plan_id, ids.payer_id)


def _check(cmd: IssueGfe, today: dt.date) -> list[FieldProblem]:
    problems = [FieldProblem(f, m) for f, m in gfe.check_patient(cmd.name, cmd.date_of_birth, today)]
    problems += [FieldProblem(f, m) for f, m in gfe.check_diagnosis_codes(cmd.diagnosis_codes)]
    requested_on = cmd.requested_on or today
    if cmd.requested_on is not None and cmd.requested_on > today:
        problems.append(FieldProblem("requested_on", "must not be in the future"))
    if cmd.scheduled_date is not None and cmd.scheduled_date < requested_on:
        problems.append(FieldProblem("scheduled_date", "must not be before the day it was scheduled "
                                     "(requested_on, default today)"))
    return problems


def provider_of(catalog: Catalog, program_id: str, level_of_care: str) -> gfe.GfeProvider:
    program = catalog.programs.get(program_id)
    if program is None:
        raise NotFound(f"the estimate's program '{program_id}' is no longer offered", field="estimate_id")
    pos, pos_name = gfe.PLACE_OF_SERVICE[level_of_care]
    return gfe.GfeProvider(program.program_id, program.name, program.npi, program.tin, program.state, pos, pos_name)


def price_as_self_pay(catalog: Catalog, stored: StoredEstimate, *, scheduled_date: dt.date | None,
                      household: Household | None, today: dt.date) -> tuple[PricedEpisode, Decimal | None]:
    """The stored estimate priced again as self-pay; also the FPL % its sliding tier came from
    when the stored placement is carried over."""
    p = stored.priced
    program = catalog.programs.get(p.program_id)
    if program is None:
        raise NotFound(f"the estimate's program '{p.program_id}' is no longer offered", field="estimate_id")
    if p.level_of_care not in program.levels:
        raise NotFound(f"the estimate's program no longer offers {p.level_of_care}", field="estimate_id")
    episode = gfe.episode_from_summary(p.level_of_care, p.episode.start_date, p.episode.end_date, p.episode.units)
    if scheduled_date is not None:
        # The GFE's dates are the scheduled ones: the episode starts on the scheduled date.
        episode = msgspec.structs.replace(episode, start_date=scheduled_date)
    carried_fpl = None
    policy_override: tuple[SlidingTier, ...] | None = None
    if household is None and p.selfpay is not None and p.selfpay.tier is not None:
        sp = p.selfpay
        # One tier, the one the estimate's household earned, and a household that lands in it.
        policy_override = (SlidingTier(max_fpl_percent=Decimal(0), discount_percent=sp.discount_percent,
                                       nominal_fee=sp.nominal_fee if sp.discount_percent is None else None,
                                       name=sp.tier),)
        household = Household(size=1, annual_income=Decimal(0), state=program.state)
        carried_fpl = sp.fpl_percent
    request, _ = estimates.build_pricing_request(
        catalog, EstimateRequest(program_id=p.program_id, level_of_care=p.level_of_care, episode=episode,
                                 household=household), today,
    )
    if policy_override is not None:
        request = msgspec.structs.replace(request, sliding_policy=policy_override)
    return price_episode(request), carried_fpl


def new_gfe_id() -> str:
    return secrets.token_urlsafe(GFE_ID_BYTES)


async def issue_gfe(pool: asyncpg.Pool, catalog: Catalog, vault: PhiVault | None, cmd: IssueGfe, *,
                    now: dt.datetime, calendar: Container[dt.date] | None = None) -> gfe.GfeContent:
    today = now.date()
    problems = _check(cmd, today)
    if problems:
        raise InvalidInput(problems)
    stored = await load_estimate(pool, cmd.estimate_id)
    if vault is None:
        raise Unavailable(NO_KEY, retry_after=3600)
    priced, carried_fpl = price_as_self_pay(catalog, stored, scheduled_date=cmd.scheduled_date,
                                            household=cmd.household, today=today)
    content = gfe.gfe_content(
        gfe_id=new_gfe_id(), estimate_id=stored.estimate_id, issued_at=now, requested_by=cmd.requested_by,
        requested_on=cmd.requested_on or today, scheduled_date=cmd.scheduled_date, priced=priced,
        provider=provider_of(catalog, priced.program_id, priced.level_of_care),
        calendar=calendar if calendar is not None else gfe.us_federal_holidays(), fpl_percent=carried_fpl,
    )
    if content.valid_until < content.issued_on:
        raise InvalidInput.one("scheduled_date", "the episode would be over before this GFE is issued; "
                               "a GFE covers services still to come")
    phi = gfe.GfePhi(name=gfe.normalize_name(cmd.name), date_of_birth=cmd.date_of_birth,
                     diagnosis_codes=[gfe.normalize_diagnosis_code(c) for c in cmd.diagnosis_codes])
    await pool.execute(
        Q.insert_gfe, content.gfe_id, uuid.UUID(stored.estimate_id), content.issued_at, content.issued_on,
        content.valid_until, content.requested_by, priced.program_id, priced.level_of_care,
        content.total_expected_charges, content.deadline.due_by, content.deadline.met,
        msgspec.json.encode(content).decode(), vault.encrypt(msgspec.json.encode(phi)),
    )
    return content


def _valid_gfe_id(gfe_id: str) -> bool:
    return len(gfe_id) == _GFE_ID_LENGTH and set(gfe_id) <= _GFE_ID_CHARS


async def read_gfe(pool: asyncpg.Pool, vault: PhiVault | None, gfe_id: str) -> gfe.GfeView:
    """The GFE's view model (decrypts its PHI)."""
    # The id is never echoed: whoever has it can read the GFE.
    missing = NotFound("no such Good Faith Estimate", field="gfe_id")
    if not _valid_gfe_id(gfe_id):
        raise missing
    row = await pool.fetchrow(Q.get_gfe, gfe_id)
    if row is None:
        raise missing
    if vault is None:
        raise Unavailable(NO_KEY, retry_after=3600)
    try:
        phi = msgspec.json.decode(vault.decrypt(row["phi"]), type=gfe.GfePhi)
    except PhiDecryptError:
        raise Unavailable("this Good Faith Estimate's PHI does not decrypt under the configured keys "
                          "(was its key removed from COSTSVC_PHI_KEY?)", retry_after=3600) from None
    return gfe.gfe_view(msgspec.json.decode(row["content"], type=gfe.GfeContent), phi)


class GfeSummary(msgspec.Struct):
    gfe_id: str
    estimate_id: uuid.UUID
    issued_at: dt.datetime
    issued_on: dt.date
    valid_until: dt.date
    requested_by: str
    program_id: str
    level_of_care: str
    total_expected_charges: Decimal
    deadline: dt.date | None
    deadline_met: bool


class GfePage(msgspec.Struct):
    gfes: list[GfeSummary]
    next_cursor: str | None


MAX_PAGE = 500


def _cursor(row: GfeSummary) -> str:
    return f"{row.issued_at.astimezone(dt.UTC).isoformat()}~{row.gfe_id}"


def _parse_cursor(text: str) -> tuple[dt.datetime, str]:
    stamp, sep, gfe_id = text.partition("~")
    try:
        at = dt.datetime.fromisoformat(stamp)
    except ValueError:
        at = None
    if not sep or at is None or at.tzinfo is None or not _valid_gfe_id(gfe_id):
        raise InvalidInput.one("cursor", "is not a cursor this list returned")
    return at, gfe_id


async def list_gfes(pool: asyncpg.Pool, *, issued_from: dt.date, issued_to: dt.date, limit: int = 100,
                    cursor: str | None = None) -> GfePage:
    """GFEs issued in a date range, oldest first, without their PHI (nothing is decrypted)."""
    problems = []
    if issued_to < issued_from:
        problems.append(FieldProblem("to", "must not be before from"))
    if not 1 <= limit <= MAX_PAGE:
        problems.append(FieldProblem("limit", f"must be between 1 and {MAX_PAGE}"))
    if problems:
        raise InvalidInput(problems)
    after_at, after_id = _parse_cursor(cursor) if cursor else (None, None)
    rows = await pool.fetch(Q.list_gfes, issued_from, issued_to, after_at, after_id, limit + 1)
    items = [GfeSummary(**dict(r)) for r in rows[:limit]]
    return GfePage(items, _cursor(items[-1]) if len(rows) > limit else None)


async def advanced_eob(pool: asyncpg.Pool, catalog: Catalog, estimate_id: str) -> dict[str, Any]:
    """An insured estimate as a PCT Advanced EOB Bundle (plain dict, see documents.fhir)."""
    stored = await load_estimate(pool, estimate_id)
    p = stored.priced
    if p.network_status == "self_pay":
        raise Conflict(f"estimate '{estimate_id}' is self-pay: it has no Advanced EOB; a self-pay person gets "
                       f"a Good Faith Estimate (POST /v1/estimates/{estimate_id}/gfe)")
    provider = provider_of(catalog, p.program_id, p.level_of_care)
    plan = catalog.plans.get(stored.plan_id) if stored.plan_id else None
    payer_id = stored.payer_id or (plan.payer_id if plan else None)
    info = PlanInfo(
        plan_id=stored.plan_id, plan_name=plan.plan_name if plan else None, payer_id=payer_id,
        payer_name=catalog.payers.get(payer_id) if payer_id else None, benefits=plan.benefits if plan else None,
    )
    return advanced_eob_bundle(estimate_id=stored.estimate_id, created_at=stored.created_at, priced=p,
                               provider=provider, plan=info)
