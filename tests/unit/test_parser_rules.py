"""One source for each rule the parsers apply: the amount grammar, states, levels and
the code -> level map, payer-name normalisation, control characters."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from costsvc.domain.levels import CODE_LEVELS, LEVELS, is_behavioral_code, level_of_code
from costsvc.domain.model import LEVELS_OF_CARE, US_STATES, US_TERRITORIES
from costsvc.domain.money import CENT, AmountSyntaxError, parse_amount
from tariffs.csv_files import parse_coverage_table, parse_fee_schedule, parse_negotiated_rates
from tariffs.options import normalize_payer_names, parse_payer_name_pairs, payer_name_key
from tariffs.sources import to_decimal
from tariffs.tabular import fields
from tariffs.tabular.fields import MAX_MONEY, ColumnConverter, RowErrors
from tariffs.tabular.reader import Table

# Strings made of what amounts are written with, and of what they must not be.
AMOUNT_ALPHABET = st.sampled_from(list("0123456789.,$-+ e%") + ["١", "１", "\u00a0", "\t", "_"])
amount_like = st.text(AMOUNT_ALPHABET, max_size=16)


def convert_column(parser, values: list[str]) -> list:
    """The values of one column as the chunked readers parse them (ColumnConverter over a Table)."""
    table = Table(
        file="f.csv",
        format="csv",
        header=["value"],
        df=pd.DataFrame({"value": values}),
        lines=list(range(2, len(values) + 2)),
        line_numbers_exact=True,
        ignored_columns=[],
    )
    return ColumnConverter("value", parser)(table, RowErrors(table)).rows().tolist()


def grammar_amount(text: str) -> Decimal | None:
    try:
        return parse_amount(text, file_format=True)
    except AmountSyntaxError:
        return None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(amount_like, st.text(max_size=8)), min_size=1, max_size=8))
@example(["١٢", "1,000", "1,00", " 12.5 ", "$1,250.00", "12.345", "0", "", "1e3", "007.10"])
def test_money_converter_accepts_exactly_what_parse_amount_accepts(raws):
    converted = convert_column(fields.money(), raws)
    for raw, value in zip(raws, converted):
        expected = grammar_amount(raw)
        if expected is None or expected > MAX_MONEY:
            assert type(value) is fields.Invalid, (raw, value)
        else:
            assert value == expected.quantize(CENT) and value.as_tuple().exponent == -2, (raw, value)


@settings(max_examples=300, deadline=None)
@given(amount_like)
def test_percent_is_parse_amount_with_three_places_and_a_trailing_percent_sign(raw):
    value = fields.percent()(raw)
    number = raw.strip()
    number = number[:-1].rstrip() if number.endswith("%") else number
    try:
        expected = parse_amount(number, places=3)
    except AmountSyntaxError:
        expected = None
    if expected is None or expected > 100:
        assert type(value) is fields.Invalid, (raw, value)
    else:
        assert value == expected, (raw, value)


def test_json_string_amounts_use_the_file_grammar():
    assert to_decimal("1,250.50") == Decimal("1250.50")
    assert to_decimal("$80") == Decimal(80)
    assert to_decimal("0.30000000000000004") == Decimal("0.30000000000000004")
    for bad in ("1e3", "NaN", "-5", "1,25", "١٢"):
        assert to_decimal(bad) is None, bad
    assert to_decimal(-5) == Decimal(-5)  # a JSON number stays as written; the readers reject it


# ----------------------------------------------------------------------------- domain vocabulary


def test_states_come_from_the_domain():
    parse = fields.state_code()
    for state in US_STATES | US_TERRITORIES:
        assert parse(state.lower()) == state
    assert type(parse("XX")) is fields.Invalid
    assert "PR" not in US_STATES  # the poverty guidelines do not cover territories


def test_the_code_level_map_is_the_levels_typical_and_revenue_codes():
    for level, info in LEVELS.items():
        for code in info.typical_codes:
            assert level_of_code(code) == level
        for rc in info.revenue_codes:
            assert level_of_code(f"REV:{rc}") == level
    assert set(CODE_LEVELS.values()) == set(LEVELS_OF_CARE)
    assert level_of_code("90832") == "outpatient"  # CPT psychiatry
    assert level_of_code("90658") is None  # a flu vaccine, not psychiatry
    assert all(is_behavioral_code(code) for code in CODE_LEVELS)


# ----------------------------------------------------------------------------- options


def test_payer_names_are_normalised_in_one_place():
    assert payer_name_key("  Blue   Cross\tTX ") == "blue cross tx"
    assert normalize_payer_names({" Acme Health ": " acme ", "ACME  health": "other", "": "x"}) == {
        "acme health": "acme"
    }
    assert normalize_payer_names({}) is None and normalize_payer_names(None) is None
    assert parse_payer_name_pairs(["Acme Health=acme", " BluePeak = bluepeak"]) == {
        "acme health": "acme",
        "bluepeak": "bluepeak",
    }


def test_every_entry_point_uses_the_normaliser():
    from costsvc.services.imports import SubmitImport
    from jobs.refresh import Source

    names = {"  ACME   Health ": "acme"}
    assert SubmitImport(kind="hpt_standard_charges", payer_names=names).options().payer_names == {
        "acme health": "acme"
    }
    assert Source(kind="hpt_standard_charges", path="x.csv", payer_names=names).options.payer_names == {
        "acme health": "acme"
    }


# ----------------------------------------------------------------------------- control characters

FEE_HEADER = "program_id,program_name,state,level_of_care,billing_code,description,frequency,gross_charge,effective_date"


def test_a_control_character_in_a_fee_schedule_is_a_row_error(tmp_path: Path):
    p = tmp_path / "fees.csv"
    p.write_bytes(
        (
            FEE_HEADER + "\n"
            "sunrise,Sunrise,TX,iop,H0015,IOP\x00 day,per_service,750,2026-01-01\n"
            "sunrise,Sunrise,TX,iop,90791,Intake,per_episode,350,2026-01-01\n"
            "cedar,Cedar\x07Ridge,TX,iop,H0015,IOP day,per_service,750,2026-01-01\n"
        ).encode()
    )
    result = parse_fee_schedule(p)
    assert [(e.line, e.column) for e in result.errors] == [(2, "description"), (4, "program_name")]
    assert "U+0000 at character 4" in result.errors[0].message
    assert "U+0007" in result.errors[1].message
    assert [r.billing_code for r in result.records] == ["90791"]


def test_a_control_character_in_a_coverage_table_or_rates_file_is_a_row_error(tmp_path: Path):
    cov = tmp_path / "cov.csv"
    cov.write_text(
        "payer_id,payer_name,plan_id,plan_name,network,level_of_care,covered,deductible_applies,coinsurance_pct,"
        "effective_date\n"
        "acme,Acme\x1bHealth,acme-ppo,Acme PPO,in_network,iop,true,true,20,2026-01-01\n",
        encoding="utf-8",
    )
    assert [(e.line, e.column) for e in parse_coverage_table(cov).errors] == [(2, "payer_name")]
    rates = tmp_path / "rates.csv"
    rates.write_text(
        "payer_id,program_id,billing_code,rate_type,rate,effective_date\n"
        "acme,sun\x00rise,H0015,dollar,520,2026-01-01\n",
        encoding="utf-8",
    )
    assert [(e.line, e.column) for e in parse_negotiated_rates(rates).errors] == [(2, "program_id")]


@pytest.mark.parametrize("value", ["tab\tinside", "two\nlines", "ünïcödé — dash"])
def test_tabs_line_breaks_and_printable_unicode_are_text(value):
    assert fields.text()(value) == value
