"""Request and response schemas of the HTTP API (msgspec Structs).

Request structs reuse the domain vocabulary (``Benefits``, ``Accumulators``,
``EpisodeRequest``, ``Household``) so that what staff send inline and what the
coverage tables store have one shape.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from costsvc.api.problems import Problem
from costsvc.domain.levels import LevelInfo
from costsvc.domain.model import (
    Accumulators,
    Benefits,
    EpisodeRequest,
    FeeLine,
    Household,
    Identifier,
    InputStruct,
    LevelOfCare,
    Money,
    NetworkChoice,
    PaymentPlanPolicy,
    PricedEpisode,
    SlidingTier,
    Tier,
)

MAX_BATCH_ITEMS = 200

# The 50 states and DC: the regions the HHS poverty guidelines cover (AK and HI
# have their own; the rest share the "48 states + DC" guideline).
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)

Slug = Identifier


class CoverageRequest(InputStruct):
    """A stored plan (``plan_id``) or benefits sent inline (``benefits``): exactly one."""

    plan_id: Slug | None = None
    benefits: Benefits | None = None
    network: NetworkChoice = "auto"
    tier: Tier = "individual"
    accumulators: Accumulators | None = None

    @staticmethod
    def cross_field_problems(raw: dict[str, Any]) -> list[tuple[str, str]]:
        plan_id, benefits = raw.get("plan_id"), raw.get("benefits")
        if plan_id is not None and benefits is not None:
            message = "send either coverage.plan_id or coverage.benefits, not both"
            return [("plan_id", message), ("benefits", message)]
        if plan_id is None and benefits is None:
            return [("", "needs plan_id or benefits (omit coverage for self-pay)")]
        return []


class PaymentPlanRequest(InputStruct):
    down_payment: Money = Decimal("0")


class EstimateRequest(InputStruct):
    program_id: Slug
    level_of_care: LevelOfCare
    coverage: CoverageRequest | None = None
    episode: EpisodeRequest | None = None
    household: Household | None = None
    payment_plan: PaymentPlanRequest | None = None


class CompareRequest(InputStruct):
    program_id: Slug
    coverage: CoverageRequest | None = None
    episode: EpisodeRequest | None = None
    household: Household | None = None
    payment_plan: PaymentPlanRequest | None = None


class BatchItem(InputStruct):
    program_id: Slug
    level_of_care: LevelOfCare


class BatchRequest(InputStruct):
    items: Annotated[list[BatchItem], msgspec.Meta(min_length=1, max_length=MAX_BATCH_ITEMS)]
    coverage: CoverageRequest | None = None
    episode: EpisodeRequest | None = None
    household: Household | None = None
    payment_plan: PaymentPlanRequest | None = None


# ---------------------------------------------------------------- responses
# Typed so that the OpenAPI document shows every field; estimates are encoded once by
# the service (``Priced.body``) and only documented by ``Estimate``.


class Estimate(PricedEpisode, kw_only=True):
    """A priced episode: what it will cost, claim by claim summed up, with the notices that apply.
    Money is a string with exactly two decimals."""

    estimate_id: uuid.UUID
    created_at: dt.datetime
    plan_id: str | None
    payer_id: str | None


class BatchItemError(msgspec.Struct):
    """A batch item that could not be priced, in its place in ``results``."""

    error: Problem


class BatchResults(msgspec.Struct):
    """One result per item, in item order: an estimate, or ``{"error": problem}``."""

    results: Annotated[
        list[Any],
        msgspec.Meta(
            max_length=MAX_BATCH_ITEMS,
            extra_json_schema={"items": {"anyOf": [{"$ref": "#/components/schemas/Estimate"},
                                                   {"$ref": "#/components/schemas/BatchItemError"}]}},
        ),
    ]


class Comparison(msgspec.Struct):
    """One estimate per level of care the program offers, cheapest first."""

    program_id: str
    estimates: list[Estimate]


class PayerOut(msgspec.Struct):
    """A payer with stored plans."""

    payer_id: str
    name: str
    plans: int


class PayerList(msgspec.Struct):
    payers: list[PayerOut]


class PlanOut(msgspec.Struct):
    """A stored plan and its benefits (the ``plan_id`` to send in ``coverage``)."""

    plan_id: str
    payer_id: str
    plan_name: str
    plan_type: str | None
    effective_date: dt.date
    benefits: Benefits


class PlanList(msgspec.Struct):
    plans: list[PlanOut]


class PlanPage(msgspec.Struct):
    """A page of plans: ``total`` matched, ``plans`` from ``offset``."""

    total: int
    offset: int
    limit: int
    plans: list[PlanOut]


class ProgramSummary(msgspec.Struct):
    """A program as a search result: what to send as ``program_id`` and the levels it offers."""

    program_id: str
    name: str
    state: str
    levels_of_care: list[LevelOfCare]
    in_network_payers: list[str]


class ProgramPage(msgspec.Struct):
    """A page of programs: ``total`` matched, ``programs`` from ``offset``."""

    total: int
    offset: int
    limit: int
    programs: list[ProgramSummary]


class LevelList(msgspec.Struct):
    levels_of_care: list[LevelInfo]


class ProgramOut(msgspec.Struct):
    """A program, the levels it offers, its fee schedule and its self-pay policies."""

    program_id: str
    name: str
    state: str
    npi: str | None
    tin: str | None
    levels_of_care: list[LevelOfCare]
    fee_schedule: dict[LevelOfCare, list[FeeLine]]
    sliding_scale: list[SlidingTier] | None
    payment_plans: PaymentPlanPolicy
