"""Properties of the engine over random benefits, accumulators, fee lines, rates and episodes."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal as D

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costsvc.domain.engine import price_episode
from costsvc.domain.model import (
    LEVELS_OF_CARE,
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

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CODES = ("H0015", "S9480", "90791", "90837")
PERCENT_FIELDS = {"apr", "fpl_percent", "discount_percent"}


def money(hi: int, lo: int = 0):
    # cents lo..hi dollars, as Decimals like 12.5 or 7 (not always two decimals: the engine quantizes)
    return st.integers(lo * 100, hi * 100).map(lambda c: D(c) / 100)


def mostly(strategy):
    """``strategy``, or None about one time in four."""
    return st.tuples(st.sampled_from((True, True, True, False)), strategy).map(lambda t: t[1] if t[0] else None)


def often_zero(strategy):
    return st.just(D(0)) | strategy


# Strategies are built once here: building them inside the composites costs more than the engine.
percent = st.one_of(st.integers(0, 100).map(D), st.integers(0, 10_000).map(lambda x: D(x) / 100))
copays = st.just(D(0)) | money(80)
level_benefits = st.builds(
    LevelBenefit,
    covered=st.sampled_from([True, True, True, True, False]),
    copay=copays,
    copay_unit=st.sampled_from(["per_day", "per_visit", "per_admission"]),
    deductible_applies=st.sampled_from([True, True, False]),
    coinsurance_pct=percent,
    limit_units=st.none() | st.integers(0, 40),
    prior_auth=st.booleans(),
)
allowed_rules = st.none() | st.builds(
    AllowedRule,
    method=st.sampled_from(["percent_of_billed", "percent_of_reference"]),
    percent=st.integers(0, 100).map(D),
)
# (hypothesis favours 0 for integers; a zero deductible is already covered by None)
deductibles = mostly(st.builds(Amounts, mostly(money(4000, 1)), st.none() | money(8000, 1)))
oop_maxes = mostly(st.builds(Amounts, mostly(money(9000, 1)), st.none() | money(15000, 1)))
network_accumulators = st.builds(
    NetworkAccumulators,
    often_zero(money(5000)), often_zero(money(9000)), often_zero(money(9000)), often_zero(money(16000)))
fee_lines = st.lists(
    st.builds(FeeLine, st.sampled_from(CODES), st.just("line"),
              st.sampled_from(["per_service", "per_service", "per_episode"]), money(2000), st.none() | money(1500)),
    min_size=1, max_size=3)
# (code, kind, dollar amount, percent, effective offset from start, validity span or None)
rate_specs = st.lists(st.tuples(
    st.sampled_from(CODES), st.sampled_from(["dollar", "percent_of_billed"]), money(2000),
    st.integers(0, 150).map(D), st.integers(-400, 120), st.none() | st.integers(0, 400)), max_size=4)
households = st.none() | st.builds(
    Household, st.integers(1, 8), money(150_000), st.sampled_from(["CA", "AK", "HI", "NY"]))
optional_weeks = st.none() | st.integers(1, 20)
lengths = {
    "days": st.none() | st.integers(1, 70),
    "days_per_week": st.none() | st.integers(1, 7),
    "sessions_per_week": st.none() | st.integers(1, 10),  # above 7: units share dates
}


@st.composite
def network_benefits(draw, level: str, covered: bool = False):
    levels = {level: draw(level_benefits)} if covered or draw(st.integers(0, 9)) > 0 else {}
    if covered:
        levels[level].covered = True
    return NetworkBenefits(
        deductible=draw(deductibles),
        oop_max=draw(oop_maxes),
        allowed=draw(allowed_rules),
        balance_billing=draw(st.booleans()),
        levels=levels,
    )


def episode(draw, level: str, start: dt.date) -> EpisodeRequest:
    if level in ("detox", "residential"):
        return EpisodeRequest(start_date=start, days=draw(lengths["days"]))
    field = "sessions_per_week" if level == "outpatient" else "days_per_week"
    return EpisodeRequest(start_date=start, weeks=draw(optional_weeks), **{field: draw(lengths[field])})


@st.composite
def requests(draw, insured: bool | None = None, covered: bool = False) -> PricingRequest:
    """A random request; ``covered``: insured, both networks present and covering the level."""
    level = draw(st.sampled_from(LEVELS_OF_CARE))
    start = draw(st.dates(dt.date(2025, 1, 1), dt.date(2027, 12, 31)))
    rates = tuple(
        NegotiatedRate(code, kind, amount if kind == "dollar" else pct, start + dt.timedelta(days=eff),
                       None if span is None else start + dt.timedelta(days=eff + span))
        for code, kind, amount, pct, eff, span in draw(rate_specs)
    )
    if covered:
        insured = True
    elif insured is None:
        insured = draw(st.integers(0, 5)) > 0
    benefits = None
    if insured:
        no_in_network = not covered and draw(st.integers(0, 9)) == 0
        benefits = Benefits(
            payer_id="acme",
            plan_year_start=draw(st.sampled_from(["01-01", "07-01", "02-29", "12-15", "04-31"])),
            in_network=None if no_in_network else draw(network_benefits(level, covered)),
            out_of_network=draw(network_benefits(level, True) if covered else mostly(network_benefits(level))),
        )
    acc = Accumulators(
        in_network=draw(network_accumulators),
        out_of_network=draw(network_accumulators),
        units_used={level: draw(st.integers(0, 40))} if draw(st.booleans()) else {},
    )
    return PricingRequest(
        program_id="p",
        level_of_care=level,
        fee_lines=tuple(draw(fee_lines)),
        episode=episode(draw, level, start),
        today=dt.date(2026, 5, 1),
        benefits=benefits,
        network=draw(st.sampled_from(["auto", "in_network", "out_of_network"])),
        tier=draw(st.sampled_from(["individual", "family"])),
        accumulators=acc,
        negotiated_rates=rates,
        reference_rates={code: draw(money(1500)) for code in CODES if draw(st.booleans())},
        household=draw(households),
        down_payment=draw(st.just(D(0)) | money(500)),
    )


def money_values(obj, path="result"):
    """Every (path, Decimal) in a result, except percentages."""
    if isinstance(obj, msgspec.Struct):
        for name in obj.__struct_fields__:
            if name not in PERCENT_FIELDS:
                yield from money_values(getattr(obj, name), f"{path}.{name}")
    elif isinstance(obj, list):
        for i, x in enumerate(obj):
            yield from money_values(x, f"{path}[{i}]")
    elif isinstance(obj, D):
        yield path, obj


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(requests())
def test_patient_plus_plan_equals_allowed(req):
    r = price_episode(req)
    for c in r.claims:
        if c.not_covered:
            # not covered: the patient owes the billed amount, the plan nothing, nothing is allowed
            assert (c.allowed, c.plan_pays, c.patient_pays, c.deductible + c.copay + c.coinsurance) == (
                0, 0, c.not_covered, 0)
        else:
            assert c.deductible + c.copay + c.coinsurance + c.plan_pays == c.allowed
            assert c.patient_pays == c.deductible + c.copay + c.coinsurance + c.balance_bill
            assert c.allowed <= c.billed
    t = r.totals
    assert t.deductible + t.copay + t.coinsurance + t.plan_pays == t.allowed
    assert t.patient_pays == t.deductible + t.copay + t.coinsurance + t.not_covered + t.balance_bill


def _anchor(year: int, mmdd: str) -> dt.date:
    m, d = (int(x) for x in mmdd.split("-"))
    return dt.date(year, m, min(d, calendar.monthrange(year, m)[1]))


def _remainder(total, met):
    return None if total is None else max(total - met, D(0))


@SETTINGS
@given(requests(covered=True))
def test_accumulating_share_never_exceeds_the_oop_remainder(req):
    r = price_episode(req)
    if r.network_status == "self_pay":
        return
    nb: NetworkBenefits | None = getattr(req.benefits, r.network_status)
    if nb is None:
        assert all(c.not_covered == c.billed for c in r.claims)
        return
    met: NetworkAccumulators = getattr(req.accumulators, r.network_status)
    oop = nb.oop_max or Amounts()
    ded = nb.deductible or Amounts()
    family = req.tier == "family"
    # plan-year segments: the first from the accumulators, the next ones from zero
    mmdd = req.benefits.plan_year_start
    start = r.episode.start_date
    year = start.year if _anchor(start.year, mmdd) <= start else start.year - 1
    boundaries = [_anchor(y, mmdd) for y in range(year + 1, year + 4)]
    segments: dict[int, list] = {}
    for c in r.claims:
        segments.setdefault(sum(c.date >= b for b in boundaries), []).append(c)
    for seg, claims in segments.items():
        share = sum((c.deductible + c.copay + c.coinsurance for c in claims), D(0))
        deductible = sum((c.deductible for c in claims), D(0))
        caps = [_remainder(oop.individual, met.oop_met if seg == 0 else D(0))]
        dcaps = [_remainder(ded.individual or D(0), met.deductible_met if seg == 0 else D(0))]
        if family:
            caps.append(_remainder(oop.family, met.family_oop_met if seg == 0 else D(0)))
            dcaps.append(_remainder(ded.family, met.family_deductible_met if seg == 0 else D(0)))
        for cap in caps:
            if cap is not None:
                assert share <= cap
        for cap in dcaps:
            if cap is not None:
                assert deductible <= cap


@SETTINGS
@given(requests(covered=True), money(3000))
def test_more_deductible_met_never_raises_patient_pays(req, extra):
    before = price_episode(req).totals.patient_pays
    acc = req.accumulators
    for name in ("in_network", "out_of_network"):
        a = getattr(acc, name)
        setattr(acc, name, msgspec.structs.replace(
            a, deductible_met=a.deductible_met + extra, family_deductible_met=a.family_deductible_met + extra))
    after = price_episode(req).totals.patient_pays
    assert after <= before


@SETTINGS
@given(requests())
def test_totals_equal_lines_claims_and_months(req):
    r = price_episode(req)
    t = r.totals
    for field in ("billed", "allowed", "plan_pays", "patient_pays"):
        assert sum((getattr(ln, field) for ln in r.lines), D(0)) == getattr(t, field), field
        assert sum((getattr(c, field) for c in r.claims), D(0)) == getattr(t, field), field
    for field in ("deductible", "copay", "coinsurance", "not_covered", "balance_bill"):
        assert sum((getattr(c, field) for c in r.claims), D(0)) == getattr(t, field), field
    assert sum((m.patient_pays for m in r.by_month), D(0)) == t.patient_pays
    assert [m.month for m in r.by_month] == sorted({c.date.strftime("%Y-%m") for c in r.claims})
    assert sum(ln.quantity for ln in r.lines) == len(r.claims)
    if r.network_status == "self_pay":
        assert r.selfpay is not None and t.patient_pays == r.selfpay.patient_pays
        assert t.plan_pays == t.allowed == 0
    if req.episode.weeks is not None or req.episode.days is not None:
        assert r.range.low == r.range.high
        assert r.range.low.patient_pays == t.patient_pays and r.range.low.units == r.episode.units
    for q in r.payment_plans:
        assert q.total_paid - q.total_interest == max(t.patient_pays, q.down_payment)


@SETTINGS
@given(requests())
def test_money_has_two_decimals_and_plan_pays_is_never_negative(req):
    r = price_episode(req)
    for path, value in money_values(r):
        assert value.is_finite() and value.as_tuple().exponent == -2, (path, value)
        assert value >= 0, (path, value)
    assert all(c.plan_pays >= 0 for c in r.claims)
    assert all(ln.plan_pays >= 0 for ln in r.lines)
    assert r.totals.plan_pays >= 0
    # and the result encodes as the API will send it
    assert b'"patient_pays":"' in msgspec.json.encode(r)
