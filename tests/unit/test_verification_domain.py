"""The verification domain (costsvc.domain.verification): overlay, discrepancies,
parity flags, accumulator clamping, as-of dates; properties with hypothesis."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from costsvc.api.validation import RequestInvalid, validate
from costsvc.domain.model import (
    LEVELS_OF_CARE,
    Accumulators,
    Amounts,
    Benefits,
    LevelBenefit,
    NetworkBenefits,
)
from costsvc.domain.verification import (
    PARITY_CLASSES,
    InvalidVerification,
    PartialBenefits,
    check_as_of,
    clamp_accumulators,
    discrepancies,
    effective_benefits,
    met_from_remaining,
    parity_flags,
    stored_value,
    tidy,
    verified_fields,
)
from tests.verification import strategies as s


def _same(field: str, a, b) -> bool:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a == b
    if isinstance(a, msgspec.Struct) and isinstance(b, msgspec.Struct):
        return msgspec.to_builtins(tidy(a)) == msgspec.to_builtins(tidy(b))
    return a == b


def _all_paths(b: Benefits) -> list[str]:
    """Every field path a benefits document can hold (for the networks and levels present)."""
    paths = ["plan_year_start"]
    for name in ("in_network", "out_of_network"):
        net = getattr(b, name)
        if net is None:
            continue
        paths += [f"{name}.{a}.{t}" for a in ("deductible", "oop_max") for t in ("individual", "family")]
        paths += [f"{name}.allowed", f"{name}.balance_billing"]
        for level in net.levels:
            paths += [f"{name}.levels.{level}.{f}" for f in LevelBenefit.__struct_fields__]
    return paths


@given(s.benefits, s.partial_benefits)
def test_every_verified_field_wins(stored, verified):
    effective = effective_benefits(stored, verified)
    for path, value in verified_fields(verified):
        assert _same(path, stored_value(effective, path), value), path


@given(s.benefits, s.partial_benefits)
def test_fields_nobody_verified_keep_the_stored_value(stored, verified):
    effective = effective_benefits(stored, verified)
    stated = {p for p, _ in verified_fields(verified)}
    for path in _all_paths(stored):
        if path not in stated:
            assert _same(path, stored_value(effective, path), stored_value(stored, path)), path


@given(st.none() | s.benefits, s.partial_benefits)
def test_overlay_is_idempotent(stored, verified):
    once = effective_benefits(stored, verified)
    assert effective_benefits(once, verified) == once


@given(s.benefits, s.partial_benefits)
def test_discrepancies_are_exactly_the_differing_verified_fields(stored, verified):
    found = discrepancies(stored, verified)
    differing = [p for p, v in verified_fields(verified) if not _same(p, stored_value(stored, p), v)]
    assert [d.field for d in found] == differing
    assert all(d.used == "verified" for d in found)
    # the payer confirming what is stored is no discrepancy
    assert discrepancies(effective_benefits(stored, verified), verified) == []


@given(s.partial_benefits)
def test_without_a_stored_plan_no_discrepancies_and_contract_defaults(verified):
    assert discrepancies(None, verified) == []
    effective = effective_benefits(None, verified)
    for name in ("in_network", "out_of_network"):
        partial = verified.network(name)
        net = getattr(effective, name)
        if partial is None:
            assert net is None
            continue
        assert set(net.levels) == set(partial.levels)
        for level, lb in net.levels.items():
            p = partial.levels[level]
            assert lb.covered == (True if p.covered is None else p.covered)
            assert lb.copay == (Decimal("0") if p.copay is None else p.copay)
            assert lb.coinsurance_pct == (Decimal("0") if p.coinsurance_pct is None else p.coinsurance_pct)
            assert lb.deductible_applies == (True if p.deductible_applies is None else p.deductible_applies)
            assert lb.prior_auth == (False if p.prior_auth is None else p.prior_auth)
            assert lb.limit_units == p.limit_units
        if partial.allowed is None:
            assert net.allowed is None
        if partial.balance_billing is None:
            assert net.balance_billing is False


@given(st.none() | s.benefits, s.partial_benefits)
def test_an_inactive_person_has_no_covered_level(stored, verified):
    effective = effective_benefits(stored, verified, "inactive")
    for net in (effective.in_network, effective.out_of_network):
        if net is not None:
            assert not any(lb.covered for lb in net.levels.values())


def _rules(b: LevelBenefit, m: LevelBenefit) -> set[str]:
    out = set()
    if b.copay > m.copay:
        out.add("copay")
    if b.coinsurance_pct > m.coinsurance_pct:
        out.add("coinsurance_pct")
    if b.deductible_applies and not m.deductible_applies:
        out.add("deductible_applies")
    if b.prior_auth and not m.prior_auth:
        out.add("prior_auth")
    if b.limit_units is not None and (m.limit_units is None or m.limit_units > b.limit_units):
        out.add("limit_units")
    return out


medsurg_rows = st.dictionaries(st.sampled_from(["in_network", "out_of_network"]),
                               st.dictionaries(st.sampled_from(["medsurg_inpatient", "medsurg_outpatient"]),
                                               s.level_benefits))


@given(s.benefits, medsurg_rows)
def test_parity_flags_are_exactly_the_stricter_fields(benefits, medsurg):
    flags = parity_flags(benefits, medsurg)
    got = {(f.classification, f.level, f.field) for f in flags}
    expected = set()
    for network in ("in_network", "out_of_network"):
        net = getattr(benefits, network)
        for medsurg_level, classification, class_levels in PARITY_CLASSES:
            medical = (medsurg.get(network) or {}).get(medsurg_level)
            if net is None or medical is None or not medical.covered:
                continue
            for level in class_levels:
                lb = net.levels.get(level)
                if lb is not None and lb.covered:
                    label = f"{classification}, {network.replace('_', ' ')}"
                    expected |= {(label, level, field) for field in _rules(lb, medical)}
    assert got == expected
    assert len(got) == len(flags)
    assert all("not a legal finding" in f.note.lower() for f in flags)


def test_parity_example_of_the_contract():
    stored = Benefits(payer_id="acme", in_network=NetworkBenefits(levels={
        "iop": LevelBenefit(copay=Decimal("35.00"), coinsurance_pct=Decimal("20")),
        "residential": LevelBenefit(copay=Decimal("0"), coinsurance_pct=Decimal("20"), limit_units=30),
    }))
    medsurg = {"in_network": {
        "medsurg_outpatient": LevelBenefit(copay=Decimal("20.00"), coinsurance_pct=Decimal("20")),
        "medsurg_inpatient": LevelBenefit(copay=Decimal("0"), coinsurance_pct=Decimal("20"), limit_units=None),
    }}
    flags = {(f.classification, f.level, f.field, f.behavioral, f.medical) for f in parity_flags(stored, medsurg)}
    assert flags == {("outpatient, in network", "iop", "copay", "35.00", "20.00"),
                     ("inpatient, in network", "residential", "limit_units", "30", None)}


@given(s.accumulators, s.benefits)
def test_clamped_accumulators_stay_within_the_plan_maximums(accumulators, benefits):
    clamped, warnings = clamp_accumulators(accumulators, benefits)
    changed = 0
    for network in ("in_network", "out_of_network"):
        plan = getattr(benefits, network)
        for field, kind, tier in (("deductible_met", "deductible", "individual"),
                                  ("family_deductible_met", "deductible", "family"),
                                  ("oop_met", "oop_max", "individual"), ("family_oop_met", "oop_max", "family")):
            before = getattr(getattr(accumulators, network), field)
            after = getattr(getattr(clamped, network), field)
            ceiling = getattr(getattr(plan, kind), tier) if plan and getattr(plan, kind) else None
            if ceiling is not None and before > ceiling:
                assert after == ceiling
                changed += 1
            else:
                assert after == before
    for level, used in clamped.units_used.items():
        assert used <= accumulators.units_used[level]
        changed += used != accumulators.units_used[level]
    assert len(warnings) == changed
    assert clamp_accumulators(clamped, benefits) == (clamped, [])


def test_accumulators_above_the_maximum_warn_and_clamp():
    plan = Benefits(in_network=NetworkBenefits(deductible=Amounts(individual=Decimal("1500")),
                                               oop_max=Amounts(individual=Decimal("6000"))))
    acc = Accumulators(in_network=msgspec.structs.replace(Accumulators().in_network, deductible_met=Decimal("2000"),
                                                          oop_met=Decimal("100")))
    clamped, warnings = clamp_accumulators(acc, plan)
    assert clamped.in_network.deductible_met == Decimal("1500") and clamped.in_network.oop_met == Decimal("100")
    assert warnings == ["accumulators.in_network.deductible_met 2000.00 is above the individual deductible "
                        "1500.00; clamped to it"]


def test_as_of_in_the_future_is_rejected():
    today = dt.date(2026, 11, 2)
    check_as_of(today, today)
    with pytest.raises(InvalidVerification) as caught:
        check_as_of(today + dt.timedelta(days=1), today, "accumulators.as_of")
    assert caught.value.field == "accumulators.as_of"


@pytest.mark.parametrize("value", ["120", 120, "100.01", "-1"])
def test_coinsurance_outside_0_to_100_is_rejected(value):
    body = {"in_network": {"levels": {"iop": {"coinsurance_pct": value}}}}
    with pytest.raises(RequestInvalid) as caught:
        validate(body, PartialBenefits)
    assert [e.field for e in caught.value.errors] == ["in_network.levels.iop.coinsurance_pct"]


def test_partial_benefits_accept_any_subset():
    partial = validate({"out_of_network": {"deductible": {"individual": "250"}}}, PartialBenefits)
    assert verified_fields(partial) == [("out_of_network.deductible.individual", Decimal("250"))]
    assert msgspec.json.decode(msgspec.json.encode(tidy(partial))) == {
        "out_of_network": {"deductible": {"individual": "250.00", "family": None}}}


@given(st.none() | s.money, s.money)
def test_met_from_remaining(plan_amount, remaining):
    met = met_from_remaining(plan_amount, remaining)
    if plan_amount is None:
        assert met is None
    else:
        assert met == max(Decimal(0), plan_amount - remaining) and met >= 0


def test_levels_are_the_behavioral_ones_only():
    assert set(LEVELS_OF_CARE) == {"detox", "residential", "php", "iop", "outpatient"}
