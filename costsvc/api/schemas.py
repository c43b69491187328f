"""Request and response schemas of the HTTP API (msgspec Structs).

Request structs reuse the domain vocabulary (``Benefits``, ``Accumulators``,
``EpisodeRequest``, ``Household``) so that what staff send inline and what the
coverage tables store have one shape.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from costsvc.domain.model import (
    Accumulators,
    Benefits,
    EpisodeRequest,
    Household,
    InputStruct,
    LevelOfCare,
    Money,
    NetworkChoice,
    Tier,
)
from costsvc.domain.verification import ParityFlag

MAX_BATCH_ITEMS = 200

# The 50 states and DC: the regions the HHS poverty guidelines cover (AK and HI
# have their own; the rest share the "48 states + DC" guideline).
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)

Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class CoverageRequest(InputStruct):
    plan_id: Slug | None = None
    benefits: Benefits | None = None
    network: NetworkChoice = "auto"
    tier: Tier = "individual"
    accumulators: Accumulators | None = None
    # A recorded verification (staff/admin key): its effective benefits and accumulators,
    # instead of plan_id/benefits (docs/VERIFICATION.md).
    verification_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


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


# ---------------------------------------------------------------- responses (documentation)


class PayerOut(msgspec.Struct):
    payer_id: str
    name: str
    plans: int


class PlanOut(msgspec.Struct):
    plan_id: str
    payer_id: str
    plan_name: str
    plan_type: str | None
    effective_date: dt.date
    benefits: Benefits
    # Behavioral levels stricter than the plan's medsurg_* comparison rows: prompts for review.
    parity_flags: list[ParityFlag] = []


class ProgramOut(msgspec.Struct):
    program_id: str
    name: str
    state: str
    npi: str | None
    tin: str | None
    levels_of_care: list[str]
    fee_schedule: dict[str, list[dict[str, Any]]]
    sliding_scale: list[dict[str, Any]] | None
    payment_plans: dict[str, Any]
