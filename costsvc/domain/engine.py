"""The pricing engine: ``price_episode(PricingRequest) -> PricedEpisode``.

Pure and synchronous: no I/O, no clock (``request.today`` stands in for "today").
The arithmetic follows ``estimates.md`` to the cent; the decisions where it is
silent are in ``docs/ENGINE.md``.

Shape of the work, per request:

1. resolve the episode (``episode.resolve_episode``) and prepare the fee lines once:
   charges quantized to cents, the allowed amount of each line under each
   negotiated rate (and its fallback) computed once, not per claim;
2. choose the network and the level's benefit (``_Plan``);
3. run the claims in order through the cost-sharing loop (``_run``), once for the
   estimate with full detail, and once more per distinct range length with totals
   only;
4. self-pay, payment plans, notices and the disclaimer.
"""

# The claim loop caps with `if x > cap: x = cap` rather than min(): 35 ns against 117 ns a
# comparison, seven times a claim.
# ruff: noqa: PLR1730, FURB136

from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from itertools import groupby
from operator import attrgetter

from costsvc.domain.episode import Episode, range_episodes, resolve_episode
from costsvc.domain.errors import DomainError, InvalidBenefits, LevelNotOffered
from costsvc.domain.levels import LEVELS
from costsvc.domain.model import (
    AccumulatedAmounts,
    AccumulatorsAfter,
    AllowedRule,
    Claim,
    EpisodeSummary,
    EstimateLine,
    FeeLine,
    LevelBenefit,
    MonthTotal,
    NetworkAccumulators,
    NetworkBenefits,
    Notice,
    PricedEpisode,
    PriceRange,
    PricingRequest,
    RangePoint,
    SelfPay,
    Totals,
)
from costsvc.domain.money import CENT, HUNDRED, INFINITY, ZERO, cents, percent_of
from costsvc.domain.payment_plans import payment_plans
from costsvc.domain.selfpay import SlidingAssessment, assess

_MAX_DATE = dt.date.max

DISCLAIMER_INSURED = (
    "This is an estimate, not a guarantee of coverage or payment. It shows the estimated cost-sharing "
    "for the items and services listed, from the plan benefits, accumulated deductible and out-of-pocket "
    "amounts, and the negotiated or out-of-network allowed amounts on file when it was produced. Your "
    "actual costs may differ: they depend on the services you actually receive and how they are billed, "
    "claims your plan processes before these, medical-necessity review and prior authorization, and your "
    "plan's terms. Out-of-network providers may bill you for the difference between their charge and "
    "the allowed amount. Contact your plan for questions about your coverage."
)
DISCLAIMER_SELF_PAY = (
    "Good Faith Estimate: this estimate shows the charges expected for the items and services listed, "
    "for a patient who is uninsured or is not using insurance. It is only an estimate; actual items, "
    "services or charges may differ, and other services may be recommended that are not included here "
    "and would be estimated separately. It is not a contract and does not require you to obtain the "
    "services. If you are billed $400 or more above this estimate, you have the right to dispute the "
    "bill: you may start the patient-provider dispute resolution process within 120 calendar days of the "
    "date on the bill. Keep a copy of this estimate. For more information, visit www.cms.gov/nosurprises."
)

_ZERO_ACC = AccumulatedAmounts(ZERO, ZERO, ZERO, ZERO)

# Order in which notices are listed (each at most once).
_NOTICE_ORDER = (
    "starts_before_tariffs",
    "out_of_network",
    "not_covered",
    "prior_authorization_required",
    "limit_reached",
    "balance_billing_possible",
    "no_negotiated_rate",
    "no_reference_rate",
    "plan_year_reset",
    "accumulators_prior_plan_year",
)


# --------------------------------------------------------------------------- prepared inputs


