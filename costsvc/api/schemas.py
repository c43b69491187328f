"""Response schemas of the HTTP API (msgspec Structs).  The request bodies of the
estimate routes are the commands of the estimate use cases (``costsvc.services.requests``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec

from costsvc.api.problems import Problem
from costsvc.domain.levels import LevelInfo
from costsvc.domain.model import (
    Benefits,
    FeeLine,
    LevelOfCare,
    PricedEpisode,
)
from costsvc.domain.verification import ParityFlag
from costsvc.services.policies import PaymentTermsInForce, SlidingScaleInForce
from costsvc.services.requests import MAX_BATCH_ITEMS


class Estimate(PricedEpisode, kw_only=True):
    """A priced episode: what it will cost, claim by claim summed up, with the notices that apply.
    Money is a string with exactly two decimals."""

    estimate_id: uuid.UUID
    created_at: dt.datetime
    plan_id: str | None
    payer_id: str | None
    stored: Annotated[bool, msgspec.Meta(
        description="Absent on a stored estimate. `false` when the database was unavailable: the estimate "
                    "was priced from the tariffs in memory but not stored (no Location, not retrievable; "
                    "`notices` has `not_stored`).")] = True


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
    # Behavioral levels stricter than the plan's medsurg_* comparison rows: prompts for review.
    parity_flags: list[ParityFlag] = []


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
    """A program, the levels it offers, its fee schedule and the self-pay policies in force."""

    program_id: str
    name: str
    state: str
    npi: str | None
    tin: str | None
    levels_of_care: list[LevelOfCare]
    fee_schedule: dict[LevelOfCare, list[FeeLine]]
    sliding_scale: SlidingScaleInForce
    payment_terms: PaymentTermsInForce
