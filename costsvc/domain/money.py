"""Exact money arithmetic: Decimals quantized half up to the cent.

Nothing here switches the Decimal context: ``quantize`` takes its rounding mode as
an argument, and every other operation is exact at the default 28-digit precision
for any realistic amount.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
INFINITY = Decimal("Infinity")  # "no cap": min(x, INFINITY) == x, INFINITY - x == INFINITY


def cents(x: Decimal | int | str) -> Decimal:
    """``x`` rounded half up to the cent, always with exactly two decimals."""
    if not isinstance(x, Decimal):
        x = Decimal(x)
    return x.quantize(CENT, ROUND_HALF_UP)


def percent_of(amount: Decimal, pct: Decimal) -> Decimal:
    """``round(amount × pct / 100)`` half up to the cent."""
    return (amount * pct / HUNDRED).quantize(CENT, ROUND_HALF_UP)


def is_cents(x: Decimal) -> bool:
    """True when ``x`` is finite with exactly two decimals (how results encode money)."""
    return x.is_finite() and x.as_tuple().exponent == -2


def plain(x: Decimal) -> Decimal:
    """``x`` without trailing zeros and never in exponent notation (``200``, ``187.5``)."""
    x = x.normalize()
    if x.as_tuple().exponent > 0:
        x = x.quantize(Decimal(1))
    return x
