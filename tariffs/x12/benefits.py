"""One person's EB segments → a partial benefits document, remaining amounts and accumulators.

Every value an EB segment states is *offered* to a slot (network × level × field, or
network × deductible/oop × tier × period).  A slot keeps the most specific offer; on a
tie, the first in the file.  Afterwards every EB segment that neither set the status nor
won a slot is reported as unmapped, with the reason it was not used.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

import msgspec

from costsvc.domain.model import LEVELS_OF_CARE
from costsvc.domain.money import AmountSyntaxError, cents, parse_amount, plain
from tariffs.x12 import codes
from tariffs.x12.envelope import Delimiters, Segment

IN, OUT = "in_network", "out_of_network"
NETWORKS = (IN, OUT)
_NETWORK_OF_EB12 = {"Y": (IN,), "N": (OUT,), "W": NETWORKS, "": NETWORKS, "U": NETWORKS}
_TIER_OF_EB02 = {"IND": "individual", "": "individual", "FAM": "family"}
_AMOUNT_KIND = {"C": "deductible", "G": "oop_max"}
_MET_FIELD = {
    ("deductible", "individual"): "deductible_met",
    ("deductible", "family"): "family_deductible_met",
    ("oop_max", "individual"): "oop_met",
    ("oop_max", "family"): "family_oop_met",
}
_LEVEL_FIELD_EB01 = frozenset({"1", "A", "B", "F", "I"})  # the EB01s whose EB11 (prior auth) we read
_PLAN, _YTD, _REMAINING = "plan", "year_to_date", "remaining"
_PLAN_AMOUNT_RANK = 0  # only service type 30 states these: every offer ties, the first wins
_LEVEL_FIELDS = ("covered", "copay", "coinsurance_pct", "limit_units", "prior_auth")
# Every slot a person can have, numbered: dicts keyed by small ints are cheaper than by tuples
# (a tuple's hash is recomputed at every lookup).
SLOT_OF: tuple[tuple, ...] = (
    *(("level", n, lv, f) for n in NETWORKS for lv in LEVELS_OF_CARE for f in _LEVEL_FIELDS),
    *(("amount", n, k, t, w) for n in NETWORKS for k in ("deductible", "oop_max") for t in ("individual", "family")
      for w in (_PLAN, _YTD, _REMAINING)),
    *(("units_remaining", n, lv) for n in NETWORKS for lv in LEVELS_OF_CARE),
)
SLOT_ID: dict[tuple, int] = {slot: i for i, slot in enumerate(SLOT_OF)}
N_SLOTS = len(SLOT_OF)
# What building the results needs of each slot: (kind, group, leaf, network, level or amount
# kind, field or plan/remaining/ytd, tier).  A group is one level's fields or one amount's
# plan, remaining and year-to-date figures; a leaf is the dict of a network's document the
# slot's value goes in (its "levels", "deductible" or "oop_max").
_LEVEL, _AMOUNT, _UNITS = "level", "amount", "units_remaining"
_LEVEL_GROUPS = {key: i for i, key in enumerate(dict.fromkeys(s[1:3] for s in SLOT_OF if s[0] == _LEVEL))}
_AMOUNT_GROUPS: tuple[tuple[str, str, str], ...] = tuple(dict.fromkeys(s[1:4] for s in SLOT_OF if s[0] == _AMOUNT))
_LEAVES: tuple[tuple[str, str], ...] = tuple((n, what) for n in NETWORKS for what in ("levels", "deductible", "oop_max"))
_SLOT_PLAN: tuple[tuple, ...] = tuple(
    (_LEVEL, _LEVEL_GROUPS[s[1:3]], _LEAVES.index((s[1], "levels")), s[1], s[2], s[3], None) if s[0] == _LEVEL
    else (_AMOUNT, _AMOUNT_GROUPS.index(s[1:4]), _LEAVES.index(s[1:3]), s[1], s[2], s[4], s[3]) if s[0] == _AMOUNT
    else (_UNITS, None, None, s[1], s[2], None, None)
    for s in SLOT_OF
)
_UNITS_SLOTS = tuple((SLOT_ID[(_UNITS, n, lv)], n, lv) for n in NETWORKS for lv in LEVELS_OF_CARE)
_LIMIT_SLOTS = {  # a level's limit: the network's own, else the other network's
    (n, lv): tuple(SLOT_ID[(_LEVEL, net, lv, "limit_units")] for net in (n, *(o for o in NETWORKS if o != n)))
    for n in NETWORKS for lv in LEVELS_OF_CARE
}
_NO_RANK = 1 << 20  # the rank of an empty slot: above every rank
_ZERO = Decimal("0.00")


_EB_ELEMENTS = 13  # EB01..EB12 are read; shorter segments are padded with blanks
_LEVELS_CACHE: dict[tuple, tuple[tuple[str, int], ...] | str] = {}  # EB03 texts repeat across people
_LEVELS_CACHE_SIZE = 10_000
MAX_CACHED_READINGS = 50_000  # per body
_SHORT = 64  # process-wide caches only keep short keys, so a hostile body cannot fill memory
_EXACT_CENTS = 20  # digits and a point: far below the 28 digits of the decimal context


def _levels_of(service_types: list[str], table: dict[int, str], is_4010: bool) -> tuple[tuple[str, int], ...] | str:
    """The levels and ranks of EB03's codes, or why none maps."""
    best: dict[str, int] = {}
    unknown: list[str] = []
    missing_in_4010: list[str] = []
    for code in service_types or [codes.PLAN_WIDE_SERVICE_TYPE]:
        code = code.upper().translate(table)
        if is_4010 and code in codes.SERVICE_TYPES_NOT_IN_4010:
            missing_in_4010.append(code)
            continue
        levels = codes.SERVICE_TYPE_LEVELS.get(code)
        if levels is None:
            unknown.append(code)
            continue
        rank = codes.specificity(code)
        for level in levels:
            if rank < best.get(level, rank + 1):
                best[level] = rank
    if best:
        return tuple((level, best[level]) for level in LEVELS_OF_CARE if level in best)
    parts = []
    if unknown:
        parts.append(f"service type{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                     f"{'are' if len(unknown) > 1 else 'is'} not behavioral")
    if missing_in_4010:
        parts.append(f"service type {', '.join(missing_in_4010)} does not exist in 4010")
    return "; ".join(parts)


def money(text: str) -> Decimal:
    """An X12 amount with at most two decimals, as cents (raises AmountSyntaxError)."""
    _check_size(text)
    if len(text) <= _EXACT_CENTS and 0 <= text.find(".") == len(text) - 3 and text.isascii() and text.replace(".", "", 1).isdigit():
        # "1206.75": already in cents, and too short for the context's precision to round it;
        # the remaining and year-to-date amounts differ per member, so this skips the cache
        return Decimal(text)
    return _money(text) if len(text) <= _SHORT else cents(x12_number(text, places=2))


def percent_of_fraction(text: str) -> str | None:
    """``.2`` → ``"20"``; None above 1 (raises AmountSyntaxError)."""
    return _percent(text) if len(text) <= _SHORT else _percent.__wrapped__(text)


@lru_cache(maxsize=4096)
def _money(text: str) -> Decimal:
    # the common shapes ("150", "10.00", "78.8", ".5") directly; the rest through the one
    # amount grammar, which also words the errors
    if text.isascii() and text.replace(".", "", 1).isdigit():
        dot = text.find(".")
        if dot == -1 or 1 <= len(text) - dot - 1 <= 2:
            return cents(Decimal("0" + text if dot == 0 else text))
    return cents(x12_number(text, places=2))


@lru_cache(maxsize=1024)
def _percent(text: str) -> str | None:
    fraction = x12_number(text, places=6)
    return None if fraction > 1 else str(plain(fraction * 100))


class Unusable(Exception):
    """Why an EB segment cannot be mapped (a sentence fragment without PHI: EBs carry none)."""


def x12_number(text: str, places: int) -> Decimal:
    """An X12 ``R`` value: ``.2`` and ``10.00`` are both written; no sign, no exponent."""
    if text.startswith("."):
        text = "0" + text
    _check_size(text)
    return parse_amount(text, places=places)


def _check_size(text: str) -> None:
    # The API's bound on amounts (below $1 billion): no benefit is that large, and past
    # the decimal context's 28 digits rounding to the cent would raise.
    if len(text) > 9 and len(text.partition(".")[0].lstrip("0")) > 9:
        raise AmountSyntaxError("must have at most 9 digits before the decimal point")


def _why_nothing(eb01: str) -> str:
    if eb01 == "A":
        return "coinsurance without a fraction (EB08)"
    if eb01 == "B":
        return "copay without an amount (EB07)"
    return "limitation without a count of days or visits (EB09 DY/VS with EB10)"


class Unmapped(msgspec.Struct, frozen=True, gc=False):  # two strings: in no cycle, so never tracked
    segment: str  # the EB segment, written with * ^ : whatever the file's separators
    reason: str


class Results(NamedTuple):
    benefits: dict
    remaining: dict
    accumulators: dict
    unmapped: list[Unmapped]


class EbReading(msgspec.Struct, frozen=True, gc=False):
    """What one EB segment says, independent of the person: cached, since payers repeat
    the same EB lines for every member of a plan.  (Not tracked by the cyclic garbage
    collector: a body caches tens of thousands, and they hold only tuples of scalars.)"""

    offers: tuple[tuple[int, int, object], ...]  # (slot id, rank, value)
    used_for_status: bool
    active: bool
    description: str | None  # EB05
    reason: str | None  # why nothing could be offered
    has_units: bool
    text: str  # the segment with canonical separators, for `unmapped`
    notable: bool  # any of active, description, has_units: what a person notes beyond the offers
    unmapped: Unmapped | None  # (text, reason) when there is a reason: immutable, so shared by every person


class _BodyCache(NamedTuple):
    readings: dict  # segment text -> EbReading
    amount_slots: dict  # what _plan_amount_reading found for a C/G's elements other than EB07


def cache_for(cache: dict, delimiters: Delimiters, is_4010: bool) -> _BodyCache:
    """What ``cache`` (one per body) holds for segments of these delimiters and version."""
    found = cache.get((delimiters, is_4010))
    if found is None:
        found = cache[(delimiters, is_4010)] = _BodyCache({}, {})
    return found


def read_eb(seg: Segment, is_4010: bool, cache: _BodyCache) -> EbReading:
    """What ``seg`` says, read once per body for each distinct segment text."""
    readings = cache.readings
    reading = readings.get(seg.raw)
    if reading is None:
        el = seg.elements
        if len(el) < _EB_ELEMENTS:
            el = el + [""] * (_EB_ELEMENTS - len(el))
        eb01 = el[1].upper()
        if eb01 in _AMOUNT_KIND:
            reading = _plan_amount_reading(seg, el, eb01, is_4010, cache.amount_slots)
        else:
            reading = _EbReader(seg, is_4010).read(el, eb01)
        if len(readings) < MAX_CACHED_READINGS:
            readings[seg.raw] = reading
    return reading


def _plan_amount_reading(seg: Segment, el: list[str], eb01: str, is_4010: bool, amount_slots: dict) -> EbReading:
    """A C or G segment: a plan amount, remaining amount or amount met so far.  The
    remaining and year-to-date lines differ from member to member only in EB07, so the
    slots (or the reason there are none) are found once per body for the other elements."""
    key = (eb01, el[2], el[3], el[6], el[12])
    slots = amount_slots.get(key)
    if slots is None:
        reader = _EbReader(seg, is_4010)
        try:
            slots = reader.plan_amount_slots(seg, el, eb01, reader.networks(seg, el))
        except Unusable as why:
            slots = str(why)
        if len(amount_slots) < MAX_CACHED_READINGS:
            amount_slots[key] = slots
    offers: tuple = ()
    if isinstance(slots, str):
        reason = slots
    elif not el[7]:
        reason = "no amount (EB07)"
    else:
        try:
            amount = _EbReader.amount(el, 7)
        except Unusable as why:
            reason = str(why)
        else:
            reason = None
            offers = (((slots[0], _PLAN_AMOUNT_RANK, amount),) if len(slots) == 1  # one network: most lines
                      else tuple([(slot, _PLAN_AMOUNT_RANK, amount) for slot in slots]))
    description = el[5] or None
    text = seg.canonical()
    return EbReading(offers, False, False, description, reason, False, text, description is not None,
                     Unmapped(text, reason) if reason else None)


class _EbReader:
    """Reads one EB segment other than C and G (those are _plan_amount_reading's)."""

    def __init__(self, seg: Segment, is_4010: bool):
        self.seg = seg
        self.is_4010 = is_4010
        self.offers: list[tuple[int, int, object]] = []
        self.has_units = False

    def _record(self, slot: tuple, rank: int, value) -> None:
        self.offers.append((SLOT_ID[slot], rank, value))

    def read(self, el: list[str], eb01: str) -> EbReading:
        """``el``: the segment's elements padded to EB12; ``eb01`` upper-cased."""
        seg = self.seg
        status = eb01 in codes.STATUS_EB01
        reason = None
        try:
            self._benefit(seg, el, eb01, status)
        except Unusable as why:
            self.offers.clear()
            reason = None if status else str(why)
        active, description = eb01 == codes.ACTIVE_EB01, el[5] or None
        text = seg.canonical()
        return EbReading(tuple(self.offers), status, active, description, reason, self.has_units, text,
                         bool(active or description or self.has_units), Unmapped(text, reason) if reason else None)

    def _benefit(self, seg: Segment, el: list[str], eb01: str, status: bool) -> None:
        networks = self.networks(seg, el)
        if eb01 not in _LEVEL_FIELD_EB01:
            if not status:
                raise Unusable(f"EB01 {seg.shown(1) or '(blank)'} ({codes.EB01_NAMES.get(eb01, 'unknown code')}) is not a benefit an estimate uses")
            return
        targets = self._levels(seg, el[3])
        offered = self._level_fields(seg, el, eb01, networks, targets)
        offered |= self._prior_auth(seg, el, networks, targets)
        if not offered and not status:
            raise Unusable(_why_nothing(eb01))

    def networks(self, seg: Segment, el: list[str]) -> tuple[str, ...]:
        eb12 = el[12].upper()
        if eb12 not in _NETWORK_OF_EB12:
            raise Unusable(f"EB12 {seg.shown(12)} is not a network indicator (Y, N, W)")
        return _NETWORK_OF_EB12[eb12]

    def _levels(self, seg: Segment, eb03: str) -> tuple[tuple[str, int], ...]:
        """(level, rank) for each level the segment's service types reach, the best rank per level."""
        d = seg.delimiters
        key = (eb03, d.repetition, d.component, self.is_4010)
        found = _LEVELS_CACHE.get(key)
        if found is None:
            found = _levels_of(seg.repeats(3), seg.canonical_table(), self.is_4010)
            if len(_LEVELS_CACHE) < _LEVELS_CACHE_SIZE and len(eb03) <= _SHORT:
                _LEVELS_CACHE[key] = found
        if isinstance(found, str):
            raise Unusable(found)
        return found

    def _level_fields(self, seg: Segment, el: list[str], eb01: str, networks, targets) -> bool:
        if eb01 == "1":
            return self._offer_levels(networks, targets, "covered", True)
        if eb01 == "I":
            return self._offer_levels(networks, targets, "covered", False)
        if eb01 == "A":
            text = el[8]
            if not text:
                return False
            try:
                pct = percent_of_fraction(text)
            except AmountSyntaxError as e:
                raise Unusable(f"EB08 (coinsurance fraction) {e.reason}") from None
            if pct is None:
                raise Unusable("EB08 (coinsurance) is above 1, and a fraction is expected (.2 = 20 %)")
            return self._offer_levels(networks, targets, "coinsurance_pct", pct)
        if eb01 == "B":
            if not el[7]:
                return False
            period = el[6]
            if period not in codes.COPAY_UNITS:
                raise Unusable(f"EB06 {seg.shown(6)} ({codes.TIME_PERIODS.get(period, 'unknown period')}) is not a copay unit (visit, day, episode, admission)")
            amount = self.amount(el, 7)
            return self._offer_levels(networks, targets, "copay", (str(amount), codes.COPAY_UNITS[period]))
        # F: a limitation counted in days or visits
        quantity, count = el[9].upper(), el[10]
        if quantity not in codes.LIMIT_QUANTITIES or not count:
            return False
        try:
            units = x12_number(count, places=0)
        except AmountSyntaxError as e:
            raise Unusable(f"EB10 (quantity) {e.reason}") from None
        period = el[6]
        if period == codes.REMAINING:
            self.has_units = True
            return self._offer_each(networks, targets, "units_remaining", int(units))
        if period not in codes.PLAN_YEAR_PERIODS:
            raise Unusable(f"EB06 {seg.shown(6)} ({codes.TIME_PERIODS.get(period, 'unknown period')}) is not a plan-year limit")
        return self._offer_levels(networks, targets, "limit_units", int(units))

    def _prior_auth(self, seg: Segment, el: list[str], networks, targets) -> bool:
        eb11 = el[11].upper()
        if eb11 not in ("Y", "N"):
            return False
        return self._offer_levels(networks, targets, "prior_auth", eb11 == "Y")

    def plan_amount_slots(self, seg: Segment, el: list[str], eb01: str, networks) -> tuple[int, ...]:
        """The slots of a C/G segment's amount (raises Unusable)."""
        kind = _AMOUNT_KIND[eb01]
        eb03 = el[3]
        service_types = [eb03 or codes.PLAN_WIDE_SERVICE_TYPE] if eb03 in ("30", "") else (
            [c.upper().translate(seg.canonical_table()) for c in seg.repeats(3)])
        if codes.PLAN_WIDE_SERVICE_TYPE not in service_types:
            raise Unusable(
                f"a {'deductible' if kind == 'deductible' else 'out-of-pocket amount'} for service type "
                f"{', '.join(service_types)}: only plan-wide amounts (service type 30) have a place in the benefits"
            )
        eb02 = el[2].upper()
        if eb02 not in _TIER_OF_EB02:
            raise Unusable(f"EB02 {seg.shown(2)} is neither an individual (IND) nor a family (FAM) amount")
        tier = _TIER_OF_EB02[eb02]
        period = el[6]
        if period == codes.REMAINING:
            which = _REMAINING
        elif period == codes.YEAR_TO_DATE:
            which = _YTD
        elif period in codes.PLAN_YEAR_PERIODS:
            which = _PLAN
        else:
            raise Unusable(f"EB06 {seg.shown(6)} ({codes.TIME_PERIODS.get(period, 'unknown period')}) is not a plan-year amount")
        return tuple(SLOT_ID[("amount", network, kind, tier, which)] for network in networks)

    @staticmethod
    def amount(el: list[str], n: int) -> Decimal:
        try:
            return money(el[n])
        except AmountSyntaxError as e:
            raise Unusable(f"EB{n:02d} (amount) {e.reason}") from None

    def _offer_levels(self, networks, targets, name: str, value) -> bool:
        for network in networks:
            for level, rank in targets:
                self._record(("level", network, level, name), rank, value)
        return True

    def _offer_each(self, networks, targets, name: str, value) -> bool:
        for network in networks:
            for level, rank in targets:
                self._record((name, network, level), rank, value)
        return True


class BenefitCollector:
    """One person's EB readings applied to the slots.

    Slots are lists indexed by slot id: the rank, segment index and value of the offer
    each keeps.  Segments come in file order, so an offer wins a slot when the slot is
    empty or its rank is lower (more specific) than the kept one's: on a tie the kept one
    is the earlier.  ``filled`` keeps the order in which slots were first offered, which
    is the order of the result's dicts."""

    __slots__ = ("is_4010", "cache", "ranks", "holders", "values", "filled", "indexes", "readings", "lost_in", "active",
                 "plan_description", "any_description", "warnings", "has_units")

    def __init__(self, is_4010: bool, cache: dict | None = None):
        self.is_4010 = is_4010
        self.cache = {} if cache is None else cache  # EB readings, shared by the people of one body
        self.ranks = [_NO_RANK] * N_SLOTS  # slot id -> rank of the offer kept
        self.holders: list[int | None] = [None] * N_SLOTS  # slot id -> segment index of the offer kept
        self.values: list = [None] * N_SLOTS  # slot id -> value of the offer kept
        self.filled: list[int] = []
        self.indexes: list[int] = []  # segment index of each EB, in file order
        self.readings: list[EbReading] = []  # its reading
        self.lost_in: dict[int, int] = {}  # index -> the slot id where it first lost
        self.active = False
        self.plan_description: str | None = None  # EB05 of the first active-coverage EB that has one
        self.any_description: str | None = None  # EB05 of the first EB that has one
        self.warnings: list[str] = []
        self.has_units = False  # any remaining-units offer (most people have none)

    # ------------------------------------------------------------------ reading
    def add_all(self, segments: list[Segment]) -> None:
        """Apply the person's EB segments, in file order.  One call per person, so the
        slot lists and the body's readings are looked up once, not per segment."""
        ranks, holders, values, lost_in, filled = self.ranks, self.holders, self.values, self.lost_in, self.filled
        indexes, readings = self.indexes, self.readings
        is_4010, delimiters, known = self.is_4010, None, None
        known_readings: dict[str, EbReading] = {}
        for seg in segments:
            if seg.delimiters is not delimiters:
                delimiters = seg.delimiters
                known = cache_for(self.cache, delimiters, is_4010)
                known_readings = known.readings
            reading = known_readings.get(seg.raw)
            if reading is None:
                reading = read_eb(seg, is_4010, known)
            index = seg.index
            indexes.append(index)
            readings.append(reading)
            if reading.notable:
                self._note(reading)
            for slot, rank, value in reading.offers:
                held = ranks[slot]
                if rank < held:
                    ranks[slot] = rank
                    values[slot] = value
                    if held == _NO_RANK:
                        filled.append(slot)
                    elif holders[slot] not in lost_in:
                        lost_in[holders[slot]] = slot
                    holders[slot] = index
                elif index not in lost_in:
                    lost_in[index] = slot

    def _note(self, reading: EbReading) -> None:
        if reading.description and self.any_description is None:
            self.any_description = reading.description
        if reading.active:
            self.active = True
            if reading.description and self.plan_description is None:
                self.plan_description = reading.description
        if reading.has_units:
            self.has_units = True

    # ------------------------------------------------------------------ results
    def results(self, as_of: str | None) -> Results:
        """Benefits, remaining amounts, accumulators and unmapped segments, in one pass over
        the slots (warnings about them go to ``self.warnings``)."""
        benefits: dict = {}
        remaining: dict = {}
        used: set[int] = set()
        amounts: dict[int, dict[str, tuple[Decimal, int]]] = {}
        level_fields: list[dict | None] = [None] * len(_LEVEL_GROUPS)
        benefit_leaves: list[dict | None] = [None] * len(_LEAVES)
        remaining_leaves: list[dict | None] = [None] * len(_LEAVES)
        holders, values = self.holders, self.values
        for slot_id in self.filled:
            index = holders[slot_id]
            value = values[slot_id]
            kind, group, leaf, network, what, name, tier = _SLOT_PLAN[slot_id]
            if kind is _LEVEL:
                fields = level_fields[group]
                if fields is None:
                    fields = level_fields[group] = {}
                    levels = benefit_leaves[leaf]
                    if levels is None:
                        levels = benefit_leaves[leaf] = _leaf(benefits, network, "levels")
                    levels[what] = fields
                if name == "copay":
                    fields["copay"], fields["copay_unit"] = value
                else:
                    fields[name] = value
                used.add(index)
            elif kind is _AMOUNT:
                found = amounts.get(group)
                if found is None:
                    found = amounts[group] = {}
                found[name] = (value, index)
                if name == _PLAN:
                    amount_leaf = benefit_leaves[leaf]
                    if amount_leaf is None:
                        amount_leaf = benefit_leaves[leaf] = _leaf(benefits, network, what)
                    amount_leaf[tier] = str(value)
                    used.add(index)
                elif name == _REMAINING:
                    amount_leaf = remaining_leaves[leaf]
                    if amount_leaf is None:
                        amount_leaf = remaining_leaves[leaf] = _leaf(remaining, network, what)
                    amount_leaf[tier] = str(value)
                    used.add(index)
            else:  # units remaining
                used.add(index)

        accumulators: dict = {}
        not_needed: set[int] = set()
        for group, found in amounts.items():
            network, what, tier = _AMOUNT_GROUPS[group]
            met, ytd_used = self._met(network, what, tier, found)
            if _YTD in found:
                (used if ytd_used else not_needed).add(found[_YTD][1])
            if met is not None:
                net = accumulators.get(network)
                if net is None:
                    net = accumulators[network] = {}
                net[_MET_FIELD[(what, tier)]] = str(met)
        units = self._units_remaining()
        if units:
            remaining["units"] = {level: value for level, (value, _network) in units.items()}
            units_used = {}
            for level, (left, network) in units.items():
                limit = self._limit(network, level)
                if limit is None:
                    self.warnings.append(f"{level} has {left} units remaining but no limit in this file: units_used is left unset")
                else:
                    units_used[level] = max(limit - left, 0)
            if units_used:
                accumulators["units_used"] = units_used
        if accumulators and as_of is not None:
            accumulators = {"as_of": as_of, **accumulators}
        return Results(benefits, remaining, accumulators, self._unmapped(used, not_needed))

    def _unmapped(self, used: set[int], not_needed: set[int]) -> list[Unmapped]:
        """(canonical segment text, reason) for every EB segment nothing came from."""
        out = []
        for index, reading in zip(self.indexes, self.readings):
            if reading.unmapped is not None:  # a reason of its own: it offered nothing, set no status
                out.append(reading.unmapped)
                continue
            if reading.used_for_status or index in used:
                continue
            if index in not_needed:
                reason = "a year-to-date amount: the plan and remaining amounts already determine the accumulator"
            elif index in self.lost_in:
                slot_id = self.lost_in[index]
                rank = next(rank for slot, rank, _value in reading.offers if slot == slot_id)
                how = "more specific" if self.ranks[slot_id] < rank else "earlier"
                reason = f"superseded by the {how} segment {self.holders[slot_id]} for the same benefit"
            else:
                reason = "nothing in it maps to a benefit"
            out.append(Unmapped(reading.text, reason))
        return out

    def _units_remaining(self) -> dict[str, tuple[int, str]]:
        """Per level, the remaining count and the network it was stated for (in network first)."""
        found: dict[str, tuple[int, str]] = {}
        if not self.has_units:
            return found
        holders = self.holders
        for slot_id, network, level in _UNITS_SLOTS:
            if holders[slot_id] is not None and level not in found:
                found[level] = (self.values[slot_id], network)
        return found

    def _limit(self, network: str, level: str) -> int | None:
        for slot_id in _LIMIT_SLOTS[(network, level)]:
            if self.holders[slot_id] is not None:
                return self.values[slot_id]
        return None

    def _met(self, network: str, kind: str, tier: str, found: dict) -> tuple[Decimal | None, bool]:
        """The met amount for one network × kind × tier, and whether the year-to-date amount gave it."""
        plan, remaining, ytd = found.get(_PLAN), found.get(_REMAINING), found.get(_YTD)
        if plan and remaining:
            met = max(plan[0] - remaining[0], _ZERO)
            if ytd and ytd[0] != met:
                self.warnings.append(
                    f"{_label(network, kind, tier)}: segment {ytd[1]} says {ytd[0]} met year to date, the plan amount less the "
                    f"remaining amount (segment {remaining[1]}) is {met}; the remaining amount is used"
                )
            return cents(met), False
        if ytd:
            return cents(min(ytd[0], plan[0]) if plan else ytd[0]), True
        if remaining:
            self.warnings.append(
                f"{_label(network, kind, tier)}: segment {remaining[1]} gives the remaining amount but this file has no plan amount: "
                "the accumulator is left for the stored plan to determine"
            )
        return None, False


def _label(network: str, kind: str, tier: str) -> str:
    return f"{network.replace('_', '-')} {tier} {'deductible' if kind == 'deductible' else 'out-of-pocket maximum'}"


def _leaf(doc: dict, network: str, what: str) -> dict:
    """``doc[network][what]``, created when missing (without building throwaway dicts)."""
    net = doc.get(network)
    if net is None:
        net = doc[network] = {}
    leaf = net.get(what)
    if leaf is None:
        leaf = net[what] = {}
    return leaf
