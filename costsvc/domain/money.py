"""Exact money arithmetic: Decimals quantized half up to the cent.

Nothing here switches the Decimal context: ``quantize`` takes its rounding mode as
an argument, and every other operation is exact at the default 28-digit precision
for any realistic amount.
"""

from __future__ import annotations

import re
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


def plain(x: Decimal) -> Decimal:
    """``x`` without trailing zeros and never in exponent notation (``200``, ``187.5``)."""
    x = x.normalize()
    if x.as_tuple().exponent > 0:
        x = x.quantize(Decimal(1))
    return x


# --------------------------------------------------------------------------- the one amount grammar
# Requests, our CSVs, HPT files and the refresh sources all read amounts through
# ``parse_amount``: one grammar, one set of reasons.  Files from the real world
# write "$1,250.00"; a request body never needs to, so only ``file_format`` admits
# the dollar sign and comma thousands groups (strict groups of three).

_STRICT_AMOUNT = re.compile(r"(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?", re.ASCII)
_FILE_AMOUNT = re.compile(
    r"\$?(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<frac>[0-9]+))?", re.ASCII
)


class AmountSyntaxError(ValueError):
    """Text that is not an amount in the grammar; ``reason`` is a sentence fragment
    a person can read ("has more than two decimals")."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_amount(text: str, *, places: int = 2, file_format: bool = False) -> Decimal:
    """The exact Decimal written in ``text``: ASCII digits, optionally a dot and at
    most ``places`` decimals.  Never negative (no sign is admitted, so no ``-0``
    either), no exponent, no underscores, no Unicode digits, no surrounding spaces
    (``file_format`` strips the spaces a spreadsheet leaves and admits ``$`` and
    comma thousands groups).  Raises ``AmountSyntaxError`` with the reason."""
    if file_format:
        text = text.strip()
    m = (_FILE_AMOUNT if file_format else _STRICT_AMOUNT).fullmatch(text)
    if m is None:
        stripped = text.strip()
        if stripped.startswith("-") or stripped.startswith("−"):
            raise AmountSyntaxError("must not be negative")
        if stripped != text:
            raise AmountSyntaxError("must not have spaces around it")
        if not stripped:
            raise AmountSyntaxError("is empty")
        raise AmountSyntaxError(
            "must be written with the digits 0-9 and at most one decimal point"
            + (" (a leading $ and comma thousands groups are accepted)" if file_format else "")
        )
    frac = m.group("frac")
    if frac is not None and len(frac) > places:
        raise AmountSyntaxError(
            f"has more than {places} decimal{'s' if places != 1 else ''}" if places else "must be a whole number"
        )
    whole = m.group("int").replace(",", "")
    return Decimal(f"{whole}.{frac}" if frac is not None else whole)
