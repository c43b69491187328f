"""The EB mapping table (docs/X12.md), row by row, on 271s built for each case."""

from __future__ import annotations

import datetime as dt

import pytest

from tariffs.x12 import Unmapped, read_271
from tests.unit.x12_builder import SUBSCRIBER_ID, V4010, body_271, interchange, render, transaction

ALL_LEVELS = ("detox", "residential", "php", "iop", "outpatient")


def person(*segments: str, **options):
    [only] = read_271(body_271(*segments, **options)).people
    return only


def levels(p, network="in_network") -> dict:
    return p.benefits.get(network, {}).get("levels", {})


# --------------------------------------------------------------------------- status (EB01 1/6/7/8)


def test_active_coverage_makes_the_person_active_and_covers_the_mapped_levels():
    p = person("EB*6**30", "EB*1**A8")
    assert p.status == "active"
    assert levels(p) == {"iop": {"covered": True}, "outpatient": {"covered": True}}
    assert p.unmapped == []  # both set the status


@pytest.mark.parametrize("eb01", ["6", "7", "8"])
def test_inactive_codes_give_inactive_and_are_not_unmapped(eb01):
    p = person(f"EB*{eb01}**30")
    assert p.status == "inactive"
    assert p.benefits == {}
    assert p.unmapped == []


def test_a_person_without_active_coverage_is_inactive():
    p = person("EB*B**A8***27*20")
    assert p.status == "inactive"
    assert levels(p)["iop"]["copay"] == "20.00"


# --------------------------------------------------------------------------- A coinsurance


@pytest.mark.parametrize(("eb08", "pct"), [(".2", "20"), ("0.125", "12.5"), ("1", "100"), ("0", "0"), ("1.0", "100")])
def test_coinsurance_fraction_becomes_a_plain_percent(eb08, pct):
    p = person(f"EB*A**BB***27**{eb08}")
    assert levels(p) == {"php": {"coinsurance_pct": pct}}
    assert levels(p, "out_of_network") == {"php": {"coinsurance_pct": pct}}


def test_coinsurance_above_one_is_unmapped():
    p = person("EB*A**BB***27**20")
    assert p.benefits == {}
    assert p.unmapped == [Unmapped("EB*A**BB***27**20", "EB08 (coinsurance) is above 1, and a fraction is expected (.2 = 20 %)")]


def test_coinsurance_without_a_fraction_is_unmapped():
    p = person("EB*A**BB")
    assert p.unmapped == [Unmapped("EB*A**BB", "coinsurance without a fraction (EB08)")]


# --------------------------------------------------------------------------- B copay


@pytest.mark.parametrize(
    ("eb06", "unit"), [("27", "per_visit"), ("", "per_visit"), ("7", "per_day"), ("26", "per_admission"), ("37", "per_admission")]
)
def test_copay_units(eb06, unit):
    p = person(f"EB*B**RT***{eb06}*150")
    assert levels(p) == {"residential": {"copay": "150.00", "copay_unit": unit}}


def test_copay_with_another_period_is_unmapped():
    p = person("EB*B**RT***23*150")
    assert p.unmapped == [Unmapped("EB*B**RT***23*150", "EB06 23 (calendar year) is not a copay unit (visit, day, episode, admission)")]


def test_copay_amount_that_is_not_an_amount_is_unmapped():
    p = person("EB*B**RT***27*-5")
    assert p.benefits == {}
    assert p.unmapped == [Unmapped("EB*B**RT***27*-5", "EB07 (amount) must not be negative")]


# --------------------------------------------------------------------------- C deductible / G out of pocket


@pytest.mark.parametrize(("eb01", "kind"), [("C", "deductible"), ("G", "oop_max")])
@pytest.mark.parametrize("eb06", ["23", "22", ""])
def test_plan_amounts_on_30_are_the_networks_amounts(eb01, kind, eb06):
    p = person(f"EB*{eb01}*IND*30***{eb06}*1500*****Y", f"EB*{eb01}*FAM*30***{eb06}*3000*****Y")
    assert p.benefits == {"in_network": {kind: {"individual": "1500.00", "family": "3000.00"}}}
    assert p.remaining == {} and p.accumulators == {}


@pytest.mark.parametrize(("eb01", "kind", "met", "family_met"), [("C", "deductible", "deductible_met", "family_deductible_met"),
                                                                  ("G", "oop_max", "oop_met", "family_oop_met")])
