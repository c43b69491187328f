"""Bytes → X12 segments: delimiters from each ISA, tolerant of the whitespace real files carry.

The tokenizer is a generator over one decoded string, so a large body is never held
twice as a list of segments; callers cap how many segments they keep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from tariffs.x12.errors import X12Rejected

BOM = "\ufeff"
MAX_SEGMENT_CHARS = 10_000  # an MSG is at most 264 characters; nothing in a 271 is near this
_ISA_ELEMENTS = 16
_ISA_SEARCH_CHARS = 400  # a padded ISA is 106 characters; an unpadded one is shorter
_BLANKS = " \t\r\n"  # not str.strip()'s default: it would also strip the control characters
_WHITESPACE = re.compile(r"[ \t\r\n]*")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")


class Delimiters(NamedTuple):
    element: str
    component: str
    segment: str
    repetition: str | None  # ISA11 in 5010; 4010 has none (ISA11 is the standards id "U")


class Segment(NamedTuple):
    index: int  # 1-based position in the body, counting every segment of every interchange
    id: str
    elements: list[str]  # elements[0] is the segment id, elements[n] is XXn, each stripped
    delimiters: Delimiters
    complete: bool = True  # False for a last segment the body ends inside of

    def get(self, n: int) -> str:
        """Element ``n`` (1-based), "" when absent."""
        return self.elements[n] if n < len(self.elements) else ""

    def repeats(self, n: int) -> list[str]:
        """Element ``n`` split at the repetition separator (5010), blanks dropped."""
        value = self.get(n)
        rep = self.delimiters.repetition
        parts = value.split(rep) if rep and rep in value else [value]
        return [p.strip() for p in parts if p.strip()]

    def canonical(self) -> str:
        """The segment written with ``*`` ``^`` ``:``, so its text does not depend on the
        file's separators; trailing empty elements dropped, as X12 writes them."""
        parts = list(self.elements)
        while len(parts) > 1 and not parts[-1]:
            parts.pop()
        table = self.canonical_table()
        return "*".join(p.translate(table) for p in parts)

    def shown(self, n: int) -> str:
        """Element ``n`` as a message may quote it: with canonical separators."""
        return self.get(n).translate(self.canonical_table())

    def canonical_table(self) -> dict[int, str]:
        d = self.delimiters
        mapping = {d.component: ":"}
        if d.repetition:
            mapping[d.repetition] = "^"
        return str.maketrans(mapping)  # both at once: a file's ":" may be its repetition separator


def safe_segment_id(text: str) -> str | None:
    """The id at the start of ``text`` when it looks like one (never any element data)."""
    m = _SEGMENT_ID.match(text[:3].upper())
    return m.group(0) if m else None


def decode(data: bytes) -> str:
    """X12 is ASCII; names from real payers are UTF-8 or Latin-1."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text[1:] if text.startswith(BOM) else text


def read_isa_delimiters(text: str, pos: int, index: int) -> Delimiters:
    """The delimiters an ISA starting at ``pos`` declares (element = byte 3, component =
    ISA16, segment terminator = the character after ISA16)."""
    element = text[pos + 3] if pos + 3 < len(text) else ""
    if not element or element.isalnum() or element in " \t\r\n":
        raise X12Rejected(
            f"segment {index} (ISA) does not declare an element separator after 'ISA'", index, "ISA"
        )
    window = text[pos : pos + _ISA_SEARCH_CHARS]
    seps = [i for i, c in enumerate(window) if c == element][:_ISA_ELEMENTS]
    if len(seps) < _ISA_ELEMENTS or seps[-1] + 2 >= len(window):
        if len(window) < _ISA_SEARCH_CHARS:
            raise X12Rejected(f"the body is cut in the middle of segment {index} (ISA)", index, "ISA")
        raise X12Rejected(f"segment {index} (ISA) does not have its 16 elements", index, "ISA")
    last = seps[-1]
    component, terminator = window[last + 1], window[last + 2]
    isa11 = window[seps[10] + 1 : seps[11]]
    repetition = isa11 if len(isa11) == 1 and not isa11.isalnum() and isa11 not in (element, component, terminator) else None
    if component == element or terminator in (element, component):
        raise X12Rejected(f"segment {index} (ISA) declares the same character for two separators", index, "ISA")
    return Delimiters(element, component, terminator, repetition)


def iter_segments(text: str) -> Iterator[Segment]:
    """Every segment of ``text`` in order.  Raises X12Rejected when the body is not X12
    (it must start with an ISA) or a segment is absurdly long."""
    pos = _WHITESPACE.match(text).end()
    if not text.startswith("ISA", pos):
        raise X12Rejected("the body is not an X12 interchange: it does not start with an ISA segment", 1, None)
    n = len(text)
    index = 0
    delimiters: Delimiters | None = None
    while True:
        pos = _WHITESPACE.match(text, pos).end()
        if pos >= n:
            return
        index += 1
        if text.startswith("ISA", pos):
            delimiters = read_isa_delimiters(text, pos, index)
        assert delimiters is not None
        end = text.find(delimiters.segment, pos)
        complete = end != -1
        if not complete:
            end = n
        if end - pos > MAX_SEGMENT_CHARS:
            raise X12Rejected(
                f"segment {index} ({safe_segment_id(text[pos:pos + 3]) or 'unknown'}) is longer than "
                f"{MAX_SEGMENT_CHARS} characters: this is not an eligibility response we can read",
                index,
                safe_segment_id(text[pos : pos + 3]),
            )
        raw = text[pos:end]
        pos = end + 1
        if not raw.strip(_BLANKS):  # two terminators in a row: nothing to count
            index -= 1
            continue
        elements = [e.strip(_BLANKS) for e in raw.split(delimiters.element)]
        yield Segment(index, elements[0].upper(), elements, delimiters, complete)
        if not complete:
            return
