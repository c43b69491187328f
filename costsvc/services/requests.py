"""What the estimate use cases take: a request to price one episode, a batch of
programs, or every level of one program.

These Structs are the commands of ``costsvc.services.estimates`` and the HTTP
bodies of ``/v1/estimates`` alike; they reuse the domain vocabulary
(``Benefits``, ``Accumulators``, ``EpisodeRequest``, ``Household``) so that what
staff send inline and what the coverage tables store have one shape.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec

from costsvc.domain.model import (
    Accumulators,
    Benefits,
    EpisodeRequest,
    Household,
    Identifier,
    InputStruct,
    LevelOfCare,
    Money,
    NetworkChoice,
    Tier,
)

MAX_BATCH_ITEMS = 200

class CoverageRequest(InputStruct):
    """A stored plan (``plan_id``), benefits sent inline (``benefits``), or a recorded
    verification (``verification_id``, staff or admin key): exactly one."""

    plan_id: Identifier | None = None
    benefits: Benefits | None = None
    network: NetworkChoice = "auto"
    tier: Tier = "individual"
    accumulators: Accumulators | None = None
    # A recorded verification: its effective benefits and accumulators (docs/VERIFICATION.md).
    verification_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] | None = None

    @staticmethod
    def cross_field_problems(raw: dict[str, Any]) -> list[tuple[str, str]]:
        """What the body validator adds to the schema's checks (the rules across fields)."""
        given = [name for name in ("plan_id", "benefits", "verification_id") if raw.get(name) is not None]
        if len(given) > 1:
            message = "send one of coverage.plan_id, coverage.benefits or coverage.verification_id"
            return [(name, message) for name in given]
        if not given:
            return [("", "needs plan_id, benefits or verification_id (omit coverage for self-pay)")]
        return []


class PaymentPlanRequest(InputStruct):
    down_payment: Money = Decimal("0")


class EstimateRequest(InputStruct):
    program_id: Identifier
    level_of_care: LevelOfCare
    coverage: CoverageRequest | None = None
    episode: EpisodeRequest | None = None
    household: Household | None = None
    payment_plan: PaymentPlanRequest | None = None


class CompareRequest(InputStruct):
    program_id: Identifier
    coverage: CoverageRequest | None = None
    episode: EpisodeRequest | None = None
    household: Household | None = None
    payment_plan: PaymentPlanRequest | None = None


class BatchItem(InputStruct):
    program_id: Identifier
    level_of_care: LevelOfCare


class BatchRequest(InputStruct):
    items: Annotated[list[BatchItem], msgspec.Meta(min_length=1, max_length=MAX_BATCH_ITEMS)]
    coverage: CoverageRequest | None = None
    episode: EpisodeRequest | None = None
    household: Household | None = None
    payment_plan: PaymentPlanRequest | None = None