def test_remaining_amounts_give_the_accumulators(eb01, kind, met, family_met):
    p = person(
        "DTP*307*D8*20261101",
        f"EB*{eb01}*IND*30***23*1500*****Y",
        f"EB*{eb01}*IND*30***29*300*****Y",
        f"EB*{eb01}*FAM*30***23*3000*****Y",
        f"EB*{eb01}*FAM*30***29*3500*****Y",  # more remaining than the plan amount: met is 0, never negative
    )
    assert p.benefits == {"in_network": {kind: {"individual": "1500.00", "family": "3000.00"}}}
    assert p.remaining == {"in_network": {kind: {"individual": "300.00", "family": "3500.00"}}}
    assert p.accumulators == {"as_of": "2026-11-01", "in_network": {met: "1200.00", family_met: "0.00"}}
    assert p.unmapped == [] and p.warnings == []


def test_remaining_without_a_plan_amount_is_kept_with_a_warning():
    p = person("EB*C*IND*30***29*250*****N")
    assert p.benefits == {}
    assert p.remaining == {"out_of_network": {"deductible": {"individual": "250.00"}}}
    assert p.accumulators == {}
    assert p.warnings == [
        "out-of-network individual deductible: segment 12 gives the remaining amount but this file has no plan "
        "amount: the accumulator is left for the stored plan to determine"
    ]
    assert p.unmapped == []


def test_year_to_date_gives_the_met_amount_when_there_is_no_remaining_amount():
    p = person("EB*C*IND*30***23*1000*****Y", "EB*C*IND*30***24*400*****Y")
    assert p.accumulators == {"as_of": "2026-11-02", "in_network": {"deductible_met": "400.00"}}
    assert p.unmapped == []


def test_year_to_date_is_capped_at_the_plan_amount():
    p = person("EB*G*IND*30***23*1000*****Y", "EB*G*IND*30***24*1400*****Y")
    assert p.accumulators["in_network"] == {"oop_met": "1000.00"}


def test_deductible_for_a_behavioral_service_type_is_unmapped():
    p = person("EB*C*IND*MH***23*500")
    assert p.benefits == {}
    assert p.unmapped == [Unmapped(
        "EB*C*IND*MH***23*500",
        "a deductible for service type MH: only plan-wide amounts (service type 30) have a place in the benefits",
    )]


def test_blank_service_type_is_plan_wide():
    p = person("EB*C*IND****23*500")
    assert p.benefits == {"in_network": {"deductible": {"individual": "500.00"}},
                          "out_of_network": {"deductible": {"individual": "500.00"}}}


def test_other_coverage_levels_are_unmapped():
    p = person("EB*C*ESP*30***23*500")
    assert p.unmapped == [Unmapped("EB*C*ESP*30***23*500", "EB02 ESP is neither an individual (IND) nor a family (FAM) amount")]


def test_lifetime_amount_is_unmapped():
    p = person("EB*G*IND*30***32*50000")
    assert p.unmapped == [Unmapped("EB*G*IND*30***32*50000", "EB06 32 (lifetime) is not a plan-year amount")]


def test_blank_tier_is_individual_and_fam_is_family():
    p = person("EB*C**30***23*700*****Y", "EB*C*FAM*30***23*1400*****Y")
    assert p.benefits["in_network"]["deductible"] == {"individual": "700.00", "family": "1400.00"}


# --------------------------------------------------------------------------- F limitations


@pytest.mark.parametrize("quantity", ["VS", "DY"])
def test_limitation_gives_limit_units_and_remaining_gives_units_used(quantity):
    p = person(f"EB*F**CH***23***{quantity}*30", f"EB*F**CH***29***{quantity}*12")
    assert levels(p) == {"iop": {"limit_units": 30}, "outpatient": {"limit_units": 30}}
    assert p.remaining == {"units": {"iop": 12, "outpatient": 12}}
    assert p.accumulators == {"as_of": "2026-11-02", "units_used": {"iop": 18, "outpatient": 18}}


def test_units_remaining_without_a_limit_are_kept_with_a_warning():
    p = person("EB*F**RT***29***DY*10")
    assert p.remaining == {"units": {"residential": 10}}
    assert p.accumulators == {}
    assert p.warnings == ["residential has 10 units remaining but no limit in this file: units_used is left unset"]


def test_limitation_of_another_quantity_or_without_a_count_is_unmapped():
    p = person("EB*F**RT***23***HS*10", "EB*F**RT")
    assert [u.reason for u in p.unmapped] == [
        "limitation without a count of days or visits (EB09 DY/VS with EB10)",
        "limitation without a count of days or visits (EB09 DY/VS with EB10)",
    ]


def test_the_spec_example_of_a_non_behavioral_limit():
    p = person("EB*F**47*MA**29***DY*60")
    assert p.unmapped == [Unmapped("EB*F**47*MA**29***DY*60", "service type 47 is not behavioral")]


# --------------------------------------------------------------------------- I / CB / N and others


