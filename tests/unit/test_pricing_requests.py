"""The estimate use cases over an in-memory catalog: resolution, errors, batch, compare."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from costsvc.catalog import Catalog, PaymentPolicy, PlanEntry, PolicyVersion, ProgramEntry
from costsvc.domain.errors import LevelNotOffered
from costsvc.domain.model import (
    Benefits,
    FeeLine,
    Household,
    LevelBenefit,
    NegotiatedRate,
    NetworkBenefits,
    PaymentPlanPolicy,
)
from costsvc.services.errors import InvalidInput, NotFound
from costsvc.services.estimates import build_pricing_request, compare, price, price_batch
from costsvc.services.requests import (
    BatchItem,
    BatchRequest,
    CompareRequest,
    CoverageRequest,
    EstimateRequest,
)

TODAY = dt.date(2026, 12, 1)
IOP = (FeeLine("H0015", "IOP day", "per_service", Decimal("250.00"), Decimal("150.00")),)
RES = (FeeLine("H0018", "Residential day", "per_service", Decimal("900.00"), Decimal("600.00")),)
ACME = Benefits(
    payer_id="acme",
    in_network=NetworkBenefits(levels={"iop": LevelBenefit(copay=Decimal("20"), coinsurance_pct=Decimal("10"))}),
)
RATE = NegotiatedRate("H0015", "dollar", Decimal("180.00"), dt.date(2026, 1, 1))


def catalog() -> Catalog:
    return Catalog(
        programs={
            "sunrise": ProgramEntry("sunrise", "Sunrise", "CA", None, None, {"iop": IOP, "residential": RES}),
            "solo": ProgramEntry("solo", "Solo", "TX", None, None, {"iop": IOP}),
        },
        payers={"acme": "Acme"},
        plans={"gold": PlanEntry("gold", "acme", "Gold", "PPO", dt.date(2026, 1, 1), 1, ACME)},
        negotiated_rates={("acme", "sunrise"): (RATE,)},
        reference_rates={},
        poverty_guidelines=(),
        sliding_policies={},
        payment_plan_policies={"solo": PaymentPolicy(PaymentPlanPolicy(terms=(6,)),
                                                     PolicyVersion(1, None, dt.date(2026, 1, 1)))},
        loaded_at=0.0,
    )


def test_a_stored_plan_brings_its_payer_rates_and_plan_id():
    pricing, plan_id = build_pricing_request(
        catalog(), EstimateRequest("sunrise", "iop", coverage=CoverageRequest(plan_id="gold")), TODAY
    )
    assert plan_id == "gold"
    assert pricing.benefits == ACME and pricing.negotiated_rates == (RATE,)
    assert pricing.fee_lines == IOP and pricing.today == TODAY


def test_inline_benefits_use_their_payer_and_no_plan():
    inline = Benefits(payer_id="acme", in_network=NetworkBenefits())
    pricing, plan_id = build_pricing_request(
        catalog(), EstimateRequest("sunrise", "iop", coverage=CoverageRequest(benefits=inline)), TODAY
    )
    assert plan_id is None and pricing.negotiated_rates == (RATE,)


def test_self_pay_has_no_benefits_and_the_program_policy():
    pricing, _ = build_pricing_request(catalog(), EstimateRequest("solo", "iop"), TODAY)
    assert pricing.benefits is None and pricing.negotiated_rates == ()
    assert pricing.payment_plan_policy.terms == (6,)


def test_household_state_is_upper_cased():
    household = Household(size=2, annual_income=Decimal("30000"), state="ca")
    pricing, _ = build_pricing_request(catalog(), EstimateRequest("solo", "iop", household=household), TODAY)
    assert pricing.household is not None and pricing.household.state == "CA"


@pytest.mark.parametrize(
    ("request_", "error", "fields"),
    [
        (EstimateRequest("nowhere", "iop"), NotFound, ["program_id"]),
        (EstimateRequest("solo", "iop", coverage=CoverageRequest(plan_id="tin")), NotFound, ["coverage.plan_id"]),
        (
            EstimateRequest("solo", "iop", coverage=CoverageRequest(plan_id="gold", benefits=ACME)),
            InvalidInput,
            ["coverage.plan_id", "coverage.benefits"],
        ),
        (EstimateRequest("solo", "iop", coverage=CoverageRequest()), InvalidInput, ["coverage"]),
        (
            EstimateRequest("solo", "iop", household=Household(size=1, annual_income=Decimal("1"), state="ZZ")),
            InvalidInput,
            ["household.state"],
        ),
    ],
)
def test_what_cannot_be_resolved_names_its_field(request_, error, fields):
    with pytest.raises(error) as caught:
        build_pricing_request(catalog(), request_, TODAY)
    exc = caught.value
    named = [e.field for e in exc.errors] if isinstance(exc, InvalidInput) else [exc.field]
    assert named == fields


def test_a_level_the_program_lacks_is_a_domain_error():
    with pytest.raises(LevelNotOffered, match="offers: iop"):
        build_pricing_request(catalog(), EstimateRequest("solo", "residential"), TODAY)


def test_a_batch_keeps_each_error_in_its_place():
    batch = BatchRequest(
        items=[BatchItem("sunrise", "iop"), BatchItem("nowhere", "iop"), BatchItem("solo", "residential")],
        coverage=CoverageRequest(plan_id="gold"),
    )
    first, unknown, not_offered = price_batch(catalog(), batch, TODAY)
    single = price(catalog(), EstimateRequest("sunrise", "iop", coverage=CoverageRequest(plan_id="gold")), TODAY)
    assert first.tail == single.tail  # the same document as the single estimate
    assert isinstance(unknown, NotFound) and isinstance(not_offered, LevelNotOffered)


def test_compare_prices_every_level_cheapest_first():
    priced = compare(catalog(), CompareRequest("sunrise"), TODAY)
    assert [p.level_of_care for p in priced] == ["iop", "residential"]
    totals = [p.patient_pays for p in priced]
    assert totals == sorted(totals)
    with pytest.raises(NotFound):
        compare(catalog(), CompareRequest("nowhere"), TODAY)
