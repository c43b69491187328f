"""Every 271 sample in tests/fixtures/x12-271/ (see SOURCES.md there), read as a benefits
analyst would read it: people, relationships, status, as-of, each benefit field per
network and level, remaining amounts, accumulators, unmapped segments and warnings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tariffs.x12 import Unmapped, X12Rejected, read_271

FIXTURES = Path(__file__).parent.parent / "fixtures" / "x12-271"
ALL_LEVELS = ("detox", "residential", "php", "iop", "outpatient")


def read(name: str):
    return read_271((FIXTURES / name).read_bytes())


def every_level(**fields) -> dict:
    return {level: dict(fields) for level in ALL_LEVELS}


NO_EB_WARNING = (
    "the subscriber loop at segment 9 has no EB (benefit) segments: "
    "its status is inactive only because no segment says it is active"
)


def test_5010_subscriber_health_benefit_check():
    result = read("subscriber-health-benefit-check.271")
    assert result.version == "005010X279A1"
    assert result.warnings == []
    [person] = result.people
    assert person.relationship == "subscriber"
    assert (person.member_id, person.first_name, person.last_name) == ("123456789", "JOHN", "SMITH")
    assert person.date_of_birth == dt.date(1963, 5, 19)
    assert person.payer_name == "ABC COMPANY"
    assert person.plan_name == "GOLD 123 PLAN"
    assert person.group_number is None
    assert person.status == "active"
    # no DTP 307/291 in 2100C (only 346, plan begin): the BHT date
    assert person.as_of == dt.date(2006, 5, 1)
    # MH among the repeated service types maps every level; EB12 Y / N split the copays
    assert person.benefits == {
        "in_network": {"levels": every_level(covered=True, copay="10.00", copay_unit="per_visit")},
        "out_of_network": {"levels": every_level(covered=True, copay="30.00", copay_unit="per_visit")},
    }
    assert person.remaining == {}
    assert person.accumulators == {}
    assert person.unmapped == [Unmapped("EB*L", "EB01 L (primary care provider) is not a benefit an estimate uses")]
    assert person.warnings == []


def test_5010_dependent_inherits_the_subscribers_member_id():
    result = read("dependent-health-benefit-check.271")
    assert result.version == "005010X279A1"
    assert result.warnings == []
    subscriber, dependent = result.people
    assert subscriber.relationship == "subscriber"
    assert (subscriber.member_id, subscriber.first_name, subscriber.last_name) == ("123456789", "JOHN", "SMITH")
    assert subscriber.status == "inactive"
    assert subscriber.benefits == {} and subscriber.unmapped == []
    assert subscriber.warnings == [NO_EB_WARNING]

    assert dependent.relationship == "dependent"
    assert dependent.member_id == "123456789"  # NM1*03 has no id of its own
    assert (dependent.first_name, dependent.last_name) == ("MARY", "SMITH")
    assert dependent.date_of_birth == dt.date(1998, 10, 14)
    assert dependent.payer_name == "ABC COMPANY"
    assert dependent.plan_name == "GOLD 123 PLAN"
    assert dependent.status == "active"
    assert dependent.as_of == dt.date(2006, 5, 1)
    assert dependent.benefits == {
        "in_network": {"levels": every_level(covered=True, copay="10.00", copay_unit="per_visit")},
        "out_of_network": {"levels": every_level(covered=True, copay="30.00", copay_unit="per_visit")},
    }
    assert dependent.unmapped == [Unmapped("EB*L", "EB01 L (primary care provider) is not a benefit an estimate uses")]
    assert dependent.warnings == []


def test_5010_rejection_at_the_receiver_level_names_the_aaa():
    with pytest.raises(X12Rejected) as caught:
        read("subscriber-health-benefit-check-error.271")
    e = caught.value
    assert (e.segment_index, e.segment_id, e.reject_code) == (9, "AAA", "50")
    assert e.message == (
        "AAA*Y**50*N at segment 9: the payer rejected the request at the information receiver "
        "(provider) level: 50 provider ineligible for inquiries"
    )


def test_4010_aaa_at_the_subscriber_level_names_the_first_reason():
    with pytest.raises(X12Rejected) as caught:
        read("271-example.txt")
    e = caught.value
    assert (e.segment_index, e.segment_id, e.reject_code) == (14, "AAA", "72")
    assert e.message == "AAA*N**72*C at segment 14: the payer rejected the request for the subscriber: 72 invalid/missing member ID"
    assert "R11111111" not in e.message


def test_4010_example_2_plan_wide_amounts_and_behavioral_levels():
    result = read("271-example-2.txt")
    assert result.version == "004010X092A1"
    assert result.warnings == []
    [person] = result.people
    assert person.relationship == "subscriber"
    assert (person.member_id, person.first_name, person.last_name) == ("111111111", "JANET", "DOE")
    assert person.date_of_birth == dt.date(1937, 3, 5)
    assert person.payer_name == "COMMERCIAL SAMPLE"
    assert person.plan_name == "MANAGED INDEMNITY"
    assert person.group_number == "00000"  # REF*6P
    assert person.status == "active"
    assert person.as_of == dt.date(2005, 2, 1)  # DTP*307 of 2100C
    copay0 = {"copay": "0.00", "copay_unit": "per_visit", "covered": True}
    assert person.benefits == {
        "in_network": {
            "deductible": {"individual": "118.00", "family": "236.00"},
            "oop_max": {"individual": "1500.00", "family": "3000.00"},
            "levels": {
                # A7 (inpatient psychiatric, 2 levels) beats A4 (psychiatric, every level)
                "detox": {**copay0, "coinsurance_pct": "10"},
                "residential": {**copay0, "coinsurance_pct": "10"},
                "php": {**copay0, "coinsurance_pct": "20"},  # only A4 reaches php
                "iop": {**copay0, "coinsurance_pct": "20"},  # A8
                "outpatient": {**copay0, "coinsurance_pct": "20"},  # A6
            },
        },
        # EB*1 with a blank EB12 applies to both networks; the N amounts are all 0
        "out_of_network": {
            "deductible": {"individual": "0.00", "family": "0.00"},
            "oop_max": {"individual": "0.00", "family": "0.00"},
            "levels": every_level(covered=True),
        },
    }
    assert person.remaining == {
        "in_network": {"deductible": {"individual": "0.00", "family": "236.00"},
                       "oop_max": {"individual": "0.00", "family": "0.00"}},
        "out_of_network": {"deductible": {"individual": "0.00", "family": "0.00"},
                           "oop_max": {"individual": "0.00", "family": "0.00"}},
    }
    assert person.accumulators == {
        "as_of": "2005-02-01",
        "in_network": {"deductible_met": "118.00", "family_deductible_met": "0.00",
                       "oop_met": "1500.00", "family_oop_met": "3000.00"},
        "out_of_network": {"deductible_met": "0.00", "family_deductible_met": "0.00",
                           "oop_met": "0.00", "family_oop_met": "0.00"},
    }
    # the year-to-date oop (3025.90) disagrees with plan - remaining (3000 - 0)
    assert person.warnings == [
        "in-network family out-of-pocket maximum: segment 27 says 3025.90 met year to date, the plan amount "
        "less the remaining amount (segment 28) is 3000.00; the remaining amount is used"
    ]
    reasons = {u.segment: u.reason for u in person.unmapped}
    assert reasons["EB*G*FAM*30*C1**24*3025.9*****Y"].startswith("a year-to-date amount")
    assert reasons["EB*I**35"] == "service type 35 is not behavioral"
    assert reasons["EB*A*IND*47***27**0.1****Y"] == "service type 47 is not behavioral"
    assert reasons["EB*R**30"] == "EB01 R (other or additional payor) is not a benefit an estimate uses"
    assert reasons["EB*X"] == "EB01 X (health care facility) is not a benefit an estimate uses"
    # 8 year-to-date amounts, 4 non-covered and 42 cost-sharing segments of other service
    # types (21 types × A and B; 98 twice), R and X; the EB*1 segments set the status
    assert len(person.unmapped) == 8 + 4 + 44 + 2
    assert not any(u.segment.startswith("EB*1*") for u in person.unmapped)
    assert not any(" A4" in u.reason or "A6" in u.segment or "A7" in u.segment or "A8" in u.segment
                   for u in person.unmapped)


def test_4010_dependent_benefits():
    result = read("271-dependent-benefits.txt")
    assert result.version == "004010X092A1"
    assert result.warnings == [
        "SE01 at segment 83 says 79 segments, the transaction has 81",
        "GE02 at segment 84 (0931) does not match GS06 (410)",
        "IEA02 at segment 85 (000090132) does not match ISA13 (000000418)",
    ]
    subscriber, dependent = result.people
    assert (subscriber.relationship, subscriber.status) == ("subscriber", "inactive")
    assert (subscriber.member_id, subscriber.first_name, subscriber.last_name) == ("111111111", "JOHN", "DOE")
    assert subscriber.group_number == "11111"
    assert subscriber.as_of == dt.date(2012, 10, 1)  # BHT
    assert subscriber.warnings == [NO_EB_WARNING]

    assert dependent.relationship == "dependent"
    assert dependent.member_id == "111111111"
    assert (dependent.first_name, dependent.last_name) == ("JANE", "DOE")
    assert dependent.date_of_birth == dt.date(1937, 3, 5)
    assert dependent.group_number == "11111"  # inherited: the 2000D has only REF*18
    assert dependent.plan_name == "Aetna Choice POS II"  # EB05, not the 2120 NM1*PR
    assert dependent.payer_name == "COMMERCIAL SAMPLE"
    assert dependent.status == "active"
    assert dependent.as_of == dt.date(2011, 8, 1)  # the 2100D DTP*307, not the 2110 one
    assert dependent.benefits == {
        "in_network": {
            "deductible": {"individual": "200.00", "family": "600.00"},
            "levels": every_level(covered=True),
        },
        "out_of_network": {
            "deductible": {"individual": "200.00", "family": "600.00"},
            "oop_max": {"individual": "1000.00", "family": "3000.00"},
            "levels": every_level(covered=True),
        },
    }
    assert dependent.remaining == {
        "in_network": {"deductible": {"individual": "78.80", "family": "186.89"}},
        "out_of_network": {"deductible": {"individual": "78.80", "family": "186.89"},
                           "oop_max": {"individual": "1000.00", "family": "3000.00"}},
    }
    assert dependent.accumulators == {
        "as_of": "2011-08-01",
        "in_network": {"deductible_met": "121.20", "family_deductible_met": "413.11"},
        "out_of_network": {"deductible_met": "121.20", "family_deductible_met": "413.11",
                           "oop_met": "0.00", "family_oop_met": "0.00"},
    }
    assert dependent.unmapped == [
        Unmapped("EB*L*FAM*30*PS", "EB01 L (primary care provider) is not a benefit an estimate uses"),
        Unmapped("EB*W", "EB01 W (other source of data) is not a benefit an estimate uses"),
        Unmapped("EB*C*FAM*30***23*600", "superseded by the earlier segment 36 for the same benefit"),
        Unmapped("EB*C*IND*30***23*200", "superseded by the earlier segment 46 for the same benefit"),
        Unmapped("EB*A*FAM*5*****0****Y", "service type 5 is not behavioral"),
        Unmapped("EB*F*FAM*5*********Y", "service type 5 is not behavioral"),
        Unmapped("EB*B*FAM*5****0", "service type 5 is not behavioral"),
        Unmapped("EB*F*FAM*5", "service type 5 is not behavioral"),
        Unmapped("EB*F*FAM*5***32", "service type 5 is not behavioral"),
        Unmapped("EB*F*FAM*5", "service type 5 is not behavioral"),
        Unmapped("EB*A*FAM*5*****.3****N", "service type 5 is not behavioral"),
    ]
    assert dependent.warnings == []


def test_4010_related_entity():
    result = read("271-related-entity.txt")
    assert result.warnings == ["SE01 at segment 64 says 77 segments, the transaction has 62"]
    subscriber, dependent = result.people
    assert subscriber.status == "inactive" and subscriber.group_number is None
    assert dependent.relationship == "dependent"
    assert dependent.member_id == "111111111"
    assert dependent.group_number == "55555G"  # its own REF*6P
    assert dependent.plan_name == "HMO CEDARS SINAI ONLY"
    assert dependent.status == "active"
    # DTP*291 RD8 2012-01-01..9999-12-31: the response date (BHT 2012-09-27) lies inside it
    assert dependent.as_of == dt.date(2012, 9, 27)
    assert dependent.benefits == {
        "in_network": {"oop_max": {"individual": "500.00", "family": "1000.00"}, "levels": every_level(covered=True)},
        "out_of_network": {"levels": every_level(covered=True)},
    }
    assert dependent.remaining == {"in_network": {"oop_max": {"individual": "460.00", "family": "870.00"}}}
    assert dependent.accumulators == {
        "as_of": "2012-09-27",
        "in_network": {"oop_met": "40.00", "family_oop_met": "130.00"},
    }
    assert [u.segment for u in dependent.unmapped] == [
        "EB*G*FAM*30***23*1500*****Y",  # the second family maximum: the first in the file wins
        "EB*G*FAM*30***29*1370*****Y",
        "EB*B**5***26*0*****Y",
        "EB*B**5***27*0*****Y",
        "EB*B**5***27*20*****Y",
        "EB*I**5*********N",
        "EB*N",
        "EB*L",
        "EB*P",
    ]
    assert dependent.unmapped[0].reason == "superseded by the earlier segment 26 for the same benefit"
    assert dependent.warnings == []


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir() if p.name != "SOURCES.md"))
def test_no_phi_in_messages_warnings_or_repr(name):
    data = (FIXTURES / name).read_bytes()
    phi = ["123456789", "111111111", "R11111111", "SMITH", "JOHN", "MARY", "JANE", "JANET", "DOE",
           "19630519", "19981014", "19370305", "1963-05-19", "1937-03-05"]
    try:
        result = read_271(data)
    except X12Rejected as e:
        texts = [e.message, repr(e), str(e)]
    else:
        texts = [repr(result), str(result), *result.warnings]
        for person in result.people:
            texts += [repr(person), *person.warnings, *(u.segment + u.reason for u in person.unmapped)]
    for text in texts:
        for value in phi:
            assert value not in text, (value, text)
