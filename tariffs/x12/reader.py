"""X12 271 eligibility responses (4010 ``004010X092A1`` and 5010 ``005010X279A1``) → people.

``read_271(data)`` walks every interchange (ISA/IEA), functional group (GS/GE) and
transaction (ST/SE) in the body and follows the HL hierarchy: 2000A information source
(the payer, its NM1 in 2100A), 2000B receiver, 2000C subscriber, 2000D dependent.  Each
subscriber and dependent becomes a :class:`Person271`; its EB segments (2110 loops, with
their 2120 LS/LE loops skipped) are mapped by :class:`~tariffs.x12.benefits.BenefitCollector`.

Control counts and control numbers are checked but only ever warned about.  The body is
rejected (:class:`X12Rejected`, a 422) when it is empty or not X12, when a transaction is
not a 271, when it ends before its first subscriber, and when the payer answered with
an AAA (request validation) segment.  Limits bound the work a hostile body can cause.
See ``docs/X12.md`` for every mapping decision.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from tariffs.x12 import codes
from tariffs.x12.benefits import BenefitCollector, Unmapped
from tariffs.x12.envelope import Segment, decode, iter_segments, safe_segment_id
from tariffs.x12.errors import X12Rejected

MAX_PEOPLE = 10_000
MAX_TRANSACTIONS = 10_000
MAX_INTERCHANGES = 1_000
MAX_SEGMENTS_PER_LOOP = 5_000  # one HL loop (or envelope stretch) of a real 271 is a few hundred at most
MAX_FILE_WARNINGS = 200
MAX_UNMAPPED_PER_PERSON = 500
MAX_UNMAPPED_PER_BODY = 100_000  # with the caps above, what a body can make us keep is bounded

_MEMBER_ID_QUALIFIERS = frozenset({"MI", "II"})  # member id; unique health identifier
_GROUP_REFS = ("6P", "1L")  # group number, then group or policy number
_PLAN_REF = "18"  # plan number
_AS_OF_DTPS = ("307", "291")  # eligibility, plan


class Person271(msgspec.Struct):
    relationship: Literal["subscriber", "dependent"]
    member_id: str | None
    first_name: str | None
    last_name: str | None
    date_of_birth: dt.date | None
    payer_name: str | None
    plan_name: str | None
    group_number: str | None
    status: Literal["active", "inactive"]
    as_of: dt.date | None
    benefits: dict
    remaining: dict
    accumulators: dict
    unmapped: list[Unmapped]
    warnings: list[str]

    def __repr__(self) -> str:  # member ids, names and dates of birth are PHI: never in a repr
        return (
            f"Person271(relationship={self.relationship!r}, status={self.status!r}, as_of={self.as_of!r}, "
            f"payer_name={self.payer_name!r}, plan_name={self.plan_name!r}, member_id=<redacted>, "
            f"name=<redacted>, date_of_birth=<redacted>, benefits={self.benefits!r}, "
            f"unmapped={len(self.unmapped)}, warnings={self.warnings!r})"
        )

    __str__ = __repr__


class Eligibility271(msgspec.Struct):
    version: str
    people: list[Person271]
    warnings: list[str]


def read_271(data: bytes) -> Eligibility271:
    """Read a 271 body.  Raises :class:`X12Rejected` for the cases listed in the module doc."""
    if not isinstance(data, bytes):
        data = bytes(data)  # a bytearray or memoryview from the HTTP layer
    if not data.strip():
        raise X12Rejected("the body is empty: an X12 271 eligibility response was expected")
    text = decode(data)
    if not text.strip():
        raise X12Rejected("the body is empty: an X12 271 eligibility response was expected")
    return _Reader().read(text)


# --------------------------------------------------------------------------- one person's loop


class _PersonLoop:
    def __init__(self, relationship: str, hl_id: str, start: int, is_4010: bool, bht_date, payer_name,
                 subscriber: _PersonLoop | None, eb_cache: dict):
        self.relationship = relationship
        self.hl_id = hl_id
        self.start = start
        self.bht_date: dt.date | None = bht_date
        self.payer_name: str | None = payer_name
        self.subscriber = subscriber
        self.collector = BenefitCollector(is_4010, cache=eb_cache)
        self.eb_segments: list[Segment] = []  # for the collector, at the end of the loop
        self.member_id: str | None = None
        self.first_name: str | None = None
        self.last_name: str | None = None
        self.date_of_birth: dt.date | None = None
        self.named = False
        self.group_number: tuple[int, str] | None = None  # (preference, value)
        self.plan_ref: str | None = None
        self.as_of: dict[str, dt.date] = {}
        self.in_benefits = False  # past the first EB: 2110 loop segments
        self.in_related_entity = False  # inside LS/LE (2120)
        self.warnings: list[str] = []

    def segment(self, seg: Segment, bht_date: dt.date | None) -> None:
        sid = seg.id
        if self.in_related_entity:
            if sid == "LE":
                self.in_related_entity = False
        elif sid == "EB":
            self.in_benefits = True
            self.eb_segments.append(seg)
        elif sid == "LS":
            self.in_related_entity = True
        elif self.in_benefits:
            return  # HSD, REF, DTP, MSG... of a 2110 loop describe that benefit; see docs/X12.md
        elif sid == "NM1":
            self._name(seg)
        elif sid == "REF":
            self._reference(seg)
        elif sid == "DMG":
            self._demographics(seg)
        elif sid == "DTP":
            self._date(seg, bht_date)

    def _name(self, seg: Segment) -> None:
        if self.named:
            return
        self.named = True
        self.last_name = seg.get(3) or None
        self.first_name = seg.get(4) or None
        if seg.get(8).upper() in _MEMBER_ID_QUALIFIERS and seg.get(9):
            self.member_id = seg.get(9)

    def _reference(self, seg: Segment) -> None:
        qualifier, value = seg.get(1).upper(), seg.get(2)
        if not value:
            return
        if qualifier in _GROUP_REFS:
            preference = _GROUP_REFS.index(qualifier)
            if self.group_number is None or preference < self.group_number[0]:
                self.group_number = (preference, value)
        elif qualifier == _PLAN_REF and self.plan_ref is None:
            self.plan_ref = seg.get(3) or value

    def _demographics(self, seg: Segment) -> None:
        if seg.get(1).upper() != "D8" or not seg.get(2):
            return
        born = parse_d8(seg.get(2))
        if born is None:
            self.warnings.append(f"DMG02 (date of birth) at segment {seg.index} is not a CCYYMMDD date; it is left out")
        else:
            self.date_of_birth = born

    def _date(self, seg: Segment, bht_date: dt.date | None) -> None:
        qualifier = seg.get(1)
        if qualifier not in _AS_OF_DTPS or qualifier in self.as_of:
            return
        value = dtp_date(seg.get(2).upper(), seg.get(3), bht_date)
        if value is None:
            self.warnings.append(f"DTP {qualifier} at segment {seg.index} has no readable date; it is not used")
        else:
            self.as_of[qualifier] = value

    def finish(self, unmapped_room: int) -> Person271:
        self.collector.add_all(self.eb_segments)
        self.eb_segments = []  # a subscriber is kept for its dependents: not its segments
        sub = self.subscriber
        own_plan = self.collector.plan_description or self.collector.any_description or self.plan_ref
        member_id = self.member_id or (sub.member_id if sub else None)
        plan_name = own_plan or (sub.plan_name if sub else None)
        group_number = self.group_number[1] if self.group_number else (sub.group_number_value if sub else None)
        as_of = next((self.as_of[q] for q in _AS_OF_DTPS if q in self.as_of), self.bht_date)
        # kept for the dependents that inherit from this subscriber
        self.plan_name, self.group_number_value = plan_name, group_number
        warnings = list(self.warnings)
        if sub is None and self.relationship == "dependent":
            warnings.append(f"the dependent loop at segment {self.start} has no subscriber above it")
        if not self.collector.indexes:
            warnings.append(f"the {self.relationship} loop at segment {self.start} has no EB (benefit) segments: "
                            "its status is inactive only because no segment says it is active")
        results = self.collector.results(as_of.isoformat() if as_of else None)
        warnings.extend(self.collector.warnings)
        unmapped = results.unmapped
        if len(unmapped) > unmapped_room:
            warnings.append(f"{len(unmapped) - unmapped_room} more unmapped EB segments were not kept "
                            f"(at most {MAX_UNMAPPED_PER_PERSON} per person, {MAX_UNMAPPED_PER_BODY} per body)")
            unmapped = unmapped[:unmapped_room]
        return Person271(
            relationship=self.relationship,  # type: ignore[arg-type]
            member_id=member_id,
            first_name=self.first_name,
            last_name=self.last_name,
            date_of_birth=self.date_of_birth,
            payer_name=self.payer_name,
            plan_name=plan_name,
            group_number=group_number,
            status="active" if self.collector.active else "inactive",
            as_of=as_of,
            benefits=results.benefits,
            remaining=results.remaining,
            accumulators=results.accumulators,
            unmapped=unmapped,
            warnings=warnings,
        )


def parse_d8(text: str) -> dt.date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def dtp_date(fmt: str, text: str, bht_date: dt.date | None) -> dt.date | None:
    """A D8 date, or for an RD8 range the response date (BHT04) kept inside the range."""
    if fmt == "D8":
        return parse_d8(text)
    if fmt == "RD8":
        start_text, _, end_text = text.partition("-")
        start, end = parse_d8(start_text), parse_d8(end_text)
        if start is None or end is None:
            return None
        if bht_date is None:
            return start
        return min(max(bht_date, start), end)
    return None


# --------------------------------------------------------------------------- the walk


class _Reader:
    def __init__(self) -> None:
        self.people: list[Person271] = []
        self.warnings: list[str] = []
        self.versions: list[str] = []
        self.interchanges = 0
        self.transactions = 0
        self.loop_start = 0  # the position before the current loop's first segment
        self.last: Segment | None = None
        # open envelopes: [start index, control number, count of children] (an ST's segments are counted at its SE)
        self.isa: list | None = None
        self.gs: list | None = None
        self.st: list | None = None
        self.isa_version = ""
        self.gs_version = ""
        self.tx_version = ""
        self.bht_date: dt.date | None = None
        self.level: str | None = None
        self.payer_name: str | None = None
        self.person: _PersonLoop | None = None
        self.subscribers: dict[str, _PersonLoop] = {}
        self.last_subscriber: _PersonLoop | None = None
        self.eb_cache: dict = {}  # readings of the EB segments seen in this body
        self.unmapped_kept = 0

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_FILE_WARNINGS:
            self.warnings.append(message)
        elif len(self.warnings) == MAX_FILE_WARNINGS:
            self.warnings.append("more warnings were left out")

    def read(self, text: str) -> Eligibility271:
        handlers = {sid: getattr(self, "_" + sid.lower()) for sid in _ENVELOPE_AND_HIERARCHY}
        # Per segment only what the EB path needs; the transaction's segment count and the
        # loop's length follow from segment positions (every non-empty segment has one).
        read = None
        for seg in iter_segments(text):
            if not seg.complete and not (seg.id == "IEA" and len(seg.elements) >= 3):
                self._cut(seg)
                break
            read = seg
            if seg.index - self.loop_start > MAX_SEGMENTS_PER_LOOP:
                self._too_many_in_loop(seg)
            sid = seg.id
            person = self.person
            if person is not None and not person.in_related_entity:
                if sid == "EB":  # most segments
                    person.in_benefits = True
                    person.eb_segments.append(seg)
                    continue
                if person.in_benefits and sid not in _READ_IN_BENEFITS:
                    continue  # the HSD, MSG, DTP, REF... of a 2110 loop describe that benefit (docs/X12.md)
            self.last = seg
            handler = handlers.get(sid)
            if handler is not None:
                handler(seg)
            elif person is not None:
                person.segment(seg, self.bht_date)
            elif seg.id == "NM1" and self.level == "20" and self.payer_name is None:
                self.payer_name = seg.get(3) or None
            elif seg.id == "EB":
                self.warn(f"the EB segment at segment {seg.index} is outside any subscriber or dependent loop; it is ignored")
        if read is not None:
            self.last = read
        self._end_of_body()
        if not self.people:
            last = self.last
            sid = safe_segment_id(last.id) if last else None
            where = f"at segment {last.index} ({sid or 'unknown'})" if last else "before any segment"
            raise X12Rejected(
                f"the 271 ends {where} before its first subscriber (HL level 22): no person to verify",
                last.index if last else None,
                sid,
            )
        version = self.versions[0] if self.versions else self.isa_version
        if len(set(self.versions)) > 1:
            self.warn(f"mixed envelope versions: {', '.join(dict.fromkeys(self.versions))}")
        return Eligibility271(version=version, people=self.people, warnings=self.warnings)

    # ------------------------------------------------------------------ limits and truncation
    def _too_many_in_loop(self, seg: Segment) -> None:
        sid = safe_segment_id(seg.id)
        raise X12Rejected(
            f"segment {seg.index} ({sid or 'unknown'}): more than {MAX_SEGMENTS_PER_LOOP} segments in one loop; "
            "this is not an eligibility response we can read",
            seg.index,
            sid,
        )

    def _cut(self, seg: Segment) -> None:
        sid = safe_segment_id(seg.elements[0]) if seg.elements else None
        named = f"segment {seg.index} ({sid})" if sid else f"segment {seg.index}"
        if not self.people and self.person is None:
            raise X12Rejected(f"the body is cut in the middle of {named}, before its first subscriber", seg.index, sid)
        self.warn(f"the body is cut in the middle of {named}; that segment is ignored")
        if self.person is not None:
            self.person.warnings.append(
                f"this loop is cut off by the end of the body at segment {seg.index}: benefits after it are missing"
            )

    def _end_of_body(self) -> None:
        self._close_person()
        last = self.last.index if self.last else 0
        if self.st is not None:
            self.warn(f"the transaction starting at segment {self.st[0]} has no SE: the body ends at segment {last}")
            self.st = None
        if self.gs is not None:
            self.warn(f"the functional group starting at segment {self.gs[0]} has no GE")
            self.gs = None
        if self.isa is not None:
            self.warn(f"the interchange starting at segment {self.isa[0]} has no IEA")
            self.isa = None

    # ------------------------------------------------------------------ envelopes
    def _isa(self, seg: Segment) -> None:
        self.loop_start = seg.index - 1
        if self.isa is not None:
            self._end_of_body()
        self.interchanges += 1
        if self.interchanges > MAX_INTERCHANGES:
            raise X12Rejected(f"segment {seg.index} (ISA): more than {MAX_INTERCHANGES} interchanges in one body", seg.index, "ISA")
        self.isa = [seg.index, seg.get(13), 0]
        self.isa_version = seg.get(12)

    def _gs(self, seg: Segment) -> None:
        if self.gs is not None:
            self.warn(f"the functional group starting at segment {self.gs[0]} has no GE")
        if self.isa is not None:
            self.isa[2] += 1
        self.gs = [seg.index, seg.get(6), 0]
        self.gs_version = seg.get(8)

    def _st(self, seg: Segment) -> None:
        self.loop_start = seg.index - 1
        if seg.get(1) != "271":
            st01 = seg.get(1)
            shown = st01 if st01.isalnum() and len(st01) <= 3 else "?"
            raise X12Rejected(
                f"ST*{shown} at segment {seg.index}: the transaction is a {shown}, not a 271 eligibility response",
                seg.index,
                "ST",
            )
        if self.st is not None:
            self._close_transaction(None)
        self.transactions += 1
        if self.transactions > MAX_TRANSACTIONS:
            raise X12Rejected(f"segment {seg.index} (ST): more than {MAX_TRANSACTIONS} transactions in one body", seg.index, "ST")
        if self.gs is not None:
            self.gs[2] += 1
        self.st = [seg.index, seg.get(2), 1]
        self.tx_version = seg.get(3) or self.gs_version or self.isa_version
        versions = {v for v in (seg.get(3), self.gs_version) if v}
        if len(versions) > 1:
            self.warn(f"mixed envelope versions in the transaction at segment {seg.index}: ST03 {seg.get(3)}, GS08 {self.gs_version}")
        if self.isa_version and self.tx_version and self.isa_version[:4] != self.tx_version[:4]:
            self.warn(f"mixed envelope versions: ISA12 {self.isa_version} with {self.tx_version} in the transaction at segment {seg.index}")
        self.versions.append(self.tx_version)
        self.bht_date = None
        self.level = None
        self.payer_name = None
        self.subscribers = {}
        self.last_subscriber = None

    def _bht(self, seg: Segment) -> None:
        self.bht_date = parse_d8(seg.get(4))

    def _se(self, seg: Segment) -> None:
        self._close_transaction(seg)

    def _close_transaction(self, se: Segment | None) -> None:
        self._close_person()
        if self.st is None:
            if se is not None:
                self.warn(f"SE at segment {se.index} closes no transaction")
            return
        if se is None:
            self.warn(f"the transaction starting at segment {self.st[0]} has no SE")
        else:
            self.st[2] = se.index - self.st[0] + 1  # ST to SE inclusive
            self._check_trailer(se, self.st, "ST02", "segments")
        self.st = None
        self.level = None

    def _ge(self, seg: Segment) -> None:
        if self.st is not None:
            self._close_transaction(None)
        if self.gs is None:
            self.warn(f"GE at segment {seg.index} closes no functional group")
            return
        self._check_trailer(seg, self.gs, "GS06", "transactions")
        self.gs = None

    def _iea(self, seg: Segment) -> None:
        if self.gs is not None:
            self._ge_missing()
        if self.isa is None:
            self.warn(f"IEA at segment {seg.index} closes no interchange")
            return
        self._check_trailer(seg, self.isa, "ISA13", "functional groups")
        self.isa = None

    def _check_trailer(self, trailer: Segment, opened: list, header_control: str, what: str) -> None:
        """A trailer's count (XX01) and control number (XX02) against its header: warnings only."""
        _start, control, counted = opened
        name, stated = trailer.id, trailer.get(1)
        if not stated.isdigit():
            self.warn(f"{name}01 at segment {trailer.index} is not a number; the {what} were counted: {counted}")
        elif int(stated) != counted:
            scope = "transaction" if name == "SE" else "envelope"
            self.warn(f"{name}01 at segment {trailer.index} says {int(stated)} {what}, the {scope} has {counted}")
        if _plain(trailer.get(2)) != _plain(control):
            self.warn(f"{name}02 at segment {trailer.index} ({_shown(trailer.get(2))}) does not match "
                      f"{header_control} ({_shown(control)})")

    def _ge_missing(self) -> None:
        if self.st is not None:
            self._close_transaction(None)
        self.warn(f"the functional group starting at segment {self.gs[0]} has no GE")
        self.gs = None

    # ------------------------------------------------------------------ hierarchy
    def _hl(self, seg: Segment) -> None:
        self.loop_start = seg.index - 1
        self._close_person()
        hl_id, parent, level = seg.get(1), seg.get(2), seg.get(3)
        self.level = level
        if level == "20":
            self.payer_name = None
        elif level in ("22", "23"):
            if len(self.people) >= MAX_PEOPLE:
                raise X12Rejected(f"segment {seg.index} (HL): more than {MAX_PEOPLE} people in one body", seg.index, "HL")
            is_4010 = self.tx_version.startswith("0040") or (not self.tx_version and self.isa_version.startswith("0040"))
            if level == "22":
                self.person = _PersonLoop("subscriber", hl_id, seg.index, is_4010, self.bht_date, self.payer_name, None,
                                          self.eb_cache)
                self.subscribers[hl_id] = self.person
                self.last_subscriber = self.person
            else:
                subscriber = self.subscribers.get(parent) or self.last_subscriber
                self.person = _PersonLoop("dependent", hl_id, seg.index, is_4010, self.bht_date, self.payer_name, subscriber,
                                          self.eb_cache)
        # other levels (e.g. 19, 24): their segments are ignored

    def _close_person(self) -> None:
        if self.person is not None:
            room = min(MAX_UNMAPPED_PER_PERSON, MAX_UNMAPPED_PER_BODY - self.unmapped_kept)
            person = self.person.finish(room)
            self.unmapped_kept += len(person.unmapped)
            self.people.append(person)
            self.person = None

    def _aaa(self, seg: Segment) -> None:
        code = seg.get(3).upper()
        code = code if code.isalnum() and len(code) <= 3 else ""
        parts = [p.upper() if not p or (p.isalnum() and len(p) <= 3) else "?" for p in seg.elements[1:5]]
        while parts and not parts[-1]:
            parts.pop()
        text = "*".join(["AAA", *parts])
        where = {
            "22": " for the subscriber",
            "23": " for the dependent",
            "20": " at the information source (payer) level",
            "21": " at the information receiver (provider) level",
        }.get(self.level or "", "")
        meaning = codes.REJECT_REASONS.get(code, "reason code not recognised")
        raise X12Rejected(
            f"{text} at segment {seg.index}: the payer rejected the request{where}: {code or '(no code)'} {meaning}",
            seg.index,
            "AAA",
            code or None,
        )


_ENVELOPE_AND_HIERARCHY = frozenset({"ISA", "GS", "ST", "BHT", "SE", "GE", "IEA", "HL", "AAA"})
_READ_IN_BENEFITS = _ENVELOPE_AND_HIERARCHY | {"LS"}  # what a person's 2110 part is not blind to


def _plain(control: str) -> str:
    """Control numbers compare as numbers when they are (ISA13 is zero-padded, ST02 not)."""
    return control.lstrip("0") or "0" if control.isdigit() else control


def _shown(value: str) -> str:
    return value if value.isalnum() and len(value) <= 15 else "?"
