"""The policy files (docs/FORMATS.md, "Policies"): every row error with its line and
column, policies kept whole, and the good files read exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from tariffs.policies import parse_payment_terms, parse_poverty_guidelines, parse_sliding_scale
from tariffs.records import FileRejected, PaymentTermRecord, PovertyGuidelineRecord, SlidingTierRecord

D = Decimal
JAN = dt.date(2026, 1, 1)
SLIDING = "program_id,tier,max_fpl_percent,discount_percent,nominal_fee,effective_date\n"
TERMS = "program_id,months,apr,min_monthly_payment,min_down_payment,effective_date\n"
GUIDELINES = "year,region,base,per_additional_person\n"


def _file(tmp_path: Path, text: str, name: str = "policy.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _where(result) -> list[tuple[int | None, str | None]]:
    return [(e.line, e.column) for e in result.errors]


def test_a_good_sliding_scale_keeps_each_programs_tiers_in_order(tmp_path):
    r = parse_sliding_scale(_file(tmp_path, SLIDING
                                  + "clinic,A,100,,10.00,2026-01-01\n"
                                  + "other,X,150,25%,,2026-02-01\n"
                                  + "clinic,B,200,50,,2026-01-01\n"
                                  + "clinic,C,,0,,2026-01-01\n"))
    assert r.errors == []
    assert r.records == [
        SlidingTierRecord("clinic", 0, "A", D(100), None, D("10.00"), JAN, 2),
        SlidingTierRecord("other", 0, "X", D(150), D(25), None, dt.date(2026, 2, 1), 3),
        SlidingTierRecord("clinic", 1, "B", D(200), D(50), None, JAN, 4),
        SlidingTierRecord("clinic", 2, "C", None, D(0), None, JAN, 5),  # open-ended
    ]


@pytest.mark.parametrize(("rows", "line", "column", "words"), [
    # tiers not strictly increasing: unordered, equal (overlapping), after the open-ended one
    (["p,A,150,50,,2026-01-01", "p,B,120,20,,2026-01-01"], 3, "max_fpl_percent", "not above the previous tier's 150"),
    (["p,A,150,50,,2026-01-01", "p,B,150,20,,2026-01-01"], 3, "max_fpl_percent", "strictly increasing"),
    (["p,A,,50,,2026-01-01", "p,B,200,20,,2026-01-01"], 3, "max_fpl_percent", "follows the open-ended tier of line 2"),
    (["p,A,100,101,,2026-01-01"], 2, "discount_percent", "above 100"),
    (["p,A,100,-1,,2026-01-01"], 2, "discount_percent", "negative"),
    (["p,A,100,20,5.00,2026-01-01"], 2, "discount_percent", "both discount_percent and nominal_fee"),
    (["p,A,100,,,2026-01-01"], 2, "discount_percent", "neither discount_percent nor nominal_fee"),
    (["p,A,100,,-5,2026-01-01"], 2, "nominal_fee", "negative"),
    (["p,A,100,20,,2026-01-01", "p,A,200,10,,2026-01-01"], 3, "tier", "duplicate of line 2"),
    (["p,A,100,20,,2026-01-01", "p,B,200,10,,2026-03-01"], 3, "effective_date", "the same effective_date"),
    (["p,A,lots,20,,2026-01-01"], 2, "max_fpl_percent", "expected a percentage"),
    (["p p,A,100,20,,2026-01-01"], 2, "program_id", "expected an id"),
])
def test_each_sliding_scale_row_error_names_its_line_and_column(tmp_path, rows, line, column, words):
    r = parse_sliding_scale(_file(tmp_path, SLIDING + "\n".join(rows) + "\n"))
    assert _where(r) == [(line, column)], r.errors
    assert words in r.errors[0].message and r.errors[0].file == "policy.csv"
    assert r.records == []  # the program's policy is all or nothing


def test_a_bad_tier_spoils_its_program_only(tmp_path):
    r = parse_sliding_scale(_file(tmp_path, SLIDING
                                  + "bad,A,100,20,,2026-01-01\n"
                                  + "good,A,100,20,,2026-01-01\n"
                                  + "bad,B,90,10,,2026-01-01\n"))
    assert _where(r) == [(4, "max_fpl_percent")]
    assert [(t.program_id, t.tier) for t in r.records] == [("good", "A")]
    assert r.rows_read == 3 and r.rows_rejected == 2


def test_good_payment_terms(tmp_path):
    r = parse_payment_terms(_file(tmp_path, TERMS
                                  + "clinic,6,0,25.00,100,2026-01-01\n"
                                  + "clinic,24,7.99%,$50.00,100.00,2026-01-01\n"
                                  + "other,120,36,10,,2026-01-01\n"))
    assert r.errors == []
    assert r.records == [
        PaymentTermRecord("clinic", 6, D(0), D("25.00"), D("100.00"), JAN, 2),
        PaymentTermRecord("clinic", 24, D("7.99"), D("50.00"), D("100.00"), JAN, 3),
        PaymentTermRecord("other", 120, D(36), D("10.00"), None, JAN, 4),
    ]


@pytest.mark.parametrize(("rows", "line", "column", "words"), [
    (["p,12,36.5,25,,2026-01-01"], 2, "apr", "above 36"),
    (["p,0,0,25,,2026-01-01"], 2, "months", "from 1 to 120"),
    (["p,121,0,25,,2026-01-01"], 2, "months", "from 1 to 120"),
    (["p,,0,25,,2026-01-01"], 2, "months", "a value is required"),
    (["p,6,0,25,,2026-01-01", "p,6,5,25,,2026-01-01"], 3, "months", "duplicate of line 2"),
    (["p,6,0,25,100,2026-01-01", "p,12,0,25,,2026-01-01"], 3, "min_down_payment", "the same min_down_payment"),
    (["p,6,0,25,,2026-01-01", "p,12,0,25,,2027-01-01"], 3, "effective_date", "the same effective_date"),
    (["p,6,0,,,2026-01-01"], 2, "min_monthly_payment", "a value is required"),
])
def test_each_payment_terms_row_error_names_its_line_and_column(tmp_path, rows, line, column, words):
    r = parse_payment_terms(_file(tmp_path, TERMS + "\n".join(rows) + "\n"))
    assert _where(r) == [(line, column)], r.errors
    assert words in r.errors[0].message
    assert r.records == []


def test_good_poverty_guidelines(tmp_path):
    r = parse_poverty_guidelines(_file(tmp_path, GUIDELINES + "2027,48,16310,5760\n2027,ak,20380,7200\n"
                                                               "2027,HI,18760,6620\n"))
    assert r.errors == []
    assert r.records == [PovertyGuidelineRecord(2027, "48", D("16310.00"), D("5760.00"), 2),
                         PovertyGuidelineRecord(2027, "AK", D("20380.00"), D("7200.00"), 3),
                         PovertyGuidelineRecord(2027, "HI", D("18760.00"), D("6620.00"), 4)]


YEAR_2027 = ["2027,48,16310,5760", "2027,AK,20380,7200", "2027,HI,18760,6620"]  # lines 2-4


@pytest.mark.parametrize(("rows", "line", "column", "words"), [
    ([*YEAR_2027, "2027,48,16400,5800"], 5, "region", "duplicate of line 2"),
    ([*YEAR_2027, "2027,PR,16310,5760"], 5, "region", "expected one of 48, AK, HI"),
    (["2027,48,0,5760", *YEAR_2027[1:]], 2, "base", "positive"),
    ([*YEAR_2027, "1900,48,16310,5760"], 5, "year", "out of range"),
])
def test_each_poverty_guideline_row_error_names_its_line_and_column(tmp_path, rows, line, column, words):
    r = parse_poverty_guidelines(_file(tmp_path, GUIDELINES + "\n".join(rows) + "\n"))
    assert _where(r) == [(line, column)], r.errors
    assert words in r.errors[0].message
    # a bad year spoils no other year's rows (it names no year); any other error spoils 2027
    assert {g.year for g in r.records} == ({2027} if column == "year" else set())


def test_a_year_needs_every_region(tmp_path):
    r = parse_poverty_guidelines(_file(tmp_path, GUIDELINES + "2027,AK,20380,7200\n2028,48,1,1\n2028,AK,1,1\n"
                                                               "2028,HI,1,1\n"))
    assert _where(r) == [(2, "region")] and "no row for region 48, HI" in r.errors[0].message
    assert {g.year for g in r.records} == {2028}


def test_a_missing_column_rejects_the_file(tmp_path):
    with pytest.raises(FileRejected) as caught:
        parse_payment_terms(_file(tmp_path, "program_id,months,min_monthly_payment,effective_date\np,6,25,2026-01-01\n"))
    assert [(e.line, e.column) for e in caught.value.errors] == [(1, "apr")]


def test_an_xlsx_policy_reads_like_its_csv(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["program_id", "tier", "max_fpl_percent", "discount_percent", "nominal_fee", "effective_date"],
                ["clinic", "A", 100, None, 10, dt.datetime(2026, 1, 1)], ["clinic", "B", None, 40, None, "2026-01-01"]):
        sheet.append(row)
    path = tmp_path / "tiers.xlsx"
    book.save(path)
    r = parse_sliding_scale(path)
    assert r.errors == []
    assert [(t.tier, t.max_fpl_percent, t.discount_percent, t.nominal_fee) for t in r.records] == [
        ("A", D(100), None, D("10.00")), ("B", None, D(40), None)]
