"""What both engines share below the assembly of an estimate: the prepared fee lines
(``_Line``: charges in cents, allowed amounts per rate), the chosen network's terms
(``_Plan``), the accumulated state read from the request (``_met``), and a run's
result (``_Run``) with the helpers that sum claims into lines and units.

``costsvc.domain.engine`` (runs of equal claims in closed form) and
``costsvc.domain.reference_engine`` (claim by claim) both build on it, so neither
imports the other's internals and the fast engine can fall back to the plain loop.
"""

# The claim loop caps with `if x > cap: x = cap` rather than min() (see engine.py).
# ruff: noqa: PLR1730, FURB136

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from functools import lru_cache

from costsvc.domain.errors import DomainError, InvalidBenefits
from costsvc.domain.model import (
    AllowedRule,
    Claim,
    EstimateLine,
    FeeLine,
    LevelBenefit,
    NetworkAccumulators,
    NetworkBenefits,
    PricingRequest,
)
from costsvc.domain.money import HUNDRED, INFINITY, ZERO, cents, percent_of

_MAX_DATE = dt.date.max


class _Line:
    """A fee line with its money quantized and its allowed amounts precomputed."""

    __slots__ = (
        "billed",
        "billed_cents",
        "cash",
        "code",
        "description",
        "fallback",
        "fallback_flags",
        "frequency",
        "key",
        "per_episode",
        "rates",
        "sp_price",
    )

    def __init__(self, fl: FeeLine, field: str):
        if fl.gross_charge < 0 or (fl.cash_price is not None and fl.cash_price < 0):
            raise DomainError(field, f"the fee schedule has a negative charge for {fl.billing_code}")
        self.code = fl.billing_code
        self.description = fl.description
        self.frequency = fl.frequency
        self.key = (fl.billing_code, fl.frequency)  # its line of the result
        self.per_episode = fl.frequency == "per_episode"
        self.billed = cents(fl.gross_charge)
        self.billed_cents = int(self.billed.scaleb(2))  # for the run engine's integer arithmetic
        self.cash = cents(fl.cash_price) if fl.cash_price is not None else self.billed
        # In network: (effective, expiration, allowed), latest effective date first.
        self.rates: tuple[tuple[dt.date, dt.date, Decimal], ...] = ()
        # Allowed amount when no negotiated rate applies, and the notices that fallback implies.
        self.fallback = self.billed
        self.fallback_flags: tuple[str, ...] = ()
        self.sp_price = self.cash  # self-pay price per claim (after any sliding discount)


def _rule_allowed(rule: AllowedRule | None, line: _Line, reference_rates: dict[str, Decimal]):
    """Allowed amount of ``line`` under an ``allowed`` rule (before the lesser-of rule), and its notices."""
    if rule is None:
        return line.billed, ()
    if rule.method == "percent_of_reference":
        ref = reference_rates.get(line.code)
        if ref is not None:
            return percent_of(ref, rule.percent), ()
        return percent_of(line.billed, rule.percent), ("no_reference_rate",)
    return percent_of(line.billed, rule.percent), ()