class _Line:
    """A fee line with its money quantized and its allowed amounts precomputed."""

    __slots__ = (
        "billed",
        "cash",
        "code",
        "description",
        "fallback",
        "fallback_flags",
        "frequency",
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
        self.per_episode = fl.frequency == "per_episode"
        self.billed = cents(fl.gross_charge)
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
        if not 1 <= year <= _MAX_DATE.year:
            return None
        last = calendar.monthrange(year, self.py_month)[1]
        return dt.date(year, self.py_month, min(self.py_day, last))

    def plan_year_of(self, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
        """(start, next start) of the plan year containing ``day``."""
        start = self.anchor(day.year)
        if start is None or start > day:
            return self.anchor(day.year - 1), start
        return start, self.anchor(day.year + 1)


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


_by_code = attrgetter("code")


def _prepare_lines(req: PricingRequest) -> tuple[list[_Line], list[_Line]]:
    """(per-episode lines, per-service lines), each sorted by billing code (stable)."""
    lines = [_Line(fl, "program_id") for fl in req.fee_lines]
    per_episode = sorted((ln for ln in lines if ln.per_episode), key=_by_code)
    per_service = sorted((ln for ln in lines if not ln.per_episode), key=_by_code)
    return per_episode, per_service


def _attach_allowed(lines: list[_Line], req: PricingRequest, plan: _Plan) -> None:
    """Precompute every line's allowed amounts for the chosen network (lesser-of applied)."""
    nb = plan.nb
    if nb is None:
        return
    in_network = plan.network == "in_network"
    by_code: dict[str, list] = {}
    if in_network:
        # Latest effective date first; on a tie the rate listed last wins.
        ordered = sorted(enumerate(req.negotiated_rates), key=lambda ir: (ir[1].effective_date, ir[0]), reverse=True)
        for _, r in ordered:
            if r.rate < 0:
                raise InvalidBenefits("negotiated_rates", f"negative negotiated rate for {r.billing_code}")
            by_code.setdefault(r.billing_code, []).append(r)
    for ln in lines:
        allowed, flags = _rule_allowed(nb.allowed, ln, req.reference_rates)
        ln.fallback = min(allowed, ln.billed)
        ln.fallback_flags = ("no_negotiated_rate", *flags) if in_network else flags
        ln.rates = tuple(
            (
                r.effective_date,
                r.expiration_date or _MAX_DATE,
                min(cents(r.rate) if r.rate_type == "dollar" else percent_of(ln.billed, r.rate), ln.billed),
            )
            for r in by_code.get(ln.code, ())
        )


# --------------------------------------------------------------------------- the claim loop


def _schedule(ep: Episode, per_episode: list[_Line], per_service: list[_Line]):
    """Claims in order as (date, line, unit index or -1 for per-episode claims).

    By date; per-episode lines first (all on the start date, the earliest date);
    then by billing code.  Units sharing a date (only when more than 7 a week) are
    billed code by code.
    """
    out = [(ep.start_date, ln, -1) for ln in per_episode]
    if not per_service:
        return out
    dates = ep.dates
    if len(per_service) == 1 and ep.dates_sorted:
        ln = per_service[0]
        out.extend([(d, ln, k) for k, d in enumerate(dates)])
        return out
    units = sorted(range(len(dates)), key=dates.__getitem__) if not ep.dates_sorted else range(len(dates))
    for day, group in groupby(units, key=dates.__getitem__):
        ks = list(group)
        for ln in per_service:
            for k in ks:
                out.append((day, ln, k))
    return out


class _Run:
    """What one pass of the claim loop produced."""

    __slots__ = (
        "acc_after",
        "allowed",
        "balance_bill",
        "billed",
        "claims",
        "coinsurance",
        "copay",
        "deductible",
        "flags",
        "limit_hits",
        "months",
        "not_covered",
        "patient_pays",
        "units_used_after",
    )


def _run(
    req: PricingRequest,
    plan: _Plan,
    ep: Episode,
    per_episode: list[_Line],
    per_service: list[_Line],
    detail: bool,
) -> _Run:
    """Apply cost sharing claim by claim (estimates.md steps 1–6).

    Remainders are kept as individual and family values (``INFINITY`` = no cap;
    the family ones are ``INFINITY`` for tier ``individual``), and the amounts
    accumulated since the last plan-year reset.
    """
    acc = req.accumulators
    net_acc = getattr(acc, plan.network)
    ded_met, oop_met, fded_met, foop_met = _met(net_acc, f"coverage.accumulators.{plan.network}")
    level = req.level_of_care
    units_used0 = acc.units_used.get(level, 0)

    next_reset = plan.plan_year_of(ep.start_date)[1]
    ded_ind, oop_ind, ded_fam, oop_fam = plan.ded_ind, plan.oop_ind, plan.ded_fam, plan.oop_fam
    zero = ZERO
    D_i = max(ded_ind - ded_met, zero)
    O_i = max(oop_ind - oop_met, zero)
    D_f = max(ded_fam - fded_met, zero)
    O_f = max(oop_fam - foop_met, zero)
    ded_acc = oop_acc = zero  # accumulated in the current plan year by this episode
    was_reset = False

    covered_level = plan.covered
    copay = plan.copay
    per_admission = plan.per_admission
    ded_applies = plan.ded_applies
    pct = plan.pct
    has_pct = pct != 0
    limit = plan.limit
    used = units_used0  # units of this level used in the current plan year
    counted = 0  # covered per-service units of this episode in the current plan year
    unit_covered: dict[int, bool] = {}
    balance_billing = plan.balance_billing
    half_up = ROUND_HALF_UP
    cent = CENT

    t_billed = t_allowed = t_ded = t_copay = t_coins = t_nc = t_bb = zero
    flags: set[str] = set()
    limit_hits = 0
    claims: list[Claim] = []
    months: dict[tuple[int, int], Decimal] = {}
    first = True
    first_service_line = per_service[0] if per_service else None

    for day, ln, k in _schedule(ep, per_episode, per_service):
        if next_reset is not None and day >= next_reset:
            # A new plan year: every met amount and units_used start again from 0.
            while next_reset is not None and day >= next_reset:
                next_reset = plan.anchor(next_reset.year + 1)
            D_i, O_i, D_f, O_f = ded_ind, oop_ind, ded_fam, oop_fam
            ded_met = oop_met = fded_met = foop_met = zero
            ded_acc = oop_acc = zero
            used = counted = 0
            unit_covered.clear()
            was_reset = True
        B = ln.billed
        t_billed += B
        covered = covered_level
        if covered and k >= 0:
            if limit is None:
                if ln is first_service_line:
                    counted += 1
            else:
                # The limit is on units (days, sessions): all claims of a unit share its fate.
                covered = unit_covered.get(k)
                if covered is None:
                    covered = used + counted < limit
                    unit_covered[k] = covered
                    if covered:
                        counted += 1
                if not covered:
                    limit_hits += 1
        if not covered:
            c = d = co = bb = zero
            A = plan_pays = zero
            nc = patient = B
        else:
            for eff, exp, amt in ln.rates:  # negotiated rates (in network only)
                if eff <= day <= exp:
                    A = amt
                    break
            else:
                A = ln.fallback
                if ln.fallback_flags:
                    flags.update(ln.fallback_flags)
            O = O_i if O_i < O_f else O_f
            # step 2: copay
            c = copay if (first or not per_admission) else zero
            if c > A:
                c = A
            if c > O:
                c = O
            O -= c
            # step 3: deductible
            if ded_applies:
                d = A - c
                D = D_i if D_i < D_f else D_f
                if d > D:
                    d = D
                if d > O:
                    d = O
                O -= d
            else:
                d = zero
            # step 4: coinsurance
            if has_pct:
                co = ((A - c - d) * pct).quantize(cent, half_up)
                if co > O:
                    co = O
            else:
                co = zero
            share = c + d + co
            D_i -= d
            D_f -= d
            O_i -= share
            O_f -= share
            ded_acc += d
            oop_acc += share
            plan_pays = A - share
            # step 6: balance bill
            bb = B - A if balance_billing else zero
            nc = zero
            patient = share + bb
            t_allowed += A
            t_ded += d
            t_copay += c
            t_coins += co
        first = False
        t_nc += nc
        t_bb += bb
        if detail:
            claims.append(Claim(day, ln.code, ln.frequency, B, A, plan_pays, patient, d, c, co, nc, bb))
            mk = (day.year, day.month)
            months[mk] = months.get(mk, zero) + patient

    run = _Run()
    run.billed, run.allowed, run.deductible, run.copay = t_billed, t_allowed, t_ded, t_copay
    run.coinsurance, run.not_covered, run.balance_bill = t_coins, t_nc, t_bb
    run.patient_pays = t_ded + t_copay + t_coins + t_nc + t_bb
    run.claims = claims
    run.months = months
    run.limit_hits = limit_hits
    if was_reset:
        flags.add("plan_year_reset")
    run.flags = flags
    if detail:
        after = AccumulatedAmounts(
            deductible_met=ded_met + ded_acc,
            oop_met=oop_met + oop_acc,
            family_deductible_met=fded_met + ded_acc,
            family_oop_met=foop_met + oop_acc,
        )
        run.acc_after = after
        if was_reset:
            units = {lv: 0 for lv in acc.units_used}
            units[level] = counted
        else:
            units = dict(acc.units_used)
            if counted or level in units:
                units[level] = units_used0 + counted
        run.units_used_after = units
    return run


# --------------------------------------------------------------------------- entry point


def price_episode(req: PricingRequest) -> PricedEpisode:
    """Price one episode of one level of care in one program (see module docstring)."""
    if not req.fee_lines:
        raise LevelNotOffered("level_of_care", "program does not offer this level")
    if req.down_payment < 0:
        raise DomainError("payment_plan.down_payment", "must not be negative")
    level = req.level_of_care
    info = LEVELS[level]
    ep = resolve_episode(req.episode, level, req.today)
    per_episode, per_service = _prepare_lines(req)
    all_lines = per_episode + per_service
    low_ep, high_ep = range_episodes(ep)

    assessment: SlidingAssessment | None = None
    if req.household is not None:
        assessment = assess(req.household, ep.start_date.year, req.poverty_guidelines, req.sliding_policy)
        for ln in all_lines:
            ln.sp_price = assessment.price(ln.cash)

    notices: dict[str, str] = {}
    if req.benefits is None:
        network_status = "self_pay"
        claims, months, totals = _self_pay_claims(ep, per_episode, per_service)
        acc = req.accumulators
        acc_after = AccumulatorsAfter(
            in_network=_cents_acc(acc.in_network),
            out_of_network=_cents_acc(acc.out_of_network),
            units_used=dict(acc.units_used),
        )
        price_range = PriceRange(
            RangePoint(low_ep.units, _self_pay_total(low_ep, per_episode, per_service)),
            RangePoint(high_ep.units, _self_pay_total(high_ep, per_episode, per_service)),
        )
        disclaimer = DISCLAIMER_SELF_PAY
    else:
        network = req.network
        if network == "auto":
            start = ep.start_date
            has_rate = any(_valid_on(start, r.effective_date, r.expiration_date) for r in req.negotiated_rates)
            network = "in_network" if has_rate else "out_of_network"
        _early_start_notice(notices, req, ep.start_date)
        network_status = network
        plan = _Plan(req, network)
        _attach_allowed(all_lines, req, plan)
        run = _run(req, plan, ep, per_episode, per_service, detail=True)
        claims = run.claims
        months = run.months
        totals = Totals(
            billed=run.billed,
            allowed=run.allowed,
            plan_pays=run.allowed - run.deductible - run.copay - run.coinsurance,
            patient_pays=run.patient_pays,
            deductible=run.deductible,
            copay=run.copay,
            coinsurance=run.coinsurance,
            not_covered=run.not_covered,
            balance_bill=run.balance_bill,
        )
        other = "out_of_network" if network == "in_network" else "in_network"
        other_acc = getattr(req.accumulators, other)
        if "plan_year_reset" in run.flags:
            other_acc = _ZERO_ACC
        acc_after = AccumulatorsAfter(
            **{network: run.acc_after, other: _cents_acc(other_acc)},
            units_used=run.units_used_after,
        )
        points = []
        for rep in (low_ep, high_ep):
            if rep is ep:
                points.append(RangePoint(ep.units, totals.patient_pays))
            else:
                r = _run(req, plan, rep, per_episode, per_service, detail=False)
                points.append(RangePoint(rep.units, r.patient_pays))
        price_range = PriceRange(points[0], points[1])
        _insured_notices(notices, req, plan, ep, run, info.name)
        disclaimer = DISCLAIMER_INSURED

    selfpay = None
    if req.benefits is None or assessment is not None:
        selfpay = _self_pay_summary(ep, per_episode, per_service, assessment)
        if req.benefits is None:
            assert selfpay.patient_pays == totals.patient_pays

    return PricedEpisode(
        program_id=req.program_id,
        level_of_care=level,
        network_status=network_status,  # type: ignore[arg-type]
        episode=EpisodeSummary(ep.start_date, ep.end_date, ep.units, info.unit),
        lines=_lines(claims, all_lines),
        totals=totals,
        accumulators_after=acc_after,
        by_month=[MonthTotal(f"{y:04d}-{m:02d}", v) for (y, m), v in sorted(months.items())],
        range=price_range,
        selfpay=selfpay,
        payment_plans=payment_plans(totals.patient_pays, req.down_payment, req.payment_plan_policy),
        notices=[Notice(code, notices[code]) for code in _NOTICE_ORDER if code in notices],
        disclaimer=disclaimer,
        claims=claims,
    )


# --------------------------------------------------------------------------- self-pay


def _self_pay_claims(ep: Episode, per_episode: list[_Line], per_service: list[_Line]):
    """Self-pay claims: billed = gross charge, allowed 0, the patient owes the self-pay price,
    reported as ``not_covered`` (nothing is covered by insurance)."""
    zero = ZERO
    claims = []
    months: dict[tuple[int, int], Decimal] = {}
    t_billed = t_pat = zero
    for day, ln, _k in _schedule(ep, per_episode, per_service):
        p = ln.sp_price
        t_billed += ln.billed
        t_pat += p
        claims.append(Claim(day, ln.code, ln.frequency, ln.billed, zero, zero, p, not_covered=p))
        mk = (day.year, day.month)
        months[mk] = months.get(mk, zero) + p
    totals = Totals(
        billed=t_billed, allowed=zero, plan_pays=zero, patient_pays=t_pat, deductible=zero,
        copay=zero, coinsurance=zero, not_covered=t_pat, balance_bill=zero,
    )
    return claims, months, totals


def _self_pay_total(ep: Episode, per_episode: list[_Line], per_service: list[_Line], attr: str = "sp_price"):
    total = sum((getattr(ln, attr) for ln in per_episode), ZERO)
    unit = sum((getattr(ln, attr) for ln in per_service), ZERO)
    return total + unit * ep.units


def _self_pay_summary(ep, per_episode, per_service, assessment: SlidingAssessment | None) -> SelfPay:
    cash_total = _self_pay_total(ep, per_episode, per_service, "cash")
    if assessment is None:
        return SelfPay(cash_total=cash_total, fpl_percent=None, tier=None, discount_percent=None,
                       patient_pays=cash_total)
    tier = assessment.tier
    return SelfPay(
        cash_total=cash_total,
        fpl_percent=assessment.fpl_percent,
        tier=assessment.tier_name,
        discount_percent=tier.discount_percent if tier is not None else None,
        patient_pays=_self_pay_total(ep, per_episode, per_service),
        nominal_fee=cents(tier.nominal_fee) if tier is not None and tier.nominal_fee is not None else None,
    )


# --------------------------------------------------------------------------- result assembly


def _cents_acc(a: NetworkAccumulators | AccumulatedAmounts) -> AccumulatedAmounts:
    """``a`` with every amount in cents."""
    return AccumulatedAmounts(
        deductible_met=cents(a.deductible_met),
        oop_met=cents(a.oop_met),
        family_deductible_met=cents(a.family_deductible_met),
        family_oop_met=cents(a.family_oop_met),
    )


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


def _early_start_notice(notices: dict[str, str], req: PricingRequest, start: dt.date) -> None:
    """An episode starting before the plan or any of its payer's rates with the program
    takes effect is priced, but the caller must see why it prices as it does."""
    rates_from = min((r.effective_date for r in req.negotiated_rates), default=None)
    reasons = []
    if req.plan_effective_date is not None and start < req.plan_effective_date:
        reasons.append(f"the plan's benefits on file take effect {req.plan_effective_date.isoformat()}")
    if rates_from is not None and start < rates_from:
        reasons.append(f"the first negotiated rate of this payer with this program takes effect "
                       f"{rates_from.isoformat()} (it is priced without one: out of network unless chosen)")
    if reasons:
        notices["starts_before_tariffs"] = (
            f"The episode starts {start.isoformat()}, before " + "; and ".join(reasons)
            + ". Check the start date: an estimate from a later date may differ."
        )


def _insured_notices(notices: dict[str, str], req: PricingRequest, plan: _Plan, ep: Episode, run: _Run,
                     level_name: str) -> None:
    net = "in-network" if plan.network == "in_network" else "out-of-network"
    flags = run.flags
    if plan.network == "out_of_network":
        notices["out_of_network"] = (
            "This program is priced out of network for your plan: out-of-network deductibles, "
            "coinsurance and allowed amounts apply, and costs are usually higher than in network."
        )
    if not plan.covered:
        why = plan.why_not_covered.format(net=net, level=level_name.lower())
        notices["not_covered"] = f"Not covered: {why}. The full charges are shown as your cost."
    if plan.covered and plan.lb.prior_auth:  # type: ignore[union-attr]
        notices["prior_authorization_required"] = (
            f"Your plan requires prior authorization for {level_name.lower()}. Without it the plan may "
            "not pay; the program or your plan can start the request before treatment."
        )
    if run.limit_hits:
        unit = LEVELS[req.level_of_care].unit
        notices["limit_reached"] = (
            f"Your plan covers {plan.limit} {unit}{'s' if plan.limit != 1 else ''} of "
            f"{level_name.lower()} per plan year; {run.limit_hits} claim(s) in this estimate are past "
            "that limit and are shown at the full charge."
        )
    if plan.balance_billing:
        notices["balance_billing_possible"] = (
            "Out-of-network providers may bill you the difference between their charge and the amount "
            "your plan allows (balance billing); it is included in this estimate and does not count "
            "toward your deductible or out-of-pocket maximum."
        )
    if "no_negotiated_rate" in flags:
        notices["no_negotiated_rate"] = (
            "No negotiated rate with your plan is on file for some services; their allowed amount is "
            "estimated from your plan's in-network rule or the program's charge."
        )
    if "no_reference_rate" in flags:
        notices["no_reference_rate"] = (
            "No reference rate is on file for some services; their allowed amount is estimated as a "
            "percentage of the program's charge instead."
        )
    if "plan_year_reset" in flags:
        notices["plan_year_reset"] = (
            "The episode runs into a new plan year: your deductible, out-of-pocket amounts and "
            "used visits start again from zero on the plan-year start date."
        )
    as_of = req.accumulators.as_of
    if as_of is not None:
        py_start = plan.plan_year_of(ep.start_date)[0]
        if py_start is not None and as_of < py_start:
            notices["accumulators_prior_plan_year"] = (
                f"The accumulated amounts are as of {as_of.isoformat()}, before the plan year that "
                f"starts {py_start.isoformat()}; they were applied as given and may overstate what "
                "has been met this plan year."
            )
