"""Hand-computed examples of every cost-sharing and allowed-amount rule (docs/API.md).

Each test writes its arithmetic in a comment.  Unless stated otherwise the episode
is IOP starting Monday 2026-03-02 (units on Mon/Tue/Wed: Mar 2, 3, 4, 9, 10, 11, …),
one per-service line H0015 with a gross charge of 500.00, and in-network dollar
rates effective from 2026-01-01.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from costsvc.domain.engine import DISCLAIMER_INSURED, price_episode
from costsvc.domain.errors import DomainError, LevelNotOffered
from costsvc.domain.model import (
    Accumulators,
    AllowedRule,
    Amounts,
    Benefits,
    EpisodeRequest,
    FeeLine,
    Household,
    LevelBenefit,
    NegotiatedRate,
    NetworkAccumulators,
    NetworkBenefits,
    PricingRequest,
)

START = dt.date(2026, 3, 2)  # Monday
JAN1 = dt.date(2026, 1, 1)
H0015 = FeeLine("H0015", "IOP day", "per_service", D("500.00"), D("300.00"))
INTAKE = FeeLine("90791", "Intake assessment", "per_episode", D("200.00"))


def level(**kw) -> LevelBenefit:
    return LevelBenefit(**{"copay": D(0), "coinsurance_pct": D(0), **kw})


def network(lvl: LevelBenefit | None = None, *, ded=None, fam_ded=None, oop=None, fam_oop=None,
            allowed=None, balance_billing=False, level_name="iop") -> NetworkBenefits:
    return NetworkBenefits(
        deductible=Amounts(D(ded) if ded else None, D(fam_ded) if fam_ded else None),
        oop_max=Amounts(D(oop) if oop else None, D(fam_oop) if fam_oop else None),
        allowed=allowed,
        balance_billing=balance_billing,
        levels={level_name: lvl} if lvl is not None else {},
    )


def rate(amount: str, code="H0015", eff=JAN1, exp=None, kind="dollar") -> NegotiatedRate:
    return NegotiatedRate(code, kind, D(amount), eff, exp)


def acc(network="in_network", units=None, as_of=None, **met) -> Accumulators:
    a = Accumulators(as_of=as_of, units_used=units or {})
    setattr(a, network, NetworkAccumulators(**{k: D(v) for k, v in met.items()}))
    return a


def req(*, inn=None, oon=None, lines=(H0015,), weeks=2, per_week=3, start=START, level_of_care="iop",
        plan_year_start="01-01", episode=None, **kw) -> PricingRequest:
    if episode is None:
        episode = EpisodeRequest(start_date=start, weeks=weeks, days_per_week=per_week)
    kw.setdefault("network", "in_network" if inn is not None else "out_of_network")
    return PricingRequest(
        program_id="sunrise",
        level_of_care=level_of_care,
        fee_lines=tuple(lines),
        episode=episode,
        today=dt.date(2026, 1, 15),
        benefits=Benefits(payer_id="acme", plan_year_start=plan_year_start, in_network=inn, out_of_network=oon),
        **kw,
    )


def pays(result) -> list[D]:
    return [c.patient_pays for c in result.claims]


def codes(result) -> list[str]:
    return [n.code for n in result.notices]


# --------------------------------------------------------------------------- cost sharing


def test_deductible_then_coinsurance():
    # A = 400.00 ×6, deductible 1000.00, coinsurance 20 %, OOP 6000.00
    # claim 1: d = 400            claim 2: d = 400
    # claim 3: d = 200, k = round(200 × 20 %) = 40  -> 240
    # claims 4–6: k = round(400 × 20 %) = 80 each
    # patient = 400 + 400 + 240 + 3×80 = 1280 ; plan = 2400 − 1280 = 1120
    r = price_episode(req(inn=network(level(coinsurance_pct=D(20)), ded="1000", oop="6000"),
                          negotiated_rates=(rate("400"),)))
    assert pays(r) == [D(x) for x in ("400.00", "400.00", "240.00", "80.00", "80.00", "80.00")]
    t = r.totals
    assert (t.billed, t.allowed, t.deductible, t.coinsurance) == (D("3000.00"), D("2400.00"), D("1000.00"), D("280.00"))
    assert (t.patient_pays, t.plan_pays) == (D("1280.00"), D("1120.00"))
    assert r.network_status == "in_network"
    assert r.episode.end_date == dt.date(2026, 3, 11) and r.episode.units == 6 and r.episode.unit == "day"
    a = r.accumulators_after.in_network
    assert (a.deductible_met, a.oop_met) == (D("1000.00"), D("1280.00"))
    assert r.disclaimer == DISCLAIMER_INSURED


def test_coinsurance_rounds_half_up_per_claim():
    # A = 100.05, no deductible, 10 %: k = 10.005 -> 10.01 (banker's rounding would give 10.00)
    r = price_episode(req(inn=network(level(coinsurance_pct=D(10))), negotiated_rates=(rate("100.05"),),
                          weeks=1, per_week=1))
    assert r.claims[0].coinsurance == D("10.01")
    assert r.claims[0].plan_pays == D("90.04")


def test_copay_per_day():
    # A = 200.00, copay 30 per day, no deductible, 10 %:
    # each claim c = 30, k = round(170 × 10 %) = 17 -> 47 ; 3 claims -> 141 ; plan 600 − 141 = 459
    r = price_episode(req(inn=network(level(copay=D(30), copay_unit="per_day", coinsurance_pct=D(10))),
                          negotiated_rates=(rate("200"),), weeks=1))
    assert pays(r) == [D("47.00")] * 3
    assert (r.totals.copay, r.totals.coinsurance, r.totals.plan_pays) == (D("90.00"), D("51.00"), D("459.00"))


def test_copay_per_admission_only_on_the_first_claim():
    # Intake 90791 (no rate: allowed = billed 200.00) is the episode's first claim:
    #   c = 30, k = round(170 × 10 %) = 17 -> 47
    # H0015 ×3 at 200.00: no copay, k = 20 each -> 60 ; total 107 ; copay 30, coinsurance 77
    r = price_episode(req(inn=network(level(copay=D(30), copay_unit="per_admission", coinsurance_pct=D(10))),
                          negotiated_rates=(rate("200"),), weeks=1, lines=(H0015, INTAKE)))
    assert [c.billing_code for c in r.claims] == ["90791", "H0015", "H0015", "H0015"]
    assert pays(r) == [D("47.00"), D("20.00"), D("20.00"), D("20.00")]
    assert (r.totals.copay, r.totals.coinsurance) == (D("30.00"), D("77.00"))


def test_copay_does_not_count_toward_the_deductible():
    # A = 200.00, copay 30 per day, deductible 100, 20 %:
    # claim 1: c = 30, d = min(170, 100) = 100, k = round(70 × 20 %) = 14 -> 144
    # claims 2, 3: c = 30, d = 0, k = round(170 × 20 %) = 34 -> 64 each ; total 272
    r = price_episode(req(inn=network(level(copay=D(30), coinsurance_pct=D(20)), ded="100"),
                          negotiated_rates=(rate("200"),), weeks=1))
    assert pays(r) == [D("144.00"), D("64.00"), D("64.00")]
    assert r.totals.deductible == D("100.00")
    assert r.accumulators_after.in_network.deductible_met == D("100.00")
    assert r.accumulators_after.in_network.oop_met == D("272.00")


def test_copay_capped_by_allowed():
    # A = 20.00, copay 30: c = min(30, 20) = 20 ; plan pays 0
    r = price_episode(req(inn=network(level(copay=D(30))), negotiated_rates=(rate("20"),), weeks=1, per_week=1))
    assert (r.claims[0].copay, r.claims[0].plan_pays) == (D("20.00"), D("0.00"))


def test_oop_max_reached_mid_episode():
    # A = 400.00 ×6 ; deductible 500, 20 %, OOP 1000 with 200 met -> O = 800
    # 1: d = 400            O 800 -> 400
    # 2: d = 100, k = round(300 × 20 %) = 60 -> 160     O -> 240
    # 3: k = 80  O -> 160   4: k = 80  O -> 80   5: k = 80  O -> 0
    # 6: k = min(80, 0) = 0 -> plan pays 400
    # patient = 400 + 160 + 80 + 80 + 80 + 0 = 800 (= O) ; plan = 2400 − 800 = 1600
    r = price_episode(req(inn=network(level(coinsurance_pct=D(20)), ded="500", oop="1000"),
                          negotiated_rates=(rate("400"),), accumulators=acc(oop_met="200")))
    assert pays(r) == [D(x) for x in ("400.00", "160.00", "80.00", "80.00", "80.00", "0.00")]
    assert (r.totals.patient_pays, r.totals.plan_pays) == (D("800.00"), D("1600.00"))
    assert r.claims[-1].plan_pays == D("400.00")
    a = r.accumulators_after.in_network
    assert (a.deductible_met, a.oop_met) == (D("500.00"), D("1000.00"))


def test_family_embedded_family_remainder_smaller():
    # tier family; deductible 2000/4000 with family 3700 met -> D = min(2000, 300) = 300
    # OOP 6000/12000 with family 11500 met -> O = min(6000, 500) = 500 ; 20 %, A = 400 ×3
    # 1: d = 300, k = round(100 × 20 %) = 20 -> 320        O 500 -> 180
    # 2: d = 0,   k = 80                     -> 80         O -> 100
    # 3: k = 80                               -> 80         O -> 20
    # patient 480 ; individual and family met amounts move together
    nb = network(level(coinsurance_pct=D(20)), ded="2000", fam_ded="4000", oop="6000", fam_oop="12000")
    a0 = acc(family_deductible_met="3700", family_oop_met="11500")
    r = price_episode(req(inn=nb, negotiated_rates=(rate("400"),), weeks=1, tier="family", accumulators=a0))
    assert pays(r) == [D("320.00"), D("80.00"), D("80.00")]
    a = r.accumulators_after.in_network
    assert (a.deductible_met, a.family_deductible_met) == (D("300.00"), D("4000.00"))
    assert (a.oop_met, a.family_oop_met) == (D("480.00"), D("11980.00"))
    # Same accumulators, tier individual: family amounts do not apply -> D = 2000:
    # d = 400 on each claim -> 1200
    r = price_episode(req(inn=nb, negotiated_rates=(rate("400"),), weeks=1, tier="individual", accumulators=a0))
    assert r.totals.patient_pays == D("1200.00")


def test_family_oop_cap_binds():
    # tier family, no deductible, 50 %; OOP 5000/8000, family met 7900 -> O = min(5000, 100) = 100
    # 1: k = min(200, 100) = 100 ; 2, 3: k = 0 -> patient 100, plan 1100
    nb = network(level(coinsurance_pct=D(50)), oop="5000", fam_oop="8000")
    r = price_episode(req(inn=nb, negotiated_rates=(rate("400"),), weeks=1, tier="family",
                          accumulators=acc(family_oop_met="7900")))
    assert pays(r) == [D("100.00"), D("0.00"), D("0.00")]
    assert r.totals.plan_pays == D("1100.00")


def test_limit_units_with_units_used_and_per_episode_claims():
    # limit 20 IOP days, 18 used. Intake (per_episode, rate 150) does not count and is covered.
    # Units 1–2 covered (18 -> 20, rate 300, no cost sharing -> patient 0);
    # units 3–6 past the limit: patient owes billed 500 each = 2000 not covered.
    # billed = 200 + 6×500 = 3200 ; allowed = 150 + 2×300 = 750 ; plan 750
    r = price_episode(req(inn=network(level(limit_units=20)), lines=(H0015, INTAKE),
                          negotiated_rates=(rate("300"), rate("150", code="90791")),
                          accumulators=acc(units={"iop": 18})))
    assert pays(r) == [D("0.00"), D("0.00"), D("0.00")] + [D("500.00")] * 4
    t = r.totals
    assert (t.billed, t.allowed, t.plan_pays, t.not_covered) == (D("3200.00"), D("750.00"), D("750.00"), D("2000.00"))
    assert r.accumulators_after.units_used == {"iop": 20}
    assert "limit_reached" in codes(r)
    # the limit not reached: no notice, units counted
    r = price_episode(req(inn=network(level(limit_units=30)), negotiated_rates=(rate("300"),),
                          accumulators=acc(units={"iop": 18})))
    assert "limit_reached" not in codes(r) and r.accumulators_after.units_used == {"iop": 24}


def test_plan_year_reset_mid_episode():
    # IOP from Tue 2026-12-01, 12 weeks × 3 (Tue/Wed/Thu), plan year from 01-01.
    # December units: 1,2,3, 8,9,10, 15,16,17, 22,23,24, 29,30,31 = 15 ; 2027: 21 (Jan 12, Feb 9)
    # A = 400, deductible 1000, 20 %, limit 20 days with 10 used; out-of-network met 50 (resets too).
    # Dec: units 1–10 covered: d = 400, 400, 200 (+k 40), then 7 × k 80 = 560 -> 1600
    #      units 11–15 past the limit: 5 × 500 = 2500 not covered -> December 4100
    # 2027: reset, deductible, OOP and units start from 0; 21 units, of which 20 are covered
    #   Jan (12 units): d 1000 (2.5 units), k = round(200×20 %) = 40 + 9 × 80 = 760 -> 1760
    #   Feb (9 units): units 13–20 covered: 8 × 80 = 640 ; unit 21 past the limit: 500 -> 1140
    # total 4100 + 1760 + 1140 = 7000
    a0 = acc(units={"iop": 10}, as_of=dt.date(2026, 11, 20))
    a0.out_of_network = NetworkAccumulators(deductible_met=D(50), oop_met=D(50))
    r = price_episode(req(inn=network(level(coinsurance_pct=D(20), limit_units=20), ded="1000"),
                          negotiated_rates=(rate("400"),), start=dt.date(2026, 12, 1), weeks=12,
                          accumulators=a0))
    assert [(m.month, m.patient_pays) for m in r.by_month] == [
        ("2026-12", D("4100.00")), ("2027-01", D("1760.00")), ("2027-02", D("1140.00"))]
    assert r.totals.patient_pays == D("7000.00")
    assert r.totals.not_covered == D("3000.00")  # 6 × 500
    assert r.totals.deductible == D("2000.00")  # one per plan year
    assert r.episode.end_date == dt.date(2027, 2, 18)
    after = r.accumulators_after
    # since the reset: deductible 1000, OOP 1000 + 40 + 9×80 + 8×80 = 2400, 20 units
    assert (after.in_network.deductible_met, after.in_network.oop_met) == (D("1000.00"), D("2400.00"))
    assert after.out_of_network.deductible_met == D("0.00")
    assert after.units_used == {"iop": 20}
    assert {"plan_year_reset", "limit_reached"} <= set(codes(r))
    assert codes(r).count("plan_year_reset") == 1


def test_plan_year_starting_mid_year():
    # plan year from 03-05: 2026-03-02..04 are in the old plan year, 03-09.. in the new one.
    # deductible 500 with 500 met (old year) ; A = 400, 0 % coinsurance.
    # old year: 3 claims, deductible met -> patient 0 ; new year: d = 400, 100, 0 -> 500
    r = price_episode(req(inn=network(level(), ded="500"), negotiated_rates=(rate("400"),),
                          plan_year_start="03-05", accumulators=acc(deductible_met="500")))
    assert pays(r) == [D("0.00")] * 3 + [D("400.00"), D("100.00"), D("0.00")]
    assert "plan_year_reset" in codes(r)


def test_accumulators_from_an_earlier_plan_year_are_flagged():
    r = price_episode(req(inn=network(level()), negotiated_rates=(rate("400"),),
                          accumulators=acc(as_of=dt.date(2025, 12, 15))))
    assert "accumulators_prior_plan_year" in codes(r)


# --------------------------------------------------------------------------- allowed amounts


def test_out_of_network_with_balance_billing():
    # OON allowed 60 % of billed: A = round(500 × 60 %) = 300 ; balance bill = 500 − 300 = 200
    # deductible 400, 40 %, no OOP max
    # 1: d = 300                         + 200 -> 500
    # 2: d = 100, k = round(200 × 40 %) = 80   + 200 -> 380
    # 3: k = round(300 × 40 %) = 120           + 200 -> 320
    # patient 1200 (ded 400, coins 200, balance 600) ; plan = 900 − 600 = 300
    oon = network(level(coinsurance_pct=D(40), prior_auth=True), ded="400",
                  allowed=AllowedRule("percent_of_billed", D(60)), balance_billing=True)
    r = price_episode(req(oon=oon, network="auto", weeks=1))
    assert r.network_status == "out_of_network"
    assert pays(r) == [D("500.00"), D("380.00"), D("320.00")]
    t = r.totals
    assert (t.deductible, t.coinsurance, t.balance_bill, t.plan_pays) == (
        D("400.00"), D("200.00"), D("600.00"), D("300.00"))
    # the balance bill counts toward no accumulator
    assert r.accumulators_after.out_of_network.oop_met == D("600.00")
    assert r.accumulators_after.in_network.oop_met == D("0.00")
    assert {"out_of_network", "balance_billing_possible", "prior_authorization_required"} <= set(codes(r))


def test_percent_of_reference_with_and_without_reference_rate():
    # reference 100.30 × 55 % = 55.165 -> 55.17 (half up) ; no balance billing, no cost sharing
    oon = network(level(), allowed=AllowedRule("percent_of_reference", D(55)))
    r = price_episode(req(oon=oon, weeks=1, per_week=1, reference_rates={"H0015": D("100.30")}))
    assert r.claims[0].allowed == D("55.17")
    assert "no_reference_rate" not in codes(r)
    # without a reference rate: 55 % of billed = 275.00, and the notice
    r = price_episode(req(oon=oon, weeks=1, per_week=1, reference_rates={"OTHER": D(1)}))
    assert r.claims[0].allowed == D("275.00")
    assert "no_reference_rate" in codes(r)


def test_negotiated_percent_of_billed():
    # 455.55 × 70 % = 318.885 -> 318.89 (half up)
    line = FeeLine("H0015", "IOP day", "per_service", D("455.55"))
    r = price_episode(req(inn=network(level()), lines=(line,), weeks=1, per_week=1,
                          negotiated_rates=(rate("70", kind="percent_of_billed"),)))
    assert r.claims[0].allowed == D("318.89")
    assert "no_negotiated_rate" not in codes(r)


def test_negotiated_rate_expiring_mid_episode():
    # 400 until 03-05 (inclusive); 420 from 03-06; 450 from 03-10 (latest effective date wins)
    # Mar 2, 3, 4 -> 400 ; Mar 9 -> 420 ; Mar 10, 11 -> 450 ; allowed 1200 + 420 + 900 = 2520
    rates = (rate("400", exp=dt.date(2026, 3, 5)), rate("420", eff=dt.date(2026, 3, 6)),
             rate("450", eff=dt.date(2026, 3, 10)))
    r = price_episode(req(inn=network(level()), negotiated_rates=rates))
    assert [c.allowed for c in r.claims] == [D(x) for x in ("400.00",) * 3 + ("420.00", "450.00", "450.00")]
    assert r.totals.allowed == D("2520.00")


def test_gap_between_rates_falls_back_with_notice():
    # 400 until 03-03; next rate from 03-09: Mar 4 has no rate -> the in_network.allowed rule,
    # 90 % of billed = 450.00, and the notice
    rates = (rate("400", exp=dt.date(2026, 3, 3)), rate("410", eff=dt.date(2026, 3, 9)))
    inn = network(level(), allowed=AllowedRule("percent_of_billed", D(90)))
    r = price_episode(req(inn=inn, negotiated_rates=rates))
    assert [c.allowed for c in r.claims] == [D(x) for x in ("400.00", "400.00", "450.00", "410.00", "410.00", "410.00")]
    assert "no_negotiated_rate" in codes(r)
    # without an in-network rule: billed
    r = price_episode(req(inn=network(level()), negotiated_rates=rates))
    assert r.claims[2].allowed == D("500.00")


def test_lesser_of_billed_and_allowed():
    # dollar rate 600 > billed 500 -> 500 ; OON 90 % of reference 700 = 630 -> 500
    r = price_episode(req(inn=network(level()), negotiated_rates=(rate("600"),), weeks=1, per_week=1))
    assert r.claims[0].allowed == D("500.00")
    oon = network(level(), allowed=AllowedRule("percent_of_reference", D(90)), balance_billing=True)
    r = price_episode(req(oon=oon, weeks=1, per_week=1, reference_rates={"H0015": D(700)}))
    assert (r.claims[0].allowed, r.claims[0].balance_bill) == (D("500.00"), D("0.00"))


def test_network_auto():
    inn = network(level(coinsurance_pct=D(10)))
    oon = network(level(coinsurance_pct=D(50)), allowed=AllowedRule("percent_of_billed", D(100)))
    # a rate valid on the start date -> in network (for any billing code)
    r = price_episode(req(inn=inn, oon=oon, network="auto", negotiated_rates=(rate("400", code="OTHER"),)))
    assert r.network_status == "in_network"
    # rates only from after the start date, or expired before it -> out of network
    later = rate("400", eff=dt.date(2026, 3, 3))
    expired = rate("400", eff=dt.date(2025, 1, 1), exp=dt.date(2026, 3, 1))
    r = price_episode(req(inn=inn, oon=oon, network="auto", negotiated_rates=(later, expired)))
    assert r.network_status == "out_of_network"
    # 6 × round(500 × 50 %) = 6 × 250 = 1500
    assert r.totals.patient_pays == D("1500.00")
    assert "out_of_network" in codes(r)


def test_level_not_covered():
    # iop missing from the plan's levels: the patient owes the billed 3000.00, nothing accumulates
    inn = network(level(prior_auth=True), level_name="residential")
    r = price_episode(req(inn=inn, negotiated_rates=(rate("400"),)))
    t = r.totals
    assert (t.patient_pays, t.not_covered, t.allowed, t.plan_pays) == (D("3000.00"), D("3000.00"), D("0.00"), D("0.00"))
    assert codes(r) == ["not_covered"]
    assert r.accumulators_after.in_network.oop_met == D("0.00")
    # covered: false, same result
    r = price_episode(req(inn=network(level(covered=False)), negotiated_rates=(rate("400"),)))
    assert r.totals.not_covered == D("3000.00") and codes(r) == ["not_covered"]


def test_missing_network_block_is_not_covered():
    # auto with no rates -> out of network; the plan has no out-of-network benefits
    r = price_episode(req(inn=network(level()), network="auto"))
    assert r.network_status == "out_of_network"
    assert r.totals.not_covered == D("3000.00")
    assert codes(r) == ["out_of_network", "not_covered"]


# --------------------------------------------------------------------------- result assembly


def test_lines_by_month_and_claim_order():
    # two per-service codes on the same days and an intake: per-episode first, then by code
    s9480 = FeeLine("S9480", "IOP psych", "per_service", D("100.00"))
    r = price_episode(req(inn=network(level()), negotiated_rates=(rate("400"),), lines=(s9480, H0015, INTAKE),
                          start=dt.date(2026, 3, 30), weeks=1))
    assert [(c.date.day, c.billing_code) for c in r.claims] == [
        (30, "90791"), (30, "H0015"), (30, "S9480"), (31, "H0015"), (31, "S9480"), (1, "H0015"), (1, "S9480")]
    assert [(ln.billing_code, ln.frequency, ln.quantity) for ln in r.lines] == [
        ("90791", "per_episode", 1), ("H0015", "per_service", 3), ("S9480", "per_service", 3)]
    # H0015: 3 × 400 allowed; S9480 and 90791 have no rate -> billed
    assert r.lines[1].allowed == D("1200.00") and r.lines[2].billed == D("300.00")
    assert [m.month for m in r.by_month] == ["2026-03", "2026-04"]


def test_range_reprices_at_low_and_high_length():
    # detox, default 5 days, range 3–7 days; A = 100/day, 20 % -> 20/day
    inn = network(level(coinsurance_pct=D(20)), level_name="detox")
    line = FeeLine("H0010", "Detox day", "per_service", D("150.00"))
    r = price_episode(req(inn=inn, lines=(line,), level_of_care="detox", episode=EpisodeRequest(start_date=START),
                          negotiated_rates=(rate("100", code="H0010"),)))
    assert r.totals.patient_pays == D("100.00")
    assert (r.range.low.units, r.range.low.patient_pays) == (3, D("60.00"))
    assert (r.range.high.units, r.range.high.patient_pays) == (7, D("140.00"))
    # length fixed by the request: both equal the estimate
    r = price_episode(req(inn=inn, lines=(line,), level_of_care="detox",
                          episode=EpisodeRequest(start_date=START, days=4), negotiated_rates=(rate("100", code="H0010"),)))
    assert (r.range.low.units, r.range.low.patient_pays, r.range.high.patient_pays) == (4, D("80.00"), D("80.00"))


def test_range_for_weekly_levels_uses_the_requested_frequency():
    # IOP 4 days a week, length not given: 12 weeks (48 units, the estimate) and 16 weeks (64)
    # A = 100, 10 % -> 10 per unit: 480 and 640
    inn = network(level(coinsurance_pct=D(10)))
    r = price_episode(req(inn=inn, negotiated_rates=(rate("100"),),
                          episode=EpisodeRequest(start_date=START, days_per_week=4)))
    assert (r.episode.units, r.totals.patient_pays) == (48, D("480.00"))
    assert (r.range.low.units, r.range.low.patient_pays) == (48, D("480.00"))
    assert (r.range.high.units, r.range.high.patient_pays) == (64, D("640.00"))


def test_selfpay_shown_for_insured_with_household_and_payment_plans():
    # insured estimate 1280.00 (test_deductible_then_coinsurance) with a household at 41,000 (tier D)
    # self-pay: 6 × cash 300.00 × 60 % = 1080.00 ; payment plans on 1280 − 80 down = 1200:
    # 3 -> 400.00, 6 -> 200.00, 12 -> 100.00
    r = price_episode(req(inn=network(level(coinsurance_pct=D(20)), ded="1000", oop="6000"),
                          negotiated_rates=(rate("400"),), down_payment=D(80),
                          household=Household(3, D(41000), "CA")))
    assert r.network_status == "in_network"
    assert (r.selfpay.cash_total, r.selfpay.patient_pays, r.selfpay.tier) == (D("1800.00"), D("1080.00"), "D")
    assert [(q.months, q.monthly_payment, q.total_paid) for q in r.payment_plans] == [
        (3, D("400.00"), D("1280.00")), (6, D("200.00"), D("1280.00")), (12, D("100.00"), D("1280.00"))]
    # without a household, no self-pay block for an insured estimate
    r = price_episode(req(inn=network(level()), negotiated_rates=(rate("400"),)))
    assert r.selfpay is None and r.payment_plans == []  # nothing owed


def test_level_not_offered():
    with pytest.raises(LevelNotOffered) as exc:
        price_episode(req(inn=network(level()), lines=()))
    assert exc.value.field == "level_of_care"
    assert exc.value.message == "program does not offer this level"


def test_invalid_benefits_are_domain_errors():
    # LevelBenefit validates on construction; benefits assembled field by field (as a store
    # might) bypass that, and the engine still refuses a coinsurance above 100 %.
    lb = level()
    lb.coinsurance_pct = D(120)
    with pytest.raises(DomainError) as exc:
        price_episode(req(inn=network(lb)))
    assert exc.value.field == "coverage.benefits.in_network.levels.iop.coinsurance_pct"
    with pytest.raises(DomainError) as exc:
        price_episode(req(inn=network(level()), episode=EpisodeRequest(days=3)))
    assert exc.value.field == "episode.days"


def test_last_representable_dates_do_not_hang():
    # plan years past 9999 cannot be represented: no reset, and no endless loop looking for one
    inn = network(level(coinsurance_pct=D(10)), level_name="residential")
    line = FeeLine("H0018", "Residential day", "per_service", D("100.00"))
    for start, plan_year_start in ((dt.date(9999, 12, 31), "01-01"), (dt.date(1, 1, 1), "07-01")):
        r = price_episode(req(inn=inn, lines=(line,), level_of_care="residential", plan_year_start=plan_year_start,
                              episode=EpisodeRequest(start_date=start, days=1)))
        assert r.totals.patient_pays == D("10.00")
