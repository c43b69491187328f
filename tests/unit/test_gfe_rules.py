"""The No Surprises Act rules a GFE follows: business-day deadlines around US federal
holidays, the 12-month validity, the patient and diagnosis-code checks, and laying a
stored estimate's episode out again."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costsvc.domain import gfe
from costsvc.domain.episode import resolve_episode
from costsvc.domain.model import EpisodeRequest

US = gfe.us_federal_holidays()
D = dt.date


@pytest.mark.parametrize(("holiday", "name"), [
    (D(2026, 1, 1), "New Year's Day"), (D(2026, 1, 19), "Martin Luther King Jr. Day"),
    (D(2026, 2, 16), "Washington's Birthday"), (D(2026, 5, 25), "Memorial Day"),
    (D(2026, 6, 19), "Juneteenth"), (D(2026, 7, 3), "Independence Day observed (the 4th is a Saturday)"),
    (D(2026, 9, 7), "Labor Day"), (D(2026, 10, 12), "Columbus Day"), (D(2026, 11, 11), "Veterans Day"),
    (D(2026, 11, 26), "Thanksgiving Day"), (D(2026, 12, 25), "Christmas Day"),
    (D(2027, 12, 24), "Christmas observed (the 25th is a Saturday)"),
    (D(2027, 12, 31), "New Year's Day 2028 observed (a Saturday)"),
])
def test_federal_holidays_are_not_business_days(holiday, name):
    assert holiday.weekday() < 5, name
    assert not gfe.is_business_day(holiday, US), name


def test_ordinary_days_around_holidays():
    assert gfe.is_business_day(D(2026, 11, 25), US)  # the day before Thanksgiving
    assert gfe.is_business_day(D(2026, 11, 27), US)  # the Friday after: not a federal holiday
    assert not gfe.is_business_day(D(2026, 7, 4), US)  # Saturday
    assert not gfe.is_business_day(D(2026, 12, 27), US)  # Sunday


def test_deadline_skips_weekend_and_holiday():
    # Requested Wednesday 2026-11-25: Thursday is Thanksgiving, then Friday, (weekend), Monday, Tuesday.
    d = gfe.gfe_deadline(D(2026, 11, 25), None, D(2026, 11, 25), US)
    assert (d.basis, d.business_days, d.due_by, d.met) == ("requested", 3, D(2026, 12, 1), True)
    # Christmas Friday 2026: scheduled Thursday 12-24, 1 business day -> Monday 12-28.
    d = gfe.gfe_deadline(D(2026, 12, 24), D(2027, 1, 8), D(2026, 12, 24), US)
    assert (d.basis, d.due_by) == ("scheduled_3_days", D(2026, 12, 28))
    # Independence Day observed Friday 2026-07-03.
    assert gfe.add_business_days(D(2026, 7, 2), 1, US) == D(2026, 7, 6)


def test_deadline_bases_by_notice():
    scheduled_on = D(2026, 12, 1)  # a Tuesday
    short = gfe.gfe_deadline(scheduled_on, D(2026, 12, 3), scheduled_on, US)  # 2 business days ahead
    assert (short.basis, short.due_by, short.met) == ("scheduled_short_notice", None, True)
    three = gfe.gfe_deadline(scheduled_on, D(2026, 12, 4), scheduled_on, US)  # exactly 3
    assert (three.basis, three.business_days, three.due_by) == ("scheduled_3_days", 1, D(2026, 12, 2))
    nine = gfe.gfe_deadline(scheduled_on, D(2026, 12, 14), scheduled_on, US)  # 9 business days
    assert nine.basis == "scheduled_3_days"
    ten = gfe.gfe_deadline(scheduled_on, D(2026, 12, 15), scheduled_on, US)  # exactly 10
    assert (ten.basis, ten.business_days, ten.due_by) == ("scheduled_10_days", 3, D(2026, 12, 4))


def test_a_late_gfe_misses_its_deadline():
    d = gfe.gfe_deadline(D(2026, 12, 1), D(2026, 12, 21), D(2026, 12, 7), US)
    assert d.due_by == D(2026, 12, 4) and not d.met


dates = st.dates(min_value=D(2024, 1, 1), max_value=D(2030, 12, 31))


@settings(max_examples=300, deadline=None)
@given(start=dates, count=st.integers(min_value=0, max_value=25))
def test_add_business_days_properties(start, count):
    end = gfe.add_business_days(start, count, US)
    assert gfe.business_days_between(start, end, US) == count
    if count:
        assert gfe.is_business_day(end, US)
        # The day before is at least one business day short.
        assert gfe.business_days_between(start, end - dt.timedelta(days=1), US) == count - 1
    # Never more than count business days plus the weekends and holidays between.
    assert (end - start).days <= count * 2 + 6


@settings(max_examples=300, deadline=None)
@given(requested=dates, ahead=st.integers(min_value=0, max_value=60))
def test_deadline_is_a_business_day_within_three(requested, ahead):
    scheduled = requested + dt.timedelta(days=ahead)
    d = gfe.gfe_deadline(requested, scheduled, requested, US)
    if d.due_by is not None:
        assert gfe.is_business_day(d.due_by, US)
        assert gfe.business_days_between(requested, d.due_by, US) == d.business_days
        assert d.met
    notice = gfe.business_days_between(requested, scheduled, US)
    assert (d.business_days == 3) == (notice >= 10)
    assert (d.due_by is None) == (notice < 3)


def test_validity_is_the_episode_end_within_twelve_months():
    assert gfe.valid_until(D(2026, 12, 7), D(2027, 2, 26)) == D(2027, 2, 26)
    assert gfe.valid_until(D(2026, 12, 7), D(2027, 12, 7)) == D(2027, 12, 7)  # exactly 12 months
    with pytest.raises(gfe.GfeTooLong) as info:
        gfe.valid_until(D(2026, 12, 7), D(2027, 12, 8))
    assert info.value.field == "episode" and "per 12 months" in info.value.message
    # 12 months after 31 August is the end of February (the month has fewer days).
    assert gfe.add_months(D(2027, 8, 31), 6) == D(2028, 2, 29)
    assert gfe.add_months(D(2026, 8, 31), 6) == D(2027, 2, 28)


def test_patient_checks():
    today = D(2026, 12, 1)
    assert gfe.check_patient("Jordan Rivera", D(1990, 4, 12), today) == []
    assert gfe.check_patient("Jordan", D(2026, 12, 2), today) == [("patient.date_of_birth", "must not be in the future")]
    assert gfe.check_patient("Jordan", D(1896, 11, 30), today)[0][0] == "patient.date_of_birth"
    assert gfe.check_patient("Jordan", D(1896, 12, 1), today) == []  # exactly 130 years
    assert gfe.check_patient("  ", D(1990, 1, 1), today) == [("patient.name", "must not be empty")]
    assert gfe.check_patient("a\x00b", D(1990, 1, 1), today)[0][0] == "patient.name"


@pytest.mark.parametrize("code", ["F10.20", "F32.1", "f10.20", " F10.20 ", "F10", "Z00.0", "T40.2X1A", "F32.A"])
def test_icd10_cm_codes_accepted(code):
    assert gfe.check_diagnosis_codes([code]) == []


@pytest.mark.parametrize("code", ["F1", "10.20", "F10.", "F10.20000", "F10-20", "FF", "", "F10 .2", "ÉF10", "F1020"])
def test_malformed_icd10_codes_rejected(code):
    problems = gfe.check_diagnosis_codes(["F32.1", code])
    assert [field for field, _ in problems] == ["diagnosis_codes[1]"]
    # A diagnosis code is PHI: the message is the same whatever the code, never an echo of it.
    assert problems[0][1] == gfe.check_diagnosis_codes(["X"])[0][1]


def test_code_system_of_fee_lines():
    assert [gfe.service_code_system(c) for c in ("90791", "H0015", "REV:0906", "0001F", "S9480")] == [
        "CPT", "HCPCS", "REV", "CPT", "HCPCS"]


@settings(max_examples=200, deadline=None)
@given(
    level=st.sampled_from(["php", "iop", "outpatient", "detox", "residential"]),
    start=dates,
    weeks=st.integers(min_value=1, max_value=30),
    per_week=st.integers(min_value=1, max_value=7),
    days=st.integers(min_value=1, max_value=90),
)
def test_a_stored_episode_lays_out_again_the_same(level, start, weeks, per_week, days):
    if level in ("detox", "residential"):
        request = EpisodeRequest(start_date=start, days=days)
    elif level == "outpatient":
        request = EpisodeRequest(start_date=start, weeks=weeks, sessions_per_week=per_week)
    else:
        request = EpisodeRequest(start_date=start, weeks=weeks, days_per_week=per_week)
    original = resolve_episode(request, level, start)
    again = gfe.episode_from_summary(level, original.start_date, original.end_date, original.units)
    assert resolve_episode(again, level, start).dates == original.dates