def test_non_covered_sets_covered_false():
    p = person("EB*1**30", "EB*I**RT")
    assert levels(p)["residential"] == {"covered": False}  # RT is more specific than 30
    assert levels(p)["php"] == {"covered": True}


@pytest.mark.parametrize(("eb01", "name"), [("CB", "coverage basis"), ("N", "services restricted to following provider"),
                                            ("L", "primary care provider"), ("ZZ", "unknown code")])
def test_other_eb01_codes_are_unmapped(eb01, name):
    p = person(f"EB*{eb01}**A8")
    assert p.unmapped == [Unmapped(f"EB*{eb01}**A8", f"EB01 {eb01} ({name}) is not a benefit an estimate uses")]


# --------------------------------------------------------------------------- levels by EB03


@pytest.mark.parametrize(
    ("code", "mapped"),
    [
        ("30", ALL_LEVELS), ("MH", ALL_LEVELS), ("A4", ALL_LEVELS), ("AI", ALL_LEVELS), ("AJ", ALL_LEVELS), ("AK", ALL_LEVELS),
        ("RT", ("residential",)), ("BB", ("php",)),
        ("A7", ("detox", "residential")), ("CE", ("detox", "residential")), ("CG", ("detox", "residential")), ("CI", ("detox", "residential")),
        ("A8", ("iop", "outpatient")), ("CF", ("iop", "outpatient")), ("CH", ("iop", "outpatient")), ("CJ", ("iop", "outpatient")),
        ("A6", ("outpatient",)),
    ],
)
def test_service_type_levels(code, mapped):
    p = person(f"EB*B**{code}***27*25*****Y")
    assert set(levels(p)) == set(mapped)
    assert all(v == {"copay": "25.00", "copay_unit": "per_visit"} for v in levels(p).values())


@pytest.mark.parametrize("code", ["47", "ZZ", "98", "UC"])
def test_unknown_or_non_behavioral_service_types_are_unmapped(code):
    p = person(f"EB*B**{code}***27*25")
    assert p.benefits == {}
    assert p.unmapped == [Unmapped(f"EB*B**{code}***27*25", f"service type {code} is not behavioral")]


def test_repeated_service_types_each_apply():
    p = person("EB*B**RT^A6^47***27*40")
    assert set(levels(p)) == {"residential", "outpatient"}
    assert p.unmapped == []


def test_most_specific_wins_whatever_the_order():
    p = person(
        "EB*B**30***27*50*****Y",
        "EB*B**A4***27*35*****Y",
        "EB*B**A8***27*20*****Y",
        "EB*B**A6***27*15*****Y",
    )
    copays = {level: v["copay"] for level, v in levels(p).items()}
    assert copays == {"detox": "35.00", "residential": "35.00", "php": "35.00", "iop": "20.00", "outpatient": "15.00"}
    assert p.unmapped == [Unmapped("EB*B**30***27*50*****Y", "superseded by the more specific segment 13 for the same benefit")]
    reversed_order = person(
        "EB*B**A6***27*15*****Y", "EB*B**A8***27*20*****Y", "EB*B**A4***27*35*****Y", "EB*B**30***27*50*****Y"
    )
    assert reversed_order.benefits == p.benefits


def test_a_30_copay_applies_to_every_level_when_nothing_more_specific_is_said():
    p = person("EB*A**30***27**.3*****Y", "EB*A**RT***27**.1*****Y")
    pct = {level: v["coinsurance_pct"] for level, v in levels(p).items()}
    assert pct == {"detox": "30", "residential": "10", "php": "30", "iop": "30", "outpatient": "30"}


def test_tie_first_segment_in_the_file_wins():
    p = person("EB*B**CH***27*20*****Y", "EB*B**A8***27*25*****Y")
    assert levels(p)["iop"]["copay"] == "20.00" and levels(p)["outpatient"]["copay"] == "20.00"
    assert p.unmapped == [Unmapped("EB*B**A8***27*25*****Y", "superseded by the earlier segment 12 for the same benefit")]


def test_repeated_codes_take_the_most_specific_of_the_segment_per_level():
    # RT^A4: residential through RT (rank 1), others through A4 — beats a later A7 for residential only
    p = person("EB*B**RT^A4***7*100*****Y", "EB*B**A7***7*80*****Y")
    copays = {level: v["copay"] for level, v in levels(p).items()}
    assert copays == {"detox": "80.00", "residential": "100.00", "php": "100.00", "iop": "100.00", "outpatient": "100.00"}


def test_4010_has_no_mh():
    p = person("EB*B**MH***27*25", "EB*B**A4***27*30", version=V4010)
    assert {v["copay"] for v in levels(p).values()} == {"30.00"}
    assert p.unmapped == [Unmapped("EB*B**MH***27*25", "service type MH does not exist in 4010")]
    assert person("EB*B**MH***27*25").unmapped == []


