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
def long_requests(draw) -> PricingRequest:
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
    rates = tuple(
        NegotiatedRate(code, kind, amount, start + dt.timedelta(days=eff),
                       None if length is None else start + dt.timedelta(days=eff + length))
        for code, kind, amount, eff, length in draw(st.lists(st.tuples(
            st.sampled_from(CODES), st.sampled_from(["dollar", "percent_of_billed"]), money(100, 1),
            st.integers(-30, span), st.none() | st.integers(0, span)), min_size=1, max_size=5))
    )
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
        benefits=Benefits(payer_id="acme", plan_year_start=draw(st.sampled_from(["01-01", "07-01", "02-29"])),
                          in_network=network, out_of_network=network),
        network=draw(st.sampled_from(["in_network", "out_of_network"])),
        tier=draw(st.sampled_from(["individual", "family"])),
        accumulators=Accumulators(in_network=met, out_of_network=met,
                                  units_used={level: draw(st.integers(0, 300))}),
        negotiated_rates=rates,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_requests())
def test_fast_engine_equals_reference_on_long_episodes(req):
    assert_equal_engines(req)
