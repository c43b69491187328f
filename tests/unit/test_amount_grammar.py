"""The one amount grammar (``costsvc.domain.money.parse_amount``)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costsvc.domain.money import AmountSyntaxError, parse_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", "0"), ("1234", "1234"), ("1234.5", "1234.5"), ("1234.50", "1234.50"), ("007.10", "7.10")],
)
def test_strict_accepts_plain_amounts(text, expected):
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize(
    "text",
    ["", " 1", "1 ", "-0", "-1", "+1", "1e3", "1_000", "1,000", "$1", "١٢", "１２", "1.234", ".5", "5.", "NaN", "Infinity", "1.2.3"],
)
def test_strict_rejects(text):
    with pytest.raises(AmountSyntaxError):
        parse_amount(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(" $1,250.00 ", "1250.00"), ("1,234,567.8", "1234567.8"), ("$0.99", "0.99"), ("12", "12")],
)
def test_file_format_admits_dollar_and_groups(text, expected):
    assert parse_amount(text, file_format=True) == Decimal(expected)


@pytest.mark.parametrize("text", ["1,23", "12,3456", "-$5", "$-5", "1,000.001", "5 %"])
def test_file_format_rejects(text):
    with pytest.raises(AmountSyntaxError):
        parse_amount(text, file_format=True)


def test_negative_says_so():
    with pytest.raises(AmountSyntaxError, match="negative"):
        parse_amount("-12.00")


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_round_trips_every_two_decimal_amount(value):
    assert parse_amount(f"{value:f}") == value
    assert parse_amount(f"${value:,f}", file_format=True) == value


@given(st.text(max_size=12))
def test_never_raises_anything_but_syntax_error(text):
    try:
        value = parse_amount(text)
    except AmountSyntaxError:
        return
    assert value >= 0 and value.is_finite()


_AMOUNT_TEXT = st.one_of(
    st.text(alphabet="0123456789.", max_size=14),
    st.builds(lambda whole, frac: whole + frac, st.text(alphabet="0123456789", min_size=1, max_size=12),
              st.sampled_from(["", ".", ".5", ".25", ".125", ".1250"])),
    st.text(max_size=6),
)


@given(kind=st.sampled_from(["money", "percent", "allowed_percent", "number"]), text=_AMOUNT_TEXT)
def test_the_shortcut_for_plain_amounts_agrees_with_the_full_check(kind, text):
    """``amount_problem`` accepts plain amounts without parsing; it must decide as the full check."""
    from costsvc.domain.model import amount_problem, full_amount_problem

    assert amount_problem(kind, text) == full_amount_problem(kind, text)
