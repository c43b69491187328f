"""The pricing engine: ``price_episode(PricingRequest) -> PricedEpisode``.

Pure and synchronous: no I/O, no clock (``request.today`` stands in for "today").
The arithmetic follows docs/API.md to the cent; the decisions where it is
silent are in ``docs/ENGINE.md``.

Shape of the work, per request:

1. resolve the episode (``episode.resolve_episode``) and prepare the fee lines once:
   charges quantized to cents, the allowed amount of each line under each
   negotiated rate (and its fallback) computed once, not per claim;
2. choose the network and the level's benefit (``_Plan``);
3. price the claims by runs of equal claims (``_RunPricer``, closed form: the cost
   follows the episode's shape, not its length), once for the estimate and once
   more per distinct range length with totals only; list the claims only when
   ``request.include_claims``;
4. self-pay, payment plans, notices and the disclaimer (``price_with``, shared with
   the claim-by-claim ``reference_engine`` it is tested against).
"""

# The claim loop caps with `if x > cap: x = cap` rather than min(): 35 ns against 117 ns a
# comparison, seven times a claim.
# ruff: noqa: PLR1730, FURB136

from __future__ import annotations

import calendar
import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from itertools import groupby
from operator import attrgetter, sub
from typing import Any

from costsvc.domain import reference_engine
from costsvc.domain.claims import (
    _Line,
    _met,
    _Plan,
    _rule_allowed,
    _Run,
    _units_used_after,
    _valid_on,
)
from costsvc.domain.episode import Episode, range_episodes, resolve_episode
from costsvc.domain.errors import DomainError, EpisodeTooLong, InvalidBenefits, LevelNotOffered
from costsvc.domain.levels import LEVELS
from costsvc.domain.model import (
    AccumulatedAmounts,
    AccumulatorsAfter,
    Claim,
    EpisodeSummary,
    EstimateLine,
    MonthTotal,
    NetworkAccumulators,
    Notice,
    PricedEpisode,
    PriceRange,
    PricingRequest,
    RangePoint,
    SelfPay,
    Totals,
)
from costsvc.domain.money import CENT, ZERO, cents, percent_of
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


# --------------------------------------------------------------------------- the claim schedule


def _schedule(ep: Episode, per_episode: list[_Line], per_service: list[_Line]):
    """Claims in order as (date, line, unit index or -1 for per-episode claims).

    By date; per-episode lines first (all on the start date, the earliest date);
    then by billing code.  Units sharing a date (only when more than 7 a week) are
    billed code by code.  Used where claims are listed one by one: ``include_claims``
    for self-pay, and the shapes the run engine hands to the reference engine.
    """
    out = [(ep.start_date, ln, -1) for ln in per_episode]
    if not per_service:
        return out
    dates = ep.dates
    units = sorted(range(len(dates)), key=dates.__getitem__) if not ep.dates_sorted else range(len(dates))
    for day, group in groupby(units, key=dates.__getitem__):
        ks = list(group)
        for ln in per_service:
            for k in ks:
                out.append((day, ln, k))
    return out


