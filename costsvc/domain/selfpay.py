"""Sliding-fee discounts (HRSA model) and self-pay prices (docs/API.md, "Sliding scale").

The discount depends only on household income as a percentage of the HHS poverty
guideline for the household size, in the household's region (Alaska, Hawaii, or
the 48 contiguous states + DC), for the latest guideline year not after the
episode's start year.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from costsvc.domain.errors import DomainError, NoPovertyGuideline
from costsvc.domain.model import GuidelineRegion, Household, PovertyGuideline, SlidingTier
from costsvc.domain.money import HUNDRED, cents, plain

D = Decimal

# HHS poverty guidelines shipped with the service; the tariff import can add years.
DEFAULT_POVERTY_GUIDELINES: tuple[PovertyGuideline, ...] = (
    PovertyGuideline(2025, "48", D("15650"), D("5500")),
    PovertyGuideline(2025, "AK", D("19550"), D("6880")),
    PovertyGuideline(2025, "HI", D("17990"), D("6330")),
    PovertyGuideline(2026, "48", D("15960"), D("5680")),
    PovertyGuideline(2026, "AK", D("19950"), D("7100")),
    PovertyGuideline(2026, "HI", D("18360"), D("6530")),
)

# The policy used when a program has none (docs/API.md, "Sliding scale", tiers A–E).
DEFAULT_SLIDING_POLICY: tuple[SlidingTier, ...] = (
    SlidingTier(D("100"), nominal_fee=D("20.00"), name="A"),
    SlidingTier(D("125"), discount_percent=D("80"), name="B"),
    SlidingTier(D("150"), discount_percent=D("60"), name="C"),
    SlidingTier(D("175"), discount_percent=D("40"), name="D"),
    SlidingTier(D("200"), discount_percent=D("20"), name="E"),
)


class SlidingAssessment(msgspec.Struct, frozen=True):
    """Where a household falls on a sliding-fee policy.  ``tier`` None: above the last tier."""

    guideline: Decimal  # the poverty guideline for the household size, dollars a year
    fpl_percent: Decimal  # unrounded, plain decimal (no exponent)
    tier: SlidingTier | None
    tier_name: str | None
    guideline_year: int | None = None  # the year of the guideline used

    def price(self, cash: Decimal) -> Decimal:
        """One claim's self-pay price under this assessment (``cash`` already in cents)."""
        tier = self.tier
        if tier is None:
            return cash
        if tier.nominal_fee is not None:
            return min(cents(tier.nominal_fee), cash)
        return cents(cash * (HUNDRED - tier.discount_percent) / HUNDRED)


def region_for_state(state: str) -> GuidelineRegion:
    """AK and HI have their own guidelines; every other state, DC and territory uses the 48-state one."""
    code = state.strip().upper()
    if code == "AK" or code == "HI":
        return code  # type: ignore[return-value]
    return "48"


def find_guideline(guidelines: tuple[PovertyGuideline, ...], region: GuidelineRegion, year: int) -> PovertyGuideline:
    """The guideline of ``region`` for the latest year not after ``year``."""
    best: PovertyGuideline | None = None
    for g in guidelines:
        if g.region == region and g.year <= year and (best is None or g.year > best.year):
            best = g
    if best is None:
        where = "the 48 contiguous states and DC" if region == "48" else region
        raise NoPovertyGuideline("household", f"no poverty guideline for {where} for {year} or earlier")
    return best


def guideline_for(g: PovertyGuideline, size: int) -> Decimal:
    return g.base + g.per_additional_person * (size - 1)


def validate_policy(policy: tuple[SlidingTier, ...]) -> None:
    """Each tier has exactly one of discount and fee; tiers rise strictly in
    ``max_fpl_percent`` and only the last may be open-ended (None)."""
    previous: Decimal | None = None
    for i, tier in enumerate(policy):
        has_discount = tier.discount_percent is not None
        if has_discount == (tier.nominal_fee is not None):
            raise DomainError(f"sliding_policy[{i}]", "a tier has exactly one of discount_percent and nominal_fee")
        if has_discount and not (0 <= tier.discount_percent <= 100):  # type: ignore[operator]
            raise DomainError(f"sliding_policy[{i}].discount_percent", "must be between 0 and 100")
        if tier.nominal_fee is not None and tier.nominal_fee < 0:
            raise DomainError(f"sliding_policy[{i}].nominal_fee", "must not be negative")
        bound = tier.max_fpl_percent
        if (bound is None and i != len(policy) - 1) or (
                bound is not None and previous is not None and bound <= previous):
            raise DomainError(f"sliding_policy[{i}].max_fpl_percent",
                              "tiers must rise strictly in max_fpl_percent; only the last may be open-ended")
        previous = bound


def tier_name(policy: tuple[SlidingTier, ...], index: int) -> str:
    """The tier's own name, else a letter by position (A, B, C, ...)."""
    name = policy[index].name
    if name:
        return name
    return chr(ord("A") + index) if index < 26 else str(index + 1)


def assess(
    household: Household,
    year: int,
    guidelines: tuple[PovertyGuideline, ...],
    policy: tuple[SlidingTier, ...] | None,
) -> SlidingAssessment:
    """Place ``household`` on ``policy`` (the default policy when None) for an episode starting in ``year``.

    ``guidelines`` empty means the shipped ``DEFAULT_POVERTY_GUIDELINES``.  The tier
    test ``fpl_percent ≤ max_fpl_percent`` is done exactly, as
    ``income × 100 ≤ max × guideline``, so a 28-digit quotient never decides a tier.
    """
    if household.size < 1:
        raise DomainError("household.size", "must be at least 1")
    if household.annual_income < 0:
        raise DomainError("household.annual_income", "must not be negative")
    if policy is None:
        policy = DEFAULT_SLIDING_POLICY
    else:
        validate_policy(policy)
    g = find_guideline(guidelines or DEFAULT_POVERTY_GUIDELINES, region_for_state(household.state), year)
    amount = guideline_for(g, household.size)
    if amount <= 0:
        raise DomainError("household", f"the {g.year} poverty guideline for region {g.region} is not positive")
    scaled_income = household.annual_income * HUNDRED
    fpl = plain(scaled_income / amount)
    for i, tier in enumerate(policy):
        if tier.max_fpl_percent is None or scaled_income <= tier.max_fpl_percent * amount:
            return SlidingAssessment(amount, fpl, tier, tier_name(policy, i), g.year)
    return SlidingAssessment(amount, fpl, None, None, g.year)