class _Plan:
    """The chosen network's cost-sharing terms for the level, resolved once per request."""

    __slots__ = (
        "balance_billing",
        "copay",
        "covered",
        "ded_applies",
        "ded_fam",
        "ded_ind",
        "lb",
        "limit",
        "nb",
        "network",
        "oop_fam",
        "oop_ind",
        "pct",
        "per_admission",
        "py_day",
        "py_month",
        "why_not_covered",
    )

    def __init__(self, req: PricingRequest, network: str):
        b = req.benefits
        assert b is not None
        self.network = network
        nb: NetworkBenefits | None = getattr(b, network)
        lb: LevelBenefit | None = nb.levels.get(req.level_of_care) if nb is not None else None
        self.nb = nb
        self.lb = lb
        self.covered = lb is not None and lb.covered
        if nb is None:
            self.why_not_covered = "the plan has no {net} benefits on file"
        elif lb is None:
            self.why_not_covered = "the plan's {net} benefits do not include {level}"
        else:
            self.why_not_covered = "the plan does not cover {level} {net}"
        month, day = (int(p) for p in b.plan_year_start.split("-"))
        self.py_month, self.py_day = month, day
        path = f"coverage.benefits.{network}"
        family = req.tier == "family"
        ded = nb.deductible if nb is not None else None
        oop = nb.oop_max if nb is not None else None
        self.ded_ind = _amount(ded.individual if ded else None, ZERO, f"{path}.deductible.individual")
        self.oop_ind = _amount(oop.individual if oop else None, INFINITY, f"{path}.oop_max.individual")
        self.ded_fam = _amount(ded.family if ded and family else None, INFINITY, f"{path}.deductible.family")
        self.oop_fam = _amount(oop.family if oop and family else None, INFINITY, f"{path}.oop_max.family")
        self.balance_billing = network == "out_of_network" and nb is not None and nb.balance_billing
        if lb is not None:
            lpath = f"{path}.levels.{req.level_of_care}"
            if not (0 <= lb.coinsurance_pct <= 100):
                raise InvalidBenefits(f"{lpath}.coinsurance_pct", "must be between 0 and 100")
            self.copay = _amount(lb.copay, ZERO, f"{lpath}.copay")
            self.per_admission = lb.copay_unit == "per_admission"
            self.ded_applies = lb.deductible_applies
            self.pct = lb.coinsurance_pct / HUNDRED
            if lb.limit_units is not None and lb.limit_units < 0:
                raise InvalidBenefits(f"{lpath}.limit_units", "must not be negative")
            self.limit = lb.limit_units
        else:
            self.copay, self.per_admission, self.ded_applies, self.pct, self.limit = ZERO, False, False, ZERO, None

    def anchor(self, year: int) -> dt.date | None:
        """The plan-year start in ``year`` (a day past the month's end, e.g. 02-29, is its last day);
        None outside the years ``datetime.date`` can represent."""
        return _plan_year_start(year, self.py_month, self.py_day)

    def plan_year_of(self, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
        """(start, next start) of the plan year containing ``day``."""
        start = self.anchor(day.year)
        if start is None or start > day:
            return self.anchor(day.year - 1), start
        return start, self.anchor(day.year + 1)


@lru_cache(maxsize=1024)
def _plan_year_start(year: int, month: int, day: int) -> dt.date | None:
    if not 1 <= year <= _MAX_DATE.year:
        return None
    last = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day, last))


def _amount(x: Decimal | None, default: Decimal, field: str) -> Decimal:
    if x is None:
        return default
    if x < 0:
        raise InvalidBenefits(field, "must not be negative")
    return cents(x)


def _met(acc: NetworkAccumulators, field: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    vals = (acc.deductible_met, acc.oop_met, acc.family_deductible_met, acc.family_oop_met)
    if any(v < 0 for v in vals):
        raise InvalidBenefits(field, "accumulated amounts must not be negative")
    return tuple(cents(v) for v in vals)  # type: ignore[return-value]


def _valid_on(day: dt.date, eff: dt.date, exp: dt.date | None) -> bool:
    return eff <= day and (exp is None or day <= exp)


class _Run:
    """What one pricing pass over an episode produced (either engine)."""

    __slots__ = (
        "acc_after",
        "allowed",
        "balance_bill",
        "billed",
        "by_month",
        "claims",
        "coinsurance",
        "copay",
        "deductible",
        "flags",
        "limit_hits",
        "lines",
        "months",
        "not_covered",
        "patient_pays",
        "units_used_after",
    )

    def __init__(self) -> None:
        self.by_month = None  # the months as the result lists them, when the engine built them


def _units_used_after(req: PricingRequest, counted: int, was_reset: bool) -> dict[str, int]:
    """``units_used`` after the episode: the priced level grows by its covered units; a
    plan-year reset starts every level again from 0."""
    level = req.level_of_care
    used = req.accumulators.units_used
    if was_reset:
        units = {lv: 0 for lv in used}
        units[level] = counted
    else:
        units = dict(used)
        if counted or level in units:
            units[level] = used.get(level, 0) + counted
    return units


def _lines(claims: list[Claim], lines: list[_Line]) -> list[EstimateLine]:
    """Claims aggregated per (billing code, frequency): per-episode lines first, then by code."""
    agg: dict[tuple[str, str], list] = {}
    for ln in lines:
        key = (ln.code, ln.frequency)
        if key not in agg:
            agg[key] = [ln.description, 0, ZERO, ZERO, ZERO, ZERO]
    for c in claims:
        a = agg[(c.billing_code, c.frequency)]
        a[1] += 1
        a[2] += c.billed
        a[3] += c.allowed
        a[4] += c.plan_pays
        a[5] += c.patient_pays
    return [
        EstimateLine(code, desc, freq, qty, billed, allowed, plan_pays, patient)  # type: ignore[arg-type]
        for (code, freq), (desc, qty, billed, allowed, plan_pays, patient) in agg.items()
        if qty
    ]
