"""Policy use cases: where a household falls on a program's sliding scale, what a
program's payment plans would be for an amount, and which policies are in force.

Everything reads the in-memory catalog snapshot (the policies an import activated,
costsvc.catalog), like the estimates: no SQL per request.  The arithmetic is the
domain's (``costsvc.domain.selfpay``, ``costsvc.domain.payment_plans``), the same the
estimates use, so an answer here is what an estimate of the program would show.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from costsvc.catalog import Catalog
from costsvc.domain.model import (
    Household,
    Identifier,
    InputStruct,
    Money,
    PaymentPlanQuote,
    PaymentTerm,
    SlidingTier,
)
from costsvc.domain.money import cents
from costsvc.domain.payment_plans import check_down_payment, payment_plans
from costsvc.domain.selfpay import DEFAULT_SLIDING_POLICY, assess, region_for_state
from costsvc.services.errors import NotFound
from costsvc.services.estimates import check_household

PolicyOrigin = Literal["program", "default"]
#: Guideline years a request may ask for (HHS has published them since 1965).
GuidelineYear = Annotated[int, msgspec.Meta(ge=1965, le=2200)]


# ----------------------------------------------------------------------------- commands


class SlidingScaleRequest(InputStruct):
    program_id: Identifier
    household: Household
    year: GuidelineYear | None = None  # default: this year


class PaymentQuoteRequest(InputStruct):
    program_id: Identifier
    amount: Money
    down_payment: Money | None = None  # default: the program's minimum, else 0


# ----------------------------------------------------------------------------- read models


class SlidingScaleResult(msgspec.Struct):
    program_id: str
    year: int  # the guideline year used (the latest not after the year asked for)
    region: str
    fpl_percent: Decimal
    guideline: Decimal
    tier: str | None
    discount_percent: Decimal | None
    nominal_fee: Decimal | None
    policy: PolicyOrigin


class PaymentQuotes(msgspec.Struct):
    program_id: str
    amount: Decimal
    down_payment: Decimal
    policy: PolicyOrigin
    quotes: list[PaymentPlanQuote]


class SlidingScaleInForce(msgspec.Struct):
    """A program's sliding scale: its own (``program``) or the service's (``default``)."""

    policy: PolicyOrigin
    tiers: list[SlidingTier]
    effective_date: dt.date | None = None  # a program policy's
    version_id: int | None = None
    import_id: uuid.UUID | None = None


class PaymentTermsInForce(msgspec.Struct):
    policy: PolicyOrigin
    terms: list[PaymentTerm]
    min_down_payment: Decimal | None = None
    effective_date: dt.date | None = None
    version_id: int | None = None
    import_id: uuid.UUID | None = None


# ----------------------------------------------------------------------------- use cases


def _require_program(catalog: Catalog, program_id: str) -> None:
    if program_id not in catalog.programs:
        raise NotFound(f"unknown program '{program_id}'", field="program_id")


def sliding_scale(catalog: Catalog, request: SlidingScaleRequest, today: dt.date) -> SlidingScaleResult:
    """Place the household on the program's sliding scale for ``year`` (default: this year)."""
    _require_program(catalog, request.program_id)
    check_household(request.household)
    year = request.year or today.year
    tiers = catalog.sliding_policy_for(request.program_id)
    region = region_for_state(request.household.state)
    placed = assess(request.household, year, catalog.poverty_guidelines, tiers)
    tier = placed.tier
    return SlidingScaleResult(
        program_id=request.program_id, year=placed.guideline_year or year, region=region,
        fpl_percent=placed.fpl_percent, guideline=cents(placed.guideline), tier=placed.tier_name,
        discount_percent=tier.discount_percent if tier else None, nominal_fee=tier.nominal_fee if tier else None,
        policy="program" if tiers is not None else "default",
    )  # fmt: skip


def quote(catalog: Catalog, request: PaymentQuoteRequest) -> PaymentQuotes:
    """The program's payment plans for ``amount`` after the down payment."""
    _require_program(catalog, request.program_id)
    policy = catalog.payment_plan_policy_for(request.program_id)
    amount = cents(request.amount)
    down = cents(request.down_payment if request.down_payment is not None
                 else policy.min_down_payment or Decimal(0))
    check_down_payment(amount, down, policy)
    return PaymentQuotes(
        program_id=request.program_id, amount=amount, down_payment=down,
        policy="program" if request.program_id in catalog.payment_plan_policies else "default",
        quotes=payment_plans(amount, down, policy),
    )  # fmt: skip


def in_force(catalog: Catalog, program_id: str) -> tuple[SlidingScaleInForce, PaymentTermsInForce]:
    """The program's sliding scale and payment terms in force, and where they came from."""
    sliding = catalog.sliding_policies.get(program_id)
    payment = catalog.payment_plan_policies.get(program_id)
    policy = catalog.payment_plan_policy_for(program_id)
    scale = SlidingScaleInForce("default", list(DEFAULT_SLIDING_POLICY))
    if sliding is not None:
        s = sliding.source
        scale = SlidingScaleInForce("program", list(sliding.tiers), s.effective_date, s.version_id, s.import_id)
    terms = PaymentTermsInForce("default", list(policy.term_offers()), policy.min_down_payment)
    if payment is not None:
        s = payment.source
        terms = PaymentTermsInForce("program", list(policy.term_offers()), policy.min_down_payment,
                                    s.effective_date, s.version_id, s.import_id)
    return scale, terms
