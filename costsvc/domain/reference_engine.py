"""The reference engine: the contract's cost sharing (docs/API.md), claim by claim, as the contract writes it.

Priced through it (``engine.price_episode_by_claims``), an estimate is the same as ``engine.price_episode``
to the cent; it is kept as the statement of the arithmetic that the fast engine (which
prices runs of equal claims in closed form) is checked against, by the properties in
tests/unit/test_engine_equivalence.py.  It is written for reading, not for speed:
every claim is listed, every allowed amount is looked up from the stored rates on the
claim's date, and the remainders ``D`` and ``O`` are recomputed from the met amounts
for each claim exactly as the contract defines them.

What surrounds the claims (the episode's units and defaults, the chosen network and
the level's terms, the range, the self-pay summary, payment plans, notices) is shared
with the fast engine (``engine.price_with`` runs this module's ``run``); so are the fee-line preparation
(charges in cents) and the checks on benefits and accumulators.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from costsvc.domain.claims import _Line, _lines, _met, _Plan, _Run, _units_used_after
from costsvc.domain.episode import Episode
from costsvc.domain.model import AccumulatedAmounts, Claim, PricingRequest
from costsvc.domain.money import ZERO, cents, percent_of


def schedule(ep: Episode, per_episode: list[_Line], per_service: list[_Line]) -> list[tuple[dt.date, _Line, int]]:
    """Every claim of the episode in billing order, as (date, fee line, unit ``k`` or -1).

    Order (docs/API.md, "Claim order"): by date; on a date, per-episode lines first;
    then by billing code (``per_service`` is sorted by code); units of one line on one
    date in unit order.
    """
    keyed = [((ep.start_date, 0, i, -1), ln) for i, ln in enumerate(per_episode)]
    keyed += [((day, 1, i, k), ln) for k, day in enumerate(ep.dates) for i, ln in enumerate(per_service)]
    keyed.sort(key=lambda item: item[0])
    return [(key[0], ln, key[3]) for key, ln in keyed]


def allowed_amount(req: PricingRequest, plan: _Plan, ln: _Line, day: dt.date) -> tuple[Decimal, set[str]]:
    """``A`` for a covered claim of ``ln`` on ``day``, and the notices its derivation raises.

    In network: the stored rate valid on ``day`` (latest effective date; on a tie the one
    listed last); a dollar rate is the amount, a percent-of-billed rate ``p`` is
    ``round(B × p / 100)``.  Without one, the network's ``allowed`` rule, else ``B``.
    Never more than ``B``.
    """
    B = ln.billed
    notices: set[str] = set()
    if plan.network == "in_network":
        valid = [
            (r.effective_date, position, r)
            for position, r in enumerate(req.negotiated_rates)
            if r.billing_code == ln.code
            and r.effective_date <= day
            and (r.expiration_date is None or day <= r.expiration_date)
        ]
        if valid:
            rate = max(valid)[2]
            A = cents(rate.rate) if rate.rate_type == "dollar" else percent_of(B, rate.rate)
            return min(A, B), notices
        notices.add("no_negotiated_rate")
    rule = plan.nb.allowed if plan.nb is not None else None
    if rule is None:
        A = B
    elif rule.method == "percent_of_reference" and ln.code in req.reference_rates:
        A = percent_of(req.reference_rates[ln.code], rule.percent)
    else:
        if rule.method == "percent_of_reference":
            notices.add("no_reference_rate")
        A = percent_of(B, rule.percent)
    return min(A, B), notices


def run(req: PricingRequest, plan: _Plan, ep: Episode, per_episode: list[_Line], per_service: list[_Line],
        want_claims: bool, totals_only: bool = False) -> _Run:
    """``run_claims``; ``want_claims`` and ``totals_only`` (a range point) only trim the result."""
    result = run_claims(req, plan, ep, per_episode, per_service)
    if not want_claims:
        result.claims = []
    return result


def run_claims(req: PricingRequest, plan: _Plan, ep: Episode, per_episode: list[_Line],
               per_service: list[_Line]) -> _Run:
    """Cost sharing claim by claim (docs/API.md, "Cost-sharing, claim by claim", steps 1–6)."""
    ded_met, oop_met, family_ded_met, family_oop_met = _met(
        getattr(req.accumulators, plan.network), f"coverage.accumulators.{plan.network}")
    limit = plan.limit
    units_used = req.accumulators.units_used.get(req.level_of_care, 0)
    covered_units = 0  # per-service units of this episode covered in the current plan year
    unit_covered: dict[int, bool] = {}  # a unit's claims share its fate under the limit
    next_plan_year = plan.plan_year_of(ep.start_date)[1]
    reset = False
    first = True
    notices: set[str] = set()
    limit_hits = 0
    claims: list[Claim] = []

    for day, ln, k in schedule(ep, per_episode, per_service):
        B = ln.billed
        if next_plan_year is not None and day >= next_plan_year:
            while next_plan_year is not None and day >= next_plan_year:
                next_plan_year = plan.anchor(next_plan_year.year + 1)
            ded_met = oop_met = family_ded_met = family_oop_met = ZERO
            units_used = covered_units = 0
            unit_covered = {}
            reset = True

        # 1. not covered, or the unit limit used up
        covered = plan.covered
        if covered and k >= 0:
            if k not in unit_covered:
                unit_covered[k] = limit is None or units_used + covered_units < limit
                if unit_covered[k]:
                    covered_units += 1
            covered = unit_covered[k]
            if not covered:
                limit_hits += 1
        if not covered:
            claims.append(Claim(day, ln.code, ln.frequency, B, ZERO, ZERO, B, not_covered=B))
            first = False
            continue

        A, derived = allowed_amount(req, plan, ln, day)
        notices |= derived
        D = min(max(plan.ded_ind - ded_met, ZERO), max(plan.ded_fam - family_ded_met, ZERO))
        O = min(max(plan.oop_ind - oop_met, ZERO), max(plan.oop_fam - family_oop_met, ZERO))
        # 2. copay
        copay_due = plan.copay if (first or not plan.per_admission) else ZERO
        c = min(copay_due, A, O)
        O -= c
        # 3. deductible
        d = min(A - c, D, O) if plan.ded_applies else ZERO
        D -= d
        O -= d
        # 4. coinsurance
        coinsurance_pct = plan.lb.coinsurance_pct if plan.lb is not None else ZERO
        co = min(percent_of(A - c - d, coinsurance_pct), O)
        O -= co
        # 5. shares; every share counts toward the out-of-pocket maximum, family with individual
        share = c + d + co
        ded_met += d
        family_ded_met += d
        oop_met += share
        family_oop_met += share
        # 6. balance bill
        bb = B - A if plan.balance_billing else ZERO
        claims.append(Claim(day, ln.code, ln.frequency, B, A, A - share, share + bb, d, c, co, ZERO, bb))
        first = False

    result = _sums(claims, per_episode + per_service)
    result.limit_hits = limit_hits
    if reset:
        notices.add("plan_year_reset")
    result.flags = notices
    result.acc_after = AccumulatedAmounts(ded_met, oop_met, family_ded_met, family_oop_met)
    result.units_used_after = _units_used_after(req, covered_units, reset)
    return result


def self_pay_run(ep: Episode, per_episode: list[_Line], per_service: list[_Line], want_claims: bool) -> _Run:
    """Self-pay: each claim costs its self-pay price, owed as not covered; nothing accumulates."""
    claims = [
        Claim(day, ln.code, ln.frequency, ln.billed, ZERO, ZERO, ln.sp_price, not_covered=ln.sp_price)
        for day, ln, _k in schedule(ep, per_episode, per_service)
    ]
    result = _sums(claims, per_episode + per_service)
    result.limit_hits = 0
    result.flags = set()
    if not want_claims:
        result.claims = []
    return result


def _sums(claims: list[Claim], lines: list[_Line]) -> _Run:
    """Totals, lines and months as sums over the claims."""
    result = _Run()
    # (a claim not covered has allowed 0, so ΣA over all claims is ΣA over covered ones)
    for field in ("billed", "allowed", "deductible", "copay", "coinsurance", "not_covered", "balance_bill"):
        setattr(result, field, sum((getattr(c, field) for c in claims), ZERO))
    result.patient_pays = (result.deductible + result.copay + result.coinsurance + result.not_covered
                           + result.balance_bill)
    months: dict[tuple[int, int], Decimal] = {}
    for c in claims:
        key = (c.date.year, c.date.month)
        months[key] = months.get(key, ZERO) + c.patient_pays
    result.months = months
    result.lines = _lines(claims, lines)
    result.claims = claims
    return result