class _Calendar:
    """The per-service units of an episode in claim order ("slots"), with their dates.

    Slot ``s`` is the ``s``-th unit by date: unit ``s`` itself unless more than 7 units
    a week share dates (then the dates are sorted once).  ``first_slot_on_or_after``
    and the month table let a run of equal claims be split at a date, or spread over
    months, without visiting its claims.
    """

    __slots__ = ("ep", "month_keys", "month_labels", "month_lengths", "month_starts", "n", "per_week",
                 "sorted_dates", "start")

    def __init__(self, ep: Episode):
        self.ep = ep
        self.start = ep.start_date
        self.per_week = ep.per_week
        self.n = ep.units
        self.sorted_dates = None if ep.dates_sorted else tuple(sorted(ep.dates))
        self.month_starts: list[int] | None = None
        self.month_lengths: list[int] = []  # units in each month
        self.month_keys: list[tuple[int, int]] = []
        self.month_labels: list[str] = []  # "YYYY-MM" of each month

    def date(self, slot: int) -> dt.date:
        if self.sorted_dates is not None:
            return self.sorted_dates[slot]
        return self.start + dt.timedelta(days=self.ep.offset(slot))

    def first_slot_on_or_after(self, day: dt.date) -> int:
        if self.sorted_dates is not None:
            return bisect_left(self.sorted_dates, day)
        days = (day - self.start).days
        f = self.per_week
        if f is None:
            slot = days
        else:
            week, weekday = divmod(days, 7)
            slot = week * f + (weekday if weekday < f else f)
        return min(max(slot, 0), self.n)

    def _months(self) -> None:
        if self.sorted_dates is None:
            self.month_starts, self.month_lengths, self.month_keys, self.month_labels = _month_table(
                self.start, self.n, self.per_week)
            return
        starts: list[int] = []
        keys: list[tuple[int, int]] = []
        slot, n = 0, self.n
        while slot < n:
            d = self.date(slot)
            starts.append(slot)
            keys.append((d.year, d.month))
            slot = self.first_slot_on_or_after(_next_month(d)) if d < _LAST_MONTH else n
        self.month_starts, self.month_keys, self.month_labels = starts, keys, [_month_label(k) for k in keys]
        self.month_lengths = _lengths(starts, n)

    def month_sums(self, runs: list[tuple[int, int, Any, Any]], zero: Any) -> list[Any]:
        """The sum of each run's amount per slot, for runs (first slot, slots, anything, amount),
        in each month with a slot (aligned with ``month_keys``); ``zero`` for a month no run
        reaches.  A run of amount 0 is skipped: it adds nothing."""
        if self.month_starts is None:
            self._months()
        starts, lengths = self.month_starts, self.month_lengths
        sums = [zero] * len(starts)
        for slot, count, _, each in runs:
            if not each:
                continue
            end = slot + count
            first = bisect_right(starts, slot) - 1
            last = bisect_right(starts, end - 1) - 1
            if first == last:
                sums[first] += each * count
                continue
            sums[first] += each * (starts[first + 1] - slot)
            if last > first + 1:  # months wholly inside this run: no other run reaches them
                sums[first + 1:last] = [each * n for n in lengths[first + 1:last]]
            sums[last] += each * (end - starts[last])
        return sums


_LAST_MONTH = dt.date(_MAX_DATE.year, 12, 1)


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + 1, 1, 1) if d.month == 12 else dt.date(d.year, d.month + 1, 1)


_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
#: Months an episode can reach: 730 days or 104 weeks from any start span at most 26.
_MONTHS_AHEAD = 27


@lru_cache(maxsize=256)
def _months_from(year: int, month: int) -> tuple[list[int], list[tuple[int, int]], list[str]]:
    """From the 1st of (year, month): the days to the 1st of each following month (up to
    ``_MONTHS_AHEAD``, not past the last representable one), those months and their labels.
    Shared by every estimate starting in that month, whatever its day or length."""
    days, firsts, keys = 0, [], []
    for _ in range(_MONTHS_AHEAD):
        days += _DAYS_IN_MONTH[month] + (month == 2 and calendar.isleap(year))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if year > _MAX_DATE.year:
            break
        firsts.append(days)
        keys.append((year, month))
    return firsts, keys, [_month_label(k) for k in keys]


def _month_table(start: dt.date, units: int, per_week: int | None
                 ) -> tuple[list[int], list[int], list[tuple[int, int]], list[str]]:
    """(first slot of each month, its units, its (year, month), its label) for units laid
    out by the formula, at most 7 a week (every month up to the last unit's then has units).
    Each month's first slot follows from the days between the start and the 1st of the
    month; no unit is visited, and nothing is kept by start date (traffic rarely repeats one)."""
    firsts, keys, labels = _months_from(start.year, start.month)
    shift = start.day - 1  # firsts count from the 1st of the start month
    last_day = units - 1 if per_week is None else (units - 1) // per_week * 7 + (units - 1) % per_week
    n = bisect_right(firsts, last_day + shift)  # the months after the start's that have a unit
    if n == _MONTHS_AHEAD:  # every month ahead has a unit: resolve_episode admits none (MAX_UNITS, MAX_WEEKS)
        raise EpisodeTooLong("episode", f"an episode can span at most {_MONTHS_AHEAD - 1} months")
    if per_week is None:
        starts = [0, *[d - shift for d in firsts[:n]]]
    else:
        before = _UNITS_BEFORE_DAY[per_week]
        starts = [0, *[before[d - shift] for d in firsts[:n]]]
    return (starts, _lengths(starts, units), [(start.year, start.month), *keys[:n]],
            [_month_label((start.year, start.month)), *labels[:n]])


