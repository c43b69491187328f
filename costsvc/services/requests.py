"""What the estimate use cases take: a request to price one episode, a batch of
programs, or every level of one program.

These Structs are the commands of ``costsvc.services.estimates`` and the HTTP
bodies of ``/v1/estimates`` alike; they reuse the domain vocabulary
(``Benefits``, ``Accumulators``, ``EpisodeRequest``, ``Household``) so that what
staff send inline and what the coverage tables store have one shape.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

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

MAX_BATCH_ITEMS = 200

Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class CoverageRequest(InputStruct):
    plan_id: Slug | None = None
    benefits: Benefits | None = None
    network: NetworkChoice = "auto"
    tier: Tier = "individual"
    accumulators: Accumulators | None = None


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
