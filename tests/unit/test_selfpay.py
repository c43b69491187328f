"""Sliding-fee scale and self-pay estimates, hand-computed.

Household of 3, poverty guidelines (README.md):
  2026, 48 states + DC: 15,960 + 2 × 5,680 = 27,320
  2025, 48 states + DC: 15,650 + 2 × 5,500 = 26,650
  2026, Alaska:         19,950 + 2 × 7,100 = 34,150
  2026, Hawaii:         18,360 + 2 × 6,530 = 31,420
Default policy: A ≤100 % $20 nominal, B ≤125 % 80 %, C ≤150 % 60 %, D ≤175 % 40 %, E ≤200 % 20 %.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from costsvc.domain.engine import DISCLAIMER_SELF_PAY, price_episode
from costsvc.domain.errors import DomainError, NoPovertyGuideline
from costsvc.domain.model import (
    EpisodeRequest,
    FeeLine,
    Household,
    PovertyGuideline,
    PricingRequest,
    SlidingTier,
)
from costsvc.domain.selfpay import assess, region_for_state

Y2026 = 2026


def hh(income: str, state: str = "CA", size: int = 3) -> Household:
    return Household(size=size, annual_income=D(income), state=state)


def selfpay_request(household=None, start=dt.date(2026, 3, 2), **kw) -> PricingRequest:
    # IOP, 1 week × 3 days, H0015 gross 500.00 cash 300.00, intake 90791 gross 200.00 cash 15.00
    return PricingRequest(
        program_id="p",
        level_of_care="iop",
        fee_lines=(
            FeeLine("H0015", "IOP day", "per_service", D("500.00"), D("300.00")),
            FeeLine("90791", "Intake", "per_episode", D("200.00"), D("15.00")),
        ),
        episode=EpisodeRequest(start_date=start, weeks=1, days_per_week=3),
        today=dt.date(2026, 1, 1),
        household=household,
        **kw,
    )


@pytest.mark.parametrize(
    ("income", "tier", "fpl"),
    [
        ("27320", "A", "100"),  # exactly 100 % -> A (≤ is inclusive)
        ("34150", "B", "125"),  # 34,150 / 27,320 = 125 %
        ("34150.01", "C", None),
        ("40980", "C", "150"),
        ("47810", "D", "175"),
        ("54640", "E", "200"),
    ],
)
def test_default_tiers_at_their_bounds(income, tier, fpl):
    a = assess(hh(income), Y2026, (), None)
    assert a.tier_name == tier
    assert a.guideline == D(27320)
    if fpl is not None:
        assert a.fpl_percent == D(fpl)
        assert str(a.fpl_percent) == fpl  # plain decimal, not "1E+2"


def test_above_last_tier_has_no_discount():
    a = assess(hh("54640.01"), Y2026, (), None)
    # 54,640.01 × 100 / 27,320 = 200.0000366… (unrounded)
    assert a.tier is None and a.tier_name is None
    assert str(a.fpl_percent).startswith("200.0000366032")
    assert a.price(D("300.00")) == D("300.00")


def test_fpl_percent_is_unrounded():
    # 41,000 × 100 / 27,320 = 150.0732064421669…
    a = assess(hh("41000.00"), Y2026, (), None)
    assert str(a.fpl_percent).startswith("150.07320644216691")
    assert a.tier_name == "D"


def test_discounted_claim_is_rounded_to_the_cent():
    b = assess(hh("34150"), Y2026, (), None)  # B: 80 % off, pays 20 %
    # 300.00 × 20 / 100 = 60.00 ; 333.33 × 20 / 100 = 66.666 -> 66.67
    assert b.price(D("300.00")) == D("60.00")
    assert b.price(D("333.33")) == D("66.67")
    d = assess(hh("47810"), Y2026, (), None)  # D: 40 % off, pays 60 %
    # 0.01 × 60 / 100 = 0.006 -> 0.01 ; 10.43 × 60 / 100 = 6.258 -> 6.26
    assert d.price(D("0.01")) == D("0.01")
    assert d.price(D("10.43")) == D("6.26")
    # (the default tiers never produce an exact half cent; test_program_policy has one)


def test_nominal_fee_never_more_than_cash():
    a = assess(hh("20000"), Y2026, (), None)  # 73 % -> A, $20 per claim
    assert a.price(D("300.00")) == D("20.00")
    assert a.price(D("15.00")) == D("15.00")  # capped at the cash price


def test_engine_nominal_fee_tier():
    r = price_episode(selfpay_request(hh("20000")))
    # intake cash 15.00 < 20 -> 15.00 ; 3 IOP days × 20.00 = 60.00 ; total 75.00
    assert r.selfpay.patient_pays == D("75.00")
    assert r.selfpay.cash_total == D("915.00")  # 15 + 3 × 300
    assert r.selfpay.tier == "A"
    assert r.selfpay.discount_percent is None
    assert r.selfpay.nominal_fee == D("20.00")
    assert r.totals.patient_pays == D("75.00")
    assert [c.patient_pays for c in r.claims] == [D("15.00"), D("20.00"), D("20.00"), D("20.00")]


def test_engine_discount_tier_and_above_last_tier():
    r = price_episode(selfpay_request(hh("41000")))  # tier D: pays 60 %
    # intake 15.00 × 0.6 = 9.00 ; IOP 300.00 × 0.6 = 180.00 × 3 = 540.00 ; total 549.00
    assert (r.selfpay.tier, r.selfpay.discount_percent) == ("D", D(40))
    assert r.selfpay.patient_pays == r.totals.patient_pays == D("549.00")
    r = price_episode(selfpay_request(hh("90000")))  # 329 % -> above E
    assert (r.selfpay.tier, r.selfpay.discount_percent) == (None, None)
    assert r.selfpay.fpl_percent is not None
    assert r.selfpay.patient_pays == D("915.00")


def test_engine_self_pay_without_household():
    r = price_episode(selfpay_request(None))
    assert r.network_status == "self_pay"
    sp = r.selfpay
    assert (sp.fpl_percent, sp.tier, sp.discount_percent) == (None, None, None)
    # cash 15.00 + 3 × 300.00 = 915.00, undiscounted
    assert sp.cash_total == sp.patient_pays == D("915.00")
    t = r.totals
    # billed is the gross charge: 200 + 3 × 500 = 1700.00; nothing allowed, the plan pays nothing,
    # the self-pay amount is reported as not covered so the components still add up.
    assert (t.billed, t.allowed, t.plan_pays) == (D("1700.00"), D("0.00"), D("0.00"))
    assert t.patient_pays == t.not_covered == D("915.00")
    assert t.deductible == t.copay == t.coinsurance == t.balance_bill == D("0.00")
    assert r.disclaimer == DISCLAIMER_SELF_PAY
    assert r.notices == []


def test_cash_price_missing_uses_gross_charge():
    req = selfpay_request(None)
    req.fee_lines = (FeeLine("H0015", "IOP day", "per_service", D("412.5")),)
    r = price_episode(req)
    assert r.totals.patient_pays == D("1237.50")  # 3 × 412.50


def test_alaska_and_hawaii_guidelines():
    assert region_for_state("ak") == "AK" and region_for_state("HI") == "HI"
    assert region_for_state("DC") == "48" and region_for_state("TX") == "48"
    # 34,150 is 100 % in Alaska (A) but 125 % in California (B)
    assert assess(hh("34150", "AK"), Y2026, (), None).tier_name == "A"
    assert assess(hh("34150", "CA"), Y2026, (), None).tier_name == "B"
    # 31,420 is 100 % in Hawaii; 31,420.01 is just above -> B
    assert assess(hh("31420", "HI"), Y2026, (), None).fpl_percent == D(100)
    assert assess(hh("31420.01", "HI"), Y2026, (), None).tier_name == "B"
    # 2025 Alaska, size 1: 19,550 -> 100 %
    assert assess(hh("19550", "AK", size=1), 2025, (), None).fpl_percent == D(100)


def test_guideline_year_2025_vs_2026():
    # 27,000: 2025 -> 27,000/26,650 = 101.3 % (B); 2026 -> 27,000/27,320 = 98.8 % (A)
    assert assess(hh("27000"), 2025, (), None).tier_name == "B"
    assert assess(hh("27000"), 2026, (), None).tier_name == "A"
    # 2027 has no guideline yet: the latest year not after it (2026) applies
    assert assess(hh("27000"), 2027, (), None).guideline == D(27320)
    # through the engine: the start date's year picks the guideline
    assert price_episode(selfpay_request(hh("27000"), start=dt.date(2025, 12, 29))).selfpay.tier == "B"
    assert price_episode(selfpay_request(hh("27000"), start=dt.date(2026, 1, 5))).selfpay.tier == "A"


def test_no_guideline_is_a_domain_error():
    with pytest.raises(NoPovertyGuideline) as exc:
        assess(hh("27000"), 2024, (), None)
    assert exc.value.field == "household"
    with pytest.raises(DomainError):
        price_episode(selfpay_request(hh("27000"), start=dt.date(2024, 6, 1)))


def test_imported_guidelines_replace_the_shipped_ones():
    gl = (PovertyGuideline(2024, "48", D(15060), D(5380)),)
    # 2024, size 3: 15,060 + 2 × 5,380 = 25,820 ; 25,820 -> 100 %
    a = assess(hh("25820"), 2024, gl, None)
    assert a.guideline == D(25820) and a.tier_name == "A"


def test_program_policy():
    policy = (
        SlidingTier(D(150), discount_percent=D(50)),
        SlidingTier(D(250), nominal_fee=D(35)),
    )
    # 41,000 -> 150.07 % -> second tier (named "B" by position): $35 per claim
    a = assess(hh("41000"), Y2026, (), policy)
    assert a.tier_name == "B" and a.price(D("300.00")) == D("35.00")
    a = assess(hh("40980"), Y2026, (), policy)  # 150 % exactly -> first tier, 50 %
    assert a.tier_name == "A" and a.price(D("300.01")) == D("150.01")  # 150.005 -> 150.01 (half up)
    with pytest.raises(DomainError):
        assess(hh("1"), Y2026, (), (SlidingTier(D(100)),))  # neither discount nor fee


def test_open_ended_last_tier_takes_every_income_above_the_previous():
    policy = (SlidingTier(D(100), nominal_fee=D(10)), SlidingTier(None, discount_percent=D(15), name="Z"))
    a = assess(hh("1000000"), Y2026, (), policy)
    assert a.tier_name == "Z" and a.price(D("300.00")) == D("255.00")
    assert a.guideline_year == 2026


def test_income_zero_is_the_first_tier_without_division():
    a = assess(hh("0"), Y2026, (), None)
    assert a.tier_name == "A" and a.fpl_percent == D(0) and a.price(D("300.00")) == D("20.00")


@pytest.mark.parametrize("policy", [
    (SlidingTier(D(150), discount_percent=D(50)), SlidingTier(D(120), discount_percent=D(20))),  # unordered
    (SlidingTier(D(150), discount_percent=D(50)), SlidingTier(D(150), discount_percent=D(20))),  # overlapping
    (SlidingTier(None, discount_percent=D(50)), SlidingTier(D(200), discount_percent=D(20))),  # open-ended first
])
def test_tiers_must_rise_strictly(policy):
    with pytest.raises(DomainError) as caught:
        assess(hh("1"), Y2026, (), policy)
    assert caught.value.field.endswith(".max_fpl_percent") and "rise strictly" in caught.value.message
