"""The fast engine (runs of equal claims in closed form) equals the reference engine
(claim by claim, as docs/API.md writes it) to the cent, on generated requests.

Equality is of the encoded results, byte for byte: every amount, its two decimals,
every line, month, claim (when listed), notice and range point.  docs/ENGINE.md
("Two engines") shows a deliberate off-by-one in the fast engine that these catch.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costsvc.domain.claims import _plan_year_start
from costsvc.domain.engine import price_episode, price_episode_by_claims
from costsvc.domain.errors import DomainError
from costsvc.domain.model import (
    Accumulators,
    Amounts,
    Benefits,
    EpisodeRequest,
    FeeLine,
    LevelBenefit,
    NegotiatedRate,
    NetworkAccumulators,
    NetworkBenefits,
    PricingRequest,
)
from tests.unit.test_engine_properties import money, requests

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(price, req: PricingRequest) -> bytes:
    """The encoded result, or the error (field and message) the engine raised."""
    try:
        return msgspec.json.encode(price(req))
    except DomainError as exc:
        return f"{type(exc).__name__}:{exc.field}:{exc}".encode()


def assert_equal_engines(req: PricingRequest) -> None:
    for include_claims in (True, False):
        r = msgspec.structs.replace(req, include_claims=include_claims)
        assert outcome(price_episode, r) == outcome(price_episode_by_claims, r)


@SETTINGS
@given(requests())
def test_fast_engine_equals_reference_on_any_request(req):
    assert_equal_engines(req)


@SETTINGS
@given(requests(covered=True))
def test_fast_engine_equals_reference_when_covered(req):
    assert_equal_engines(req)


# --------------------------------------------------------------------------- long episodes
# Many runs per episode: up to 104 weeks crossing two plan-year starts, rates that start
# and expire inside the episode, unit limits reached mid-year, deductibles and
# out-of-pocket maximums exhausted a few claims in (small ones) or late (large ones).

CODES = ("H0015", "90791", "S9480")
small_or_large = st.one_of(money(300), money(20_000, 2000))


@st.composite
def long_requests(draw, rates_on_plan_years: bool = False) -> PricingRequest:
    """``rates_on_plan_years``: in network, every rate of a billed code, starting (and ending)
    at plan-year starts: a reset and a rate change on the same unit, and nothing else."""
    level = draw(st.sampled_from(["iop", "php", "outpatient", "residential", "detox"]))
    start = draw(st.dates(dt.date(2025, 6, 1), dt.date(2027, 6, 30)))
    if level in ("residential", "detox"):
        episode = EpisodeRequest(start_date=start, days=draw(st.integers(1, 730)))
        span = 730
    else:
        per_week = draw(st.integers(1, 7 if level != "outpatient" else 14))
        weeks = draw(st.integers(1, min(104, 730 // per_week)))
        field = "sessions_per_week" if level == "outpatient" else "days_per_week"
        episode = EpisodeRequest(start_date=start, weeks=weeks, **{field: per_week})
        span = weeks * 7
    lines = draw(st.lists(st.builds(
        FeeLine, st.sampled_from(CODES), st.just("line"),
        st.sampled_from(["per_service", "per_service", "per_episode"]), money(900, 1), st.none() | money(700)),
        min_size=1, max_size=3))
    plan_year_start = draw(st.sampled_from(["01-01", "07-01", "02-29"]))
    # Payers' rates often start on a plan-year start (new contracts on January 1st), and end
    # the day before one: the day a reset and a rate change fall on the same unit.
    anchors = [_plan_year_start(year, *map(int, plan_year_start.split("-"))) for year in range(2025, 2030)]
    on_anchors = rates_on_plan_years or draw(st.booleans())  # rates start and end at plan-year starts
    codes = sorted({ln.billing_code for ln in lines}) if rates_on_plan_years else CODES
    days = st.integers(-30, span).map(lambda d: start + dt.timedelta(days=d))
    rates = []
    for code, kind, amount, eff, length, before_anchor in draw(st.lists(st.tuples(
            st.sampled_from(codes), st.sampled_from(["dollar", "percent_of_billed"]), money(100, 1),
            st.sampled_from(anchors) if on_anchors else days | st.sampled_from(anchors),
            st.none() if on_anchors else st.none() | st.integers(0, span),
            st.none() | st.sampled_from(anchors)), min_size=1, max_size=5)):
        expires = None if length is None else eff + dt.timedelta(days=length)
        if before_anchor is not None and before_anchor > eff:
            expires = before_anchor - dt.timedelta(days=1)
        rates.append(NegotiatedRate(code, kind, amount, eff, expires))
    benefit = LevelBenefit(
        covered=True,
        copay=draw(st.just(D(0)) | money(60)),
        copay_unit=draw(st.sampled_from(["per_day", "per_visit", "per_admission"])),
        deductible_applies=draw(st.booleans()),
        coinsurance_pct=draw(st.integers(0, 100).map(D) | st.integers(0, 10_000).map(lambda x: D(x) / 100)),
        limit_units=draw(st.none() | st.integers(0, 300)),
    )
    network = NetworkBenefits(
        deductible=Amounts(draw(st.none() | small_or_large), draw(st.none() | small_or_large)),
        oop_max=Amounts(draw(st.none() | small_or_large), draw(st.none() | small_or_large)),
        balance_billing=draw(st.booleans()),
        levels={level: benefit},
    )
    met = NetworkAccumulators(draw(money(400)), draw(money(800)), draw(money(400)), draw(money(800)))
    return PricingRequest(
        program_id="p",
        level_of_care=level,
        fee_lines=tuple(lines),
        episode=episode,
        today=dt.date(2026, 5, 1),
        benefits=Benefits(payer_id="acme", plan_year_start=plan_year_start,
                          in_network=network, out_of_network=network),
        network="in_network" if rates_on_plan_years else draw(st.sampled_from(["in_network", "out_of_network"])),
        tier=draw(st.sampled_from(["individual", "family"])),
        accumulators=Accumulators(in_network=met, out_of_network=met,
                                  units_used={level: draw(st.integers(0, 300))}),
        negotiated_rates=tuple(rates),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_requests())
def test_fast_engine_equals_reference_on_long_episodes(req):
    assert_equal_engines(req)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_requests(rates_on_plan_years=True))
def test_fast_engine_equals_reference_when_rates_change_with_the_plan_year(req):
    assert_equal_engines(req)