#: Of a schedule of f units a week (the first f days of each 7): the units before each day
#: of the episode, for every day the month table can ask about.
_UNITS_BEFORE_DAY: tuple[tuple[int, ...], ...] = ((), *(
    tuple(day // 7 * f + min(day % 7, f) for day in range(31 * _MONTHS_AHEAD + 1)) for f in range(1, 8)))


def _lengths(starts: list[int], units: int) -> list[int]:
    """The units of each month, from the first slot of each."""
    return list(map(sub, [*starts[1:], units], starts))


@lru_cache(maxsize=4096)
def _month_label(key: tuple[int, int]) -> str:
    return f"{key[0]:04d}-{key[1]:02d}"


def _lines_table(lines: list[_Line]) -> dict[tuple[str, str], list]:
    """(code, frequency) -> [description, quantity, billed, allowed, plan_pays, patient_pays]."""
    table: dict[tuple[str, str], list] = {}
    for ln in lines:
        if ln.key not in table:
            table[ln.key] = [ln.description, 0, ZERO, ZERO, ZERO, ZERO]
    return table


def _estimate_lines(table: dict[tuple[str, str], list]) -> list[EstimateLine]:
    return [
        EstimateLine(code, desc, freq, qty, billed, allowed, plan_pays, patient)  # type: ignore[arg-type]
        for (code, freq), (desc, qty, billed, allowed, plan_pays, patient) in table.items()
        if qty
    ]


def _allowed_on(ln: _Line, day: dt.date) -> tuple[Decimal, tuple[str, ...]]:
    """The allowed amount of a covered claim of ``ln`` on ``day``, and the notices it implies."""
    for eff, exp, amt in ln.rates:  # negotiated rates (in network only), latest effective first
        if eff <= day <= exp:
            return amt, ()
    return ln.fallback, ln.fallback_flags


# A priced claim before it is dated, in cents: (line, (1, billed, allowed, plan pays, patient
# pays, deductible, copay, coinsurance, not covered, balance bill)), the 1 counting claims.
_Priced = tuple


class _RunPricer:
    """Cost sharing over runs of equal claims (docs/API.md steps 1–6, in closed form).

    The per-service claims of an episode are cut into *segments* at every date where
    a claim's terms can change: a plan-year start, a negotiated rate's effective or
    expiration date, the unit where ``limit_units`` runs out.  Within a segment every
    unit (one claim per per-service line) has the same billed and allowed amounts and
    the same copay, so consecutive units differ only in the accumulators they meet.

    A unit is priced claim by claim from the current state, consuming ``dD`` of the
    deductible and ``dO`` of the out-of-pocket remainder.  The next units price
    identically for as long as both remainders can absorb a whole unit
    (``floor(D / dD)`` and ``floor(O / dO)`` units): a remainder that caps a claim is
    exhausted by it, so a capped unit always repeats once, and an uncapped unit
    repeats exactly until a remainder is too small for it.  Each segment therefore
    costs a handful of steps (deductible phase, the unit that finishes it,
    coinsurance phase, the unit that reaches the cap, after the cap), whatever its
    length.  The claim-by-claim arithmetic is in ``reference_engine``; the properties
    in tests/unit/test_engine_equivalence.py hold the two equal to the cent.

    Amounts are whole cents (``int``) inside the pricer: every amount entering the
    engine is already in cents, integer arithmetic is exact and several times cheaper
    than Decimal's, and the coinsurance's half-up rounding is done on the exact ratio
    of the percentage.  They become Decimals again in ``_result``.  "No cap" is
    ``_NO_CAP``, more cents than any episode can reach.
    """

    def __init__(self, req: PricingRequest, plan: _Plan, ep: Episode, per_episode: list[_Line],
                 per_service: list[_Line], all_lines: list[_Line], want_claims: bool, totals_only: bool = False):
        self.req, self.plan, self.ep = req, plan, ep
        self.totals_only = totals_only
        self.per_episode, self.per_service = per_episode, per_service
        self.want_claims = want_claims
        # the level's terms, read once per claim
        self.copay, self.per_admission, self.ded_applies = int(plan.copay * 100), plan.per_admission, plan.ded_applies
        # coinsurance k = round_half_up(x * pct / 100) = (2 * x * num + den_half) // den2
        num, den = plan.lb.coinsurance_pct.as_integer_ratio() if plan.lb is not None else (0, 1)
        self.pct_num, self.pct_den2, self.pct_half = 2 * num, 200 * den, 100 * den
        self.balance_billing = plan.balance_billing
        acc = req.accumulators
        self.met = _met(getattr(acc, plan.network), f"coverage.accumulators.{plan.network}")
        ded_met, oop_met, fded_met, foop_met = [int(v * 100) for v in self.met]
        ded_ind, ded_fam, oop_ind, oop_fam = _c(plan.ded_ind), _c(plan.ded_fam), _c(plan.oop_ind), _c(plan.oop_fam)
        self.ded_start, self.oop_start = min(ded_ind, ded_fam), min(oop_ind, oop_fam)
        d_i = max(ded_ind - ded_met, 0)
        d_f = max(ded_fam - fded_met, 0)
        o_i = max(oop_ind - oop_met, 0)
        o_f = max(oop_fam - foop_met, 0)
        # Individual and family remainders move together, so their minimum is all that matters.
        self.D = d_i if d_i < d_f else d_f
        self.O = o_i if o_i < o_f else o_f
        self.o_capped = self.oop_start < _NO_CAP  # a finite out-of-pocket maximum
        self.ded_acc = self.oop_acc = 0  # accumulated in the current plan year by this episode
        self.used = acc.units_used.get(req.level_of_care, 0)
        self.counted = 0  # covered per-service units of this episode in the current plan year
        self.was_reset = False
        self.first = True  # the episode's first claim is still to come (per-admission copay)
        self.fresh = False  # at the start of a plan year after a reset
        self.after_reset: dict[tuple[int, ...], list] = {}  # runs of such a year, by allowed amounts
        # Units priced with no remainder capping a claim, by allowed amounts: [with both
        # remainders left, with the deductible met, with nothing left] (see ``_units``).
        self.free_units: dict[tuple[int, ...], list] = {}
        self.flags: set[str] = set()
        self.limit_hits = 0
        self.patient_pays = 0  # of a range point (totals_only); otherwise the lines' sum
        # (code, frequency) -> [quantity, billed, allowed, plan pays, patient pays, deductible, copay,
        # coinsurance, not covered, balance bill]: each a claim's amounts summed; totals are their sums
        self.table: dict[tuple[str, str], list[int]] = {}
        self.descriptions: dict[tuple[str, str], str] = {}  # of each line: its first fee line's
        for ln in all_lines:
            if ln.key not in self.table:
                self.table[ln.key] = [0] * 10
                self.descriptions[ln.key] = ln.description
        self.episode_month = 0  # patient pays of the per-episode claims (in the start month)
        # The runs priced, in slot order: (first slot, units, the unit's claims, what the patient
        # pays per unit).  Counted into lines, months and claims once, at the end (``_result``).
        self.steps: list[tuple[int, int, list[_Priced], int]] = []
        self.episode_claims: list[_Priced] = []
        self.cal: _Calendar | None = None
        # Each per-service line with its allowed amount, and those amounts (the key of the units
        # priced with them), when they hold for the whole episode.
        self.terms: tuple[list[tuple[_Line, int]], tuple[int, ...]] | None = None
        self.terms_fixed = False

    # ------------------------------------------------------------------ one claim, one unit

    def _unit(self, terms: list[tuple[_Line, int]], D: int, O: int):
        """One claim per (line, allowed amount) of ``terms``, in order, priced from remainders
        (D, O): (priced claims, what they take from D, from O, what the patient pays).
        Steps 2–6 of docs/API.md, in cents."""
        copay, per_admission, first = self.copay, self.per_admission, self.first
        ded_applies, num, half, den2 = self.ded_applies, self.pct_num, self.pct_half, self.pct_den2
        balance_billing = self.balance_billing
        D0, O0 = D, O
        priced = []
        patient = 0
        for ln, A in terms:
            B = ln.billed_cents
            c = copay if (first or not per_admission) else 0
            first = False
            if c > A:
                c = A
            if c > O:
                c = O
            O -= c
            if ded_applies:
                d = A - c
                if d > D:
                    d = D
                if d > O:
                    d = O
                D -= d
                O -= d
            else:
                d = 0
            if num:
                k = ((A - c - d) * num + half) // den2
                if k > O:
                    k = O
                O -= k
            else:
                k = 0
            share = c + d + k
            bb = B - A if balance_billing else 0
            priced.append((ln, (1, B, A, A - share, share + bb, d, c, k, 0, bb)))
            patient += share + bb
        self.first = False
        return priced, D0 - D, O0 - O, patient

    def _allowed(self, ln: _Line, day: dt.date) -> int:
        A, flags = _allowed_on(ln, day)
        if flags:
            self.flags.update(flags)
        return _c(A)

    def _add(self, priced: list[_Priced], times: int) -> None:
        """Count ``times`` copies of ``priced`` into the lines (the totals are their sums)."""
        table = self.table
        for ln, (n, B, A, plan_pays, patient, d, c, k, nc, bb) in priced:
            row = table[ln.key]
            row[0] += n * times
            row[1] += B * times
            row[2] += A * times
            row[3] += plan_pays * times
            row[4] += patient * times
            row[5] += d * times
            row[6] += c * times
            row[7] += k * times
            row[8] += nc * times
            row[9] += bb * times

    # ------------------------------------------------------------------ runs of units

    def _units(self, cal: _Calendar, slot: int, end: int, covered: bool) -> None:
        """Price units ``slot``..``end`` - 1, all under the same terms, in as few steps as possible."""
        if slot >= end:
            return
        if not covered:  # owed in full, nothing accumulates: one step
            priced = [(ln, (1, ln.billed_cents, 0, 0, ln.billed_cents, 0, 0, 0, ln.billed_cents, 0))
                      for ln in self.per_service]
            self.first = False
            self.steps.append((slot, end - slot, priced, sum(ln.billed_cents for ln in self.per_service)))
            return
        terms_and_key = self.terms  # the same for the whole episode when no rate starts or ends in it
        if terms_and_key is None:
            day = cal.date(slot)
            terms = [(ln, self._allowed(ln, day)) for ln in self.per_service]  # constant over the run
            terms_and_key = terms, tuple(A for _ln, A in terms)
            if self.terms_fixed:
                self.terms = terms_and_key
        terms, key = terms_and_key
        admission = self.plan.per_admission and not self.per_episode
        # Every plan year after a reset starts from the same remainders: with the same
        # terms its runs repeat those of the first such year, so they are replayed.
        recording = None
        if self.fresh:
            self.fresh = False
            phases = self.after_reset.get(key)
            if phases is not None:
                slot = self._replay(phases, slot, end)
            else:
                recording = self.after_reset[key] = []
        unit, o_capped, step = self._unit, self.o_capped, self.steps.append
        # A unit that no remainder caps (each take below what is left) is the same unit
        # wherever the remainders are at least its takes: the deductible and coinsurance
        # phases of every plan year, and every unit once nothing is left, are priced once
        # per allowed amounts and counted together.  Not the first unit under a
        # per-admission copay: its copay is its own.
        free = self.free_units.setdefault(key, [None, None, None])
        first_differs = self.per_admission
        D = D_before = self.D
        O = O_before = self.O
        while slot < end:
            state = 2 if O == 0 else 1 if D == 0 else 0
            own_copay = first_differs and self.first
            hit = None if own_copay else free[state]
            if hit is not None and D >= hit[1] and O >= hit[2]:
                priced, dD, dO, patient = hit
                self.first = False
            else:
                priced, dD, dO, patient = unit(terms, D, O)  # what one unit takes from the remainders
                if not own_copay and (state == 2 or (dO < O and (state == 1 or dD < D))):
                    free[state] = (priced, dD, dO, patient)
            rest = end - slot
            cap = None  # how many such units the remainders allow (None: any number)
            if admission and slot == 0:
                cap = 1  # the admission copay makes the first unit unlike the next
            if dD:
                q = D // dD
                if cap is None or q < cap:
                    cap = q
            if dO and o_capped:
                q = O // dO
                if cap is None or q < cap:
                    cap = q
            times = rest if cap is None or cap > rest else cap
            if recording is not None:
                recording.append((cap, priced, dD, dO, patient))
            D -= dD * times
            O -= dO * times
            step((slot, times, priced, patient))
            slot += times
        self.ded_acc += D_before - D
        self.oop_acc += O_before - O
        self.D, self.O = D, O

    def _replay(self, phases: list, slot: int, end: int) -> int:
        """Apply recorded runs (cap, unit's claims, dD, dO, patient pays) from ``slot``; the slot reached."""
        D = D_before = self.D
        O = O_before = self.O
        step = self.steps.append
        for cap, priced, dD, dO, patient in phases:
            times = end - slot if cap is None or cap > end - slot else cap
            D -= dD * times
            O -= dO * times
            step((slot, times, priced, patient))
            slot += times
            if slot >= end:
                break
        self.ded_acc += D_before - D
        self.oop_acc += O_before - O
        self.D, self.O = D, O
        return slot

    def _reset(self) -> None:
        self.D, self.O = self.ded_start, self.oop_start
        self.met = (ZERO, ZERO, ZERO, ZERO)
        self.ded_acc = self.oop_acc = 0
        self.used = self.counted = 0
        self.was_reset = True
        self.fresh = True

    def price(self) -> _Run:
        plan, ep = self.plan, self.ep
        covered = plan.covered
        start = ep.start_date
        for ln in self.per_episode:  # on the start date, never subject to the unit limit
            if covered:
                priced, dD, dO, patient = self._unit([(ln, self._allowed(ln, start))], self.D, self.O)
                self.D -= dD
                self.O -= dO
                self.ded_acc += dD
                self.oop_acc += dO
            else:
                priced = [(ln, (1, ln.billed_cents, 0, 0, ln.billed_cents, 0, 0, 0, ln.billed_cents, 0))]
                patient = ln.billed_cents
                self.first = False
            self._add(priced, 1)
            self.patient_pays += patient
            self.episode_month += patient
            self.episode_claims.extend(priced)
        if self.per_service and ep.units:
            cal = self.cal = _Calendar(ep)
            last = cal.date(cal.n - 1)
            resets = set()  # the first unit of each new plan year
            reset = plan.plan_year_of(start)[1]
            while reset is not None and reset <= last:
                resets.add(cal.first_slot_on_or_after(reset))
                reset = plan.anchor(reset.year + 1)
            cuts = {0, cal.n, *resets}
            self.terms_fixed = True  # until a negotiated rate starts or ends inside the episode
            if covered:
                for ln in self.per_service:
                    for eff, exp, _amt in ln.rates:
                        if start < eff <= last:
                            cuts.add(cal.first_slot_on_or_after(eff))
                            self.terms_fixed = False
                        if start <= exp < last:
                            cuts.add(cal.first_slot_on_or_after(exp + _ONE_DAY))
                            self.terms_fixed = False
            bounds = sorted(cuts)
            limit = plan.limit
            width = len(self.per_service)
            for seg_start, seg_end in zip(bounds, bounds[1:]):
                if seg_start in resets:
                    self._reset()
                if not covered:
                    self._units(cal, seg_start, seg_end, False)
                    continue
                split = seg_end
                if limit is not None:
                    room = max(limit - self.used - self.counted, 0)
                    split = min(seg_end, seg_start + room)
                self._units(cal, seg_start, split, True)
                self.counted += split - seg_start
                if split < seg_end:
                    self.limit_hits += (seg_end - split) * width
                    self._units(cal, split, seg_end, False)
        return self._result()

    def _result(self) -> _Run:
        run = _Run()
        run.flags = self.flags
        if self.was_reset:
            self.flags.add("plan_year_reset")
        run.limit_hits = self.limit_hits
        steps = self.steps
        if self.totals_only:  # a range point: its patient_pays
            run.patient_pays = _d(self.patient_pays + sum(patient * times for _s, times, _p, patient in steps))
            return run
        # Each distinct unit into the lines once, with how many times it was priced (by
        # identity: a replayed plan year and a shared free unit repeat the same claims).
        counts: dict[int, list] = {}
        for _slot, times, priced, _patient in steps:
            count = counts.get(id(priced))
            if count is None:
                counts[id(priced)] = [priced, times]
            else:
                count[1] += times
        for priced, times in counts.values():
            self._add(priced, times)
        sums = [Decimal(sum(column)) * CENT for column in zip(*self.table.values())]
        (_claims, run.billed, run.allowed, _plan_pays, run.patient_pays, run.deductible, run.copay,
         run.coinsurance, run.not_covered, run.balance_bill) = sums
        descriptions = self.descriptions
        run.lines = [
            EstimateLine(code, descriptions[(code, freq)], freq, row[0],  # type: ignore[arg-type]
                         Decimal(row[1]) * CENT, Decimal(row[2]) * CENT, Decimal(row[3]) * CENT,
                         Decimal(row[4]) * CENT)
            for (code, freq), row in self.table.items()
            if row[0]
        ]
        run.months = {}
        labels: list[str] = []
        sums: list[int] = []
        if self.cal is not None:
            sums = self.cal.month_sums(steps, 0)  # what the patient pays per unit, by month
            labels = self.cal.month_labels
        if self.per_episode:  # their claims are on the start date, in the first month
            start = self.ep.start_date
            label = _month_label((start.year, start.month))
            if labels and labels[0] == label:
                sums[0] += self.episode_month
            else:
                labels, sums = [label, *labels], [self.episode_month, *sums]
        # Months of as many equal units cost the same: one Decimal for each distinct amount.
        amounts = {amount: Decimal(amount) * CENT for amount in set(sums)}
        run.by_month = list(map(MonthTotal, labels, map(amounts.__getitem__, sums)))
        ded_met, oop_met, fded_met, foop_met = self.met
        ded_acc, oop_acc = Decimal(self.ded_acc) * CENT, Decimal(self.oop_acc) * CENT
        run.acc_after = AccumulatedAmounts(
            deductible_met=ded_met + ded_acc,
            oop_met=oop_met + oop_acc,
            family_deductible_met=fded_met + ded_acc,
            family_oop_met=foop_met + oop_acc,
        )
        run.units_used_after = _units_used_after(self.req, self.counted, self.was_reset)
        run.claims = self._claims() if self.want_claims else []
        return run

    def _claims(self) -> list[Claim]:
        start = self.ep.start_date
        claims = [_dated(start, p) for p in self.episode_claims]
        if self.steps:
            cal = _Calendar(self.ep)
            for slot, times, priced, _patient in self.steps:
                for s in range(slot, slot + times):
                    day = cal.date(s)
                    claims.extend(_dated(day, p) for p in priced)
        return claims


_ONE_DAY = dt.timedelta(days=1)
#: "No cap" in cents: more than any episode's charges (730 units of at most $1 billion each).
_NO_CAP = 10**30


def _c(x: Decimal) -> int:
    """An amount in cents (already quantized), as whole cents; no cap as ``_NO_CAP``."""
    if not x.is_finite():
        return _NO_CAP
    return int(x.scaleb(2))


def _d(n: int) -> Decimal:
    """Whole cents as a Decimal with two decimals."""
    return Decimal(n) * CENT


def _dated(day: dt.date, p: _Priced) -> Claim:
    ln, (_one, B, A, plan_pays, patient, d, c, k, nc, bb) = p
    return Claim(day, ln.code, ln.frequency, _d(B), _d(A), _d(plan_pays), _d(patient), _d(d), _d(c), _d(k),
                 _d(nc), _d(bb))


def _run(req: PricingRequest, plan: _Plan, ep: Episode, per_episode: list[_Line], per_service: list[_Line],
         want_claims: bool, totals_only: bool = False) -> _Run:
    """Price the insured claims of ``ep`` by runs (``_RunPricer``).

    Units sharing a date (more than 7 a week) with several per-service lines do not
    form runs of one claim per line: that rare shape is priced claim by claim by the
    reference engine.
    """
    if not ep.dates_sorted and len(per_service) > 1:
        run = reference_engine.run_claims(req, plan, ep, per_episode, per_service)
        if not want_claims:
            run.claims = []
        return run
    return _RunPricer(req, plan, ep, per_episode, per_service, per_episode + per_service, want_claims,
                      totals_only).price()


def _self_pay_run(ep: Episode, per_episode: list[_Line], per_service: list[_Line], want_claims: bool) -> _Run:
    """Self-pay: billed = gross charge, allowed 0, the patient owes the self-pay price,
    reported as ``not_covered`` (nothing is covered by insurance).  Every unit costs the
    same, so totals, lines and months are products, and claims are listed only on request."""
    table = _lines_table(per_episode + per_service)
    months: dict[tuple[int, int], Decimal] = {}
    n = ep.units if per_service else 0
    billed = patient = ZERO
    for ln in per_episode:
        row = table[(ln.code, ln.frequency)]
        row[1] += 1
        row[2] += ln.billed
        row[5] += ln.sp_price
        billed += ln.billed
        patient += ln.sp_price
    if per_episode:
        start = ep.start_date
        months[(start.year, start.month)] = patient
    unit_price = ZERO
    for ln in per_service:
        row = table[(ln.code, ln.frequency)]
        row[1] += n
        row[2] += ln.billed * n
        row[5] += ln.sp_price * n
        billed += ln.billed * n
        unit_price += ln.sp_price
    patient += unit_price * n
    if n:
        cal = _Calendar(ep)
        sums = cal.month_sums([(0, n, None, unit_price)], ZERO)  # lays out the months first
        for key, amount in zip(cal.month_keys, sums):
            months[key] = months[key] + amount if key in months else amount
    run = _Run()
    run.billed, run.allowed, run.patient_pays, run.not_covered = billed, ZERO, patient, patient
    run.deductible = run.copay = run.coinsurance = run.balance_bill = ZERO
    run.lines = _estimate_lines(table)
    run.months = months
    run.flags = set()
    run.limit_hits = 0
    run.claims = []
    if want_claims:
        run.claims = [
            Claim(day, ln.code, ln.frequency, ln.billed, ZERO, ZERO, ln.sp_price, not_covered=ln.sp_price)
            for day, ln, _k in _schedule(ep, per_episode, per_service)
        ]
    return run


# --------------------------------------------------------------------------- entry point


Runner = Callable[..., _Run]
SelfPayRunner = Callable[..., _Run]


def price_episode_by_claims(req: PricingRequest) -> PricedEpisode:
    """The same estimate priced claim by claim by the reference engine: the statement of
    the arithmetic the fast engine is held equal to (tests/unit/test_engine_equivalence.py)."""
    return price_with(req, reference_engine.run, reference_engine.self_pay_run)


def price_episode(req: PricingRequest) -> PricedEpisode:
    """Price one episode of one level of care in one program (see module docstring)."""
    return price_with(req, _run, _self_pay_run)


def price_with(req: PricingRequest, run: Runner, self_pay_run: SelfPayRunner) -> PricedEpisode:
    """Price ``req`` with the given claim engines; everything around the claims (episode,
    network, range, self-pay summary, payment plans, notices) is shared by both engines."""
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
    want_claims = req.include_claims

    assessment: SlidingAssessment | None = None
    if req.household is not None:
        assessment = assess(req.household, ep.start_date.year, req.poverty_guidelines, req.sliding_policy)
        for ln in all_lines:
            ln.sp_price = assessment.price(ln.cash)

    notices: dict[str, str] = {}
    if req.benefits is None:
        network_status = "self_pay"
        result = self_pay_run(ep, per_episode, per_service, want_claims)
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
        result = run(req, plan, ep, per_episode, per_service, want_claims)
        other = "out_of_network" if network == "in_network" else "in_network"
        other_acc = getattr(req.accumulators, other)
        if "plan_year_reset" in result.flags:
            other_acc = _ZERO_ACC
        acc_after = AccumulatorsAfter(
            **{network: result.acc_after, other: _cents_acc(other_acc)},
            units_used=result.units_used_after,
        )
        points = []
        for rep in (low_ep, high_ep):
            if rep is ep:
                points.append(RangePoint(ep.units, result.patient_pays))
            else:
                r = run(req, plan, rep, per_episode, per_service, False, totals_only=True)
                points.append(RangePoint(rep.units, r.patient_pays))
        price_range = PriceRange(points[0], points[1])
        _insured_notices(notices, req, plan, ep, result, info.name)
        disclaimer = DISCLAIMER_INSURED
    totals = Totals(
        billed=result.billed,
        allowed=result.allowed,
        plan_pays=result.allowed - result.deductible - result.copay - result.coinsurance,
        patient_pays=result.patient_pays,
        deductible=result.deductible,
        copay=result.copay,
        coinsurance=result.coinsurance,
        not_covered=result.not_covered,
        balance_bill=result.balance_bill,
    )

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
        lines=result.lines,
        totals=totals,
        accumulators_after=acc_after,
        by_month=result.by_month if result.by_month is not None
        else [MonthTotal(_month_label(key), v) for key, v in sorted(result.months.items())],
        range=price_range,
        selfpay=selfpay,
        payment_plans=payment_plans(totals.patient_pays, req.down_payment, req.payment_plan_policy),
        notices=[Notice(code, notices[code]) for code in _NOTICE_ORDER if code in notices],
        disclaimer=disclaimer,
        claims=result.claims,
    )


# --------------------------------------------------------------------------- self-pay


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
