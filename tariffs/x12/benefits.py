"""One person's EB segments → a partial benefits document, remaining amounts and accumulators.

Every value an EB segment states is *offered* to a slot (network × level × field, or
network × deductible/oop × tier × period).  A slot keeps the most specific offer; on a
tie, the first in the file.  Afterwards every EB segment that neither set the status nor
won a slot is reported as unmapped, with the reason it was not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from costsvc.domain.model import LEVELS_OF_CARE
from costsvc.domain.money import AmountSyntaxError, cents, parse_amount, plain
from tariffs.x12 import codes
from tariffs.x12.envelope import Segment

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


class Unusable(Exception):
    """Why an EB segment cannot be mapped (a sentence fragment without PHI: EBs carry none)."""


@dataclass(slots=True)
class _Offer:
    rank: int
    segment_index: int
    value: object


@dataclass(slots=True)
class _Eb:
    segment: Segment
    reason: str | None = None  # set when the segment offered nothing
    used_for_status: bool = False
    lost_in: tuple[tuple, int] | None = None  # (slot, own rank) of the first slot another segment kept


def x12_number(text: str, places: int) -> Decimal:
    """An X12 ``R`` value: ``.2`` and ``10.00`` are both written; no sign, no exponent."""
    if text.startswith("."):
        text = "0" + text
    return parse_amount(text, places=places)


@dataclass
class BenefitCollector:
    is_4010: bool
    slots: dict[tuple, _Offer] = field(default_factory=dict)
    ebs: list[_Eb] = field(default_factory=list)
    by_index: dict[int, _Eb] = field(default_factory=dict)
    active: bool = False
    plan_description: str | None = None  # EB05 of the first active-coverage EB that has one
    any_description: str | None = None  # EB05 of the first EB that has one
    warnings: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ reading
    def add(self, seg: Segment) -> None:
        eb = _Eb(seg)
        self.ebs.append(eb)
        self.by_index[seg.index] = eb
        eb01 = seg.get(1).upper()
        description = seg.get(5)
        if description and self.any_description is None:
            self.any_description = description
        if eb01 in codes.STATUS_EB01:
            eb.used_for_status = True
            if eb01 == codes.ACTIVE_EB01:
                self.active = True
                if description and self.plan_description is None:
                    self.plan_description = description
        try:
            networks = self._networks(seg)
            if eb01 in _AMOUNT_KIND:
                self._plan_amount(seg, eb01, networks)
                return
            if eb01 not in _LEVEL_FIELD_EB01:
                if not eb.used_for_status:
                    raise Unusable(f"EB01 {seg.shown(1) or '(blank)'} ({codes.EB01_NAMES.get(eb01, 'unknown code')}) is not a benefit an estimate uses")
                return
            targets = self._levels(seg)
            offered = self._level_fields(seg, eb01, networks, targets)
            offered |= self._prior_auth(seg, networks, targets)
            if not offered and not eb.used_for_status:
                raise Unusable(self._why_nothing(seg, eb01))
        except Unusable as why:
            if not eb.used_for_status:
                eb.reason = str(why)

    def _networks(self, seg: Segment) -> tuple[str, ...]:
        eb12 = seg.get(12).upper()
        if eb12 not in _NETWORK_OF_EB12:
            raise Unusable(f"EB12 {seg.shown(12)} is not a network indicator (Y, N, W)")
        return _NETWORK_OF_EB12[eb12]

    def _levels(self, seg: Segment) -> list[tuple[str, int]]:
        """(level, rank) for each level the segment's service types reach, the best rank per level."""
        best: dict[str, int] = {}
        unknown: list[str] = []
        missing_in_4010: list[str] = []
        for code in seg.repeats(3) or [codes.PLAN_WIDE_SERVICE_TYPE]:
            code = code.upper().translate(seg.canonical_table())
            if self.is_4010 and code in codes.SERVICE_TYPES_NOT_IN_4010:
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
        if not best:
            parts = []
            if unknown:
                parts.append(f"service type{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                             f"{'are' if len(unknown) > 1 else 'is'} not behavioral")
            if missing_in_4010:
                parts.append(f"service type {', '.join(missing_in_4010)} does not exist in 4010")
            raise Unusable("; ".join(parts))
        return [(level, best[level]) for level in LEVELS_OF_CARE if level in best]

    def _level_fields(self, seg: Segment, eb01: str, networks, targets) -> bool:
        if eb01 == "1":
            return self._offer_levels(networks, targets, "covered", seg, True)
        if eb01 == "I":
            return self._offer_levels(networks, targets, "covered", seg, False)
        if eb01 == "A":
            text = seg.get(8)
            if not text:
                return False
            try:
                fraction = x12_number(text, places=6)
            except AmountSyntaxError as e:
                raise Unusable(f"EB08 (coinsurance fraction) {e.reason}") from None
            if fraction > 1:
                raise Unusable("EB08 (coinsurance) is above 1, and a fraction is expected (.2 = 20 %)")
            return self._offer_levels(networks, targets, "coinsurance_pct", seg, str(plain(fraction * 100)))
        if eb01 == "B":
            if not seg.get(7):
                return False
            period = seg.get(6)
            if period not in codes.COPAY_UNITS:
                raise Unusable(f"EB06 {seg.shown(6)} ({codes.TIME_PERIODS.get(period, 'unknown period')}) is not a copay unit (visit, day, episode, admission)")
            amount = self._amount(seg, 7)
            return self._offer_levels(networks, targets, "copay", seg, (str(cents(amount)), codes.COPAY_UNITS[period]))
        # F: a limitation counted in days or visits
        quantity, count = seg.get(9).upper(), seg.get(10)
        if quantity not in codes.LIMIT_QUANTITIES or not count:
            return False
        try:
            units = x12_number(count, places=0)
        except AmountSyntaxError as e:
            raise Unusable(f"EB10 (quantity) {e.reason}") from None
        period = seg.get(6)
        if period == codes.REMAINING:
            return self._offer_each(networks, targets, "units_remaining", seg, int(units))
        if period not in codes.PLAN_YEAR_PERIODS:
            raise Unusable(f"EB06 {seg.shown(6)} ({codes.TIME_PERIODS.get(period, 'unknown period')}) is not a plan-year limit")
        return self._offer_levels(networks, targets, "limit_units", seg, int(units))

    def _why_nothing(self, seg: Segment, eb01: str) -> str:
        if eb01 == "A":
            return "coinsurance without a fraction (EB08)"
        if eb01 == "B":
            return "copay without an amount (EB07)"
        return "limitation without a count of days or visits (EB09 DY/VS with EB10)"

    def _prior_auth(self, seg: Segment, networks, targets) -> bool:
        eb11 = seg.get(11).upper()
        if eb11 not in ("Y", "N"):
            return False
        return self._offer_levels(networks, targets, "prior_auth", seg, eb11 == "Y")

    def _plan_amount(self, seg: Segment, eb01: str, networks) -> None:
        kind = _AMOUNT_KIND[eb01]
        service_types = [c.upper().translate(seg.canonical_table()) for c in seg.repeats(3)] or [codes.PLAN_WIDE_SERVICE_TYPE]
        if codes.PLAN_WIDE_SERVICE_TYPE not in service_types:
            raise Unusable(
                f"a {'deductible' if kind == 'deductible' else 'out-of-pocket amount'} for service type "
                f"{', '.join(service_types)}: only plan-wide amounts (service type 30) have a place in the benefits"
            )
        eb02 = seg.get(2).upper()
        if eb02 not in _TIER_OF_EB02:
            raise Unusable(f"EB02 {seg.shown(2)} is neither an individual (IND) nor a family (FAM) amount")
        tier = _TIER_OF_EB02[eb02]
        period = seg.get(6)
        if period == codes.REMAINING:
            which = _REMAINING
        elif period == codes.YEAR_TO_DATE:
            which = _YTD
        elif period in codes.PLAN_YEAR_PERIODS:
            which = _PLAN
        else:
            raise Unusable(f"EB06 {seg.shown(6)} ({codes.TIME_PERIODS.get(period, 'unknown period')}) is not a plan-year amount")
        if not seg.get(7):
            raise Unusable("no amount (EB07)")
        amount = cents(self._amount(seg, 7))
        for network in networks:
            self._offer(("amount", network, kind, tier, which), _PLAN_AMOUNT_RANK, seg, amount)

    @staticmethod
    def _amount(seg: Segment, n: int) -> Decimal:
        try:
            return x12_number(seg.get(n), places=2)
        except AmountSyntaxError as e:
            raise Unusable(f"EB{n:02d} (amount) {e.reason}") from None

    # ------------------------------------------------------------------ slots
    def _offer_levels(self, networks, targets, name: str, seg: Segment, value) -> bool:
        for network in networks:
            for level, rank in targets:
                self._offer(("level", network, level, name), rank, seg, value)
        return True

    def _offer_each(self, networks, targets, name: str, seg: Segment, value) -> bool:
        for network in networks:
            for level, rank in targets:
                self._offer((name, network, level), rank, seg, value)
        return True

    def _offer(self, slot: tuple, rank: int, seg: Segment, value) -> None:
        held = self.slots.get(slot)
        if held is None or rank < held.rank:
            self.slots[slot] = _Offer(rank, seg.index, value)
            if held is not None:
                self._lost(held.segment_index, slot, held.rank)
        else:
            self._lost(seg.index, slot, rank)

    def _lost(self, segment_index: int, slot: tuple, rank: int) -> None:
        eb = self.by_index[segment_index]
        if eb.lost_in is None:
            eb.lost_in = (slot, rank)

    # ------------------------------------------------------------------ results
    def unmapped(self) -> list[tuple[str, str]]:
        """(canonical segment text, reason) for every EB segment nothing came from."""
        winners: set[int] = set()
        not_needed: set[int] = set()
        for slot, offer in self.slots.items():
            if slot[0] == "amount" and slot[4] == _YTD and self._met_source(*slot[1:4]) != _YTD:
                not_needed.add(offer.segment_index)
            else:
                winners.add(offer.segment_index)
        out = []
        for eb in self.ebs:
            index = eb.segment.index
            if eb.used_for_status or index in winners:
                continue
            if eb.reason:
                reason = eb.reason
            elif index in not_needed:
                reason = "a year-to-date amount: the plan and remaining amounts already determine the accumulator"
            elif eb.lost_in is not None:
                slot, rank = eb.lost_in
                winner = self.slots[slot]
                how = "more specific" if winner.rank < rank else "earlier"
                reason = f"superseded by the {how} segment {winner.segment_index} for the same benefit"
            else:
                reason = "nothing in it maps to a benefit"
            out.append((eb.segment.canonical(), reason))
        return out

    def _amount_of(self, network: str, kind: str, tier: str, which: str) -> tuple[Decimal, int] | None:
        offer = self.slots.get(("amount", network, kind, tier, which))
        return (offer.value, offer.segment_index) if offer else None

    def _met_source(self, network: str, kind: str, tier: str) -> str | None:
        plan = self._amount_of(network, kind, tier, _PLAN)
        remaining = self._amount_of(network, kind, tier, _REMAINING)
        if plan and remaining:
            return _REMAINING
        if self._amount_of(network, kind, tier, _YTD):
            return _YTD
        return None

    def benefits(self) -> dict:
        """The partial benefits document: only what the segments state (one pass over the slots)."""
        doc: dict = {}
        for slot, offer in self.slots.items():
            if slot[0] == "level":
                _, network, level, name = slot
                fields = doc.setdefault(network, {}).setdefault("levels", {}).setdefault(level, {})
                if name == "copay":
                    fields["copay"], fields["copay_unit"] = offer.value
                else:
                    fields[name] = offer.value
            elif slot[0] == "amount" and slot[4] == _PLAN:
                _, network, kind, tier, _which = slot
                doc.setdefault(network, {}).setdefault(kind, {})[tier] = str(offer.value)
        return doc

    def remaining(self) -> dict:
        doc: dict = {}
        for slot, offer in self.slots.items():
            if slot[0] == "amount" and slot[4] == _REMAINING:
                _, network, kind, tier, _which = slot
                doc.setdefault(network, {}).setdefault(kind, {})[tier] = str(offer.value)
        units = self._units_remaining()
        if units:
            doc["units"] = {level: value for level, (value, _network) in units.items()}
        return doc

    def _units_remaining(self) -> dict[str, tuple[int, str]]:
        """Per level, the remaining count and the network it was stated for (in network first)."""
        found: dict[str, tuple[int, str]] = {}
        for network in NETWORKS:
            for slot, offer in self.slots.items():
                if slot[0] == "units_remaining" and slot[1] == network and slot[2] not in found:
                    found[slot[2]] = (offer.value, network)
        return found

    def accumulators(self, as_of: str | None) -> dict:
        doc: dict = {}
        stated = dict.fromkeys(slot[1:4] for slot in self.slots if slot[0] == "amount")
        for network, kind, tier in stated:
            met = self._met(network, kind, tier)
            if met is not None:
                doc.setdefault(network, {})[_MET_FIELD[(kind, tier)]] = str(met)
        units_used = {}
        for level, (remaining, network) in self._units_remaining().items():
            limit = self._limit(network, level)
            if limit is None:
                self.warnings.append(f"{level} has {remaining} units remaining but no limit in this file: units_used is left unset")
            else:
                units_used[level] = max(limit - remaining, 0)
        if units_used:
            doc["units_used"] = units_used
        if doc and as_of is not None:
            doc = {"as_of": as_of, **doc}
        return doc

    def _limit(self, network: str, level: str) -> int | None:
        for net in (network, *(n for n in NETWORKS if n != network)):
            offer = self.slots.get(("level", net, level, "limit_units"))
            if offer is not None:
                return offer.value
        return None

    def _met(self, network: str, kind: str, tier: str) -> Decimal | None:
        plan = self._amount_of(network, kind, tier, _PLAN)
        remaining = self._amount_of(network, kind, tier, _REMAINING)
        ytd = self._amount_of(network, kind, tier, _YTD)
        label = f"{network.replace('_', '-')} {tier} {'deductible' if kind == 'deductible' else 'out-of-pocket maximum'}"
        if plan and remaining:
            met = max(plan[0] - remaining[0], Decimal("0.00"))
            if ytd and ytd[0] != met:
                self.warnings.append(
                    f"{label}: segment {ytd[1]} says {ytd[0]} met year to date, the plan amount less the "
                    f"remaining amount (segment {remaining[1]}) is {met}; the remaining amount is used"
                )
            return cents(met)
        if ytd:
            return cents(min(ytd[0], plan[0]) if plan else ytd[0])
        if remaining:
            self.warnings.append(
                f"{label}: segment {remaining[1]} gives the remaining amount but this file has no plan amount: "
                "the accumulator is left for the stored plan to determine"
            )
        return None