# --------------------------------------------------------------------------- networks, prior auth


@pytest.mark.parametrize(("eb12", "networks"), [("Y", {"in_network"}), ("N", {"out_of_network"}),
                                                 ("W", {"in_network", "out_of_network"}), ("", {"in_network", "out_of_network"})])
def test_networks(eb12, networks):
    p = person(f"EB*B**BB***27*10*****{eb12}")
    assert set(p.benefits) == networks


def test_unknown_network_indicator_is_unmapped():
    p = person("EB*B**BB***27*10*****Q")
    assert p.unmapped == [Unmapped("EB*B**BB***27*10*****Q", "EB12 Q is not a network indicator (Y, N, W)")]


def test_prior_auth_from_eb11():
    p = person("EB*1**A7********Y", "EB*B**A8***27*20****N*Y")
    # no network on the EB*1: both networks; the copay is in network only
    assert levels(p, "out_of_network") == {
        "detox": {"covered": True, "prior_auth": True},
        "residential": {"covered": True, "prior_auth": True},
    }
    assert levels(p, "in_network") == {
        "detox": {"covered": True, "prior_auth": True},
        "residential": {"covered": True, "prior_auth": True},
        "iop": {"copay": "20.00", "copay_unit": "per_visit", "prior_auth": False},
        "outpatient": {"copay": "20.00", "copay_unit": "per_visit", "prior_auth": False},
    }


# --------------------------------------------------------------------------- person-level fields


def test_as_of_prefers_dtp_307_then_291_then_the_bht_date():
    assert person("DTP*291*D8*20260101", "DTP*307*D8*20261015").as_of == dt.date(2026, 10, 15)
    assert person("DTP*291*D8*20260101").as_of == dt.date(2026, 1, 1)
    assert person("EB*1**30").as_of == dt.date(2026, 11, 2)
    # a DTP inside the 2110 loop dates that benefit, not the response
    assert person("EB*1**30", "DTP*307*D8*20200101").as_of == dt.date(2026, 11, 2)


def test_as_of_for_a_range_is_the_response_date_inside_the_range():
    assert person("DTP*291*RD8*20260101-20261231").as_of == dt.date(2026, 11, 2)
    assert person("DTP*291*RD8*20250101-20251231").as_of == dt.date(2025, 12, 31)


def test_plan_name_from_active_eb05_else_reference():
    assert person("EB*L**30**OTHER", "EB*1**30**GOLD PPO").plan_name == "GOLD PPO"
    assert person("REF*18*P123*SILVER HMO", "EB*1**30").plan_name == "SILVER HMO"
    assert person("REF*18*P123", "EB*1**30").plan_name == "P123"


def test_group_number_prefers_6p_to_1l():
    assert person("REF*1L*POL9", "REF*6P*GRP1").group_number == "GRP1"
    assert person("REF*1L*POL9").group_number == "POL9"


def test_dependents_inherit_member_id_and_plan_unless_their_loop_gives_its_own():
    body = render(interchange(transaction(
        "REF*6P*GRP1", "EB*1**30**GOLD PPO",
        dependents=(
            ("NM1*03*1*DOE*SAM", "DMG*D8*20100304*M", "EB*1**30"),
            ("NM1*03*1*DOE*ANN****MI*DEP77", "REF*6P*GRP2", "EB*6**30**BRONZE"),
        ),
    )))
    subscriber, sam, ann = read_271(body).people
    assert subscriber.member_id == SUBSCRIBER_ID
    assert (sam.relationship, sam.member_id, sam.plan_name, sam.group_number) == ("dependent", SUBSCRIBER_ID, "GOLD PPO", "GRP1")
    assert sam.first_name == "SAM" and sam.date_of_birth == dt.date(2010, 3, 4)
    assert (ann.member_id, ann.plan_name, ann.group_number, ann.status) == ("DEP77", "BRONZE", "GRP2", "inactive")


def test_related_entity_loops_do_not_rename_the_person_or_payer():
    p = person("EB*1**30", "LS*2120", "NM1*PR*2*OTHER PAYER", "NM1*IL*1*SOMEONE*ELSE****MI*X1", "LE*2120")
    assert (p.last_name, p.member_id, p.payer_name) == ("DOE", SUBSCRIBER_ID, "ACME HEALTH")


def test_bad_date_of_birth_is_a_warning_without_the_value():
    p = person("EB*1**30", subscriber=("NM1*IL*1*DOE*JANE****MI*A1", "DMG*D8*19801345*F"))
    assert p.date_of_birth is None
    assert p.warnings == ["DMG02 (date of birth) at segment 11 is not a CCYYMMDD date; it is left out"]
