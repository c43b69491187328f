"""Bytes → X12 segments: delimiters from each ISA, tolerant of the whitespace real files carry.

The tokenizer is a generator over one decoded string, so a large body is never held
twice as a list of segments; callers cap how many segments they keep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

import msgspec

from tariffs.x12.errors import X12Rejected

BOM = "\ufeff"
MAX_SEGMENT_CHARS = 10_000  # an MSG is at most 264 characters; nothing in a 271 is near this
_WINDOW = 1 << 20  # characters split at a time
_ISA_ELEMENTS = 16
_MAX_IDS = 200  # segment ids (as written) the tokenizer remembers per body
_ISA_SEARCH_CHARS = 400  # a padded ISA is 106 characters; an unpadded one is shorter
_BLANKS = " \t\r\n"  # not str.strip()'s default: it would also strip the control characters
_WHITESPACE = re.compile(r"[ \t\r\n]*")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")


class Delimiters(NamedTuple):
    element: str
    component: str
    segment: str
    repetition: str | None  # ISA11 in 5010; 4010 has none (ISA11 is the standards id "U")


class Segment(msgspec.Struct, gc=False):
    """One segment.  Its elements are split only when first asked for: most segments of a
    271 (MSG, N3, TRN, repeated EB lines) are never looked into.

    A Struct because a body makes one per segment: built in C, and not tracked by the
    cyclic garbage collector (``gc=False``: a segment refers only to strings, its
    delimiters and its own list of element strings, so it can be in no cycle)."""

    index: int  # 1-based position in the body, counting every segment of every interchange
    id: str
    raw: str  # the segment's text without its terminator and surrounding whitespace
    delimiters: Delimiters
    complete: bool = True  # False for a last segment the body ends inside of
    _elements: list[str] | None = None

    @property
    def elements(self) -> list[str]:
        """elements[0] is the segment id, elements[n] is XXn, each stripped of blanks."""
        elements = self._elements
        if elements is None:
            raw, element = self.raw, self.delimiters.element
            elements = raw.split(element)
            if (" " in raw or "\t" in raw) and (element + " " in raw or " " + element in raw
                                                or element + "\t" in raw or "\t" + element in raw):
                elements = [e.strip(_BLANKS) for e in elements]
            self._elements = elements
        return elements

    def __repr__(self) -> str:  # the text may hold PHI (NM1, DMG): only the id and position
        return f"Segment({self.index}, {self.id!r})"

    def get(self, n: int) -> str:
        """Element ``n`` (1-based), "" when absent."""
        elements = self._elements
        if elements is None:
            elements = self.elements
        return elements[n] if n < len(elements) else ""

    def repeats(self, n: int) -> list[str]:
        """Element ``n`` split at the repetition separator (5010), blanks dropped."""
        value = self.get(n)
        rep = self.delimiters.repetition
        parts = value.split(rep) if rep and rep in value else [value]
        return [p.strip() for p in parts if p.strip()]

    def canonical(self) -> str:
        """The segment written with ``*`` ``^`` ``:``, so its text does not depend on the
        file's separators; trailing empty elements dropped, as X12 writes them."""
        d = self.delimiters
        raw = self.raw
        canonical_inside = d.component == ":" and d.repetition in ("^", None)
        if canonical_inside and d.element == "*" and " " not in raw and "\t" not in raw:
            return raw.rstrip("*")  # what splitting and joining would give (no element has blanks to strip)
        parts = list(self.elements)
        while len(parts) > 1 and not parts[-1]:
            parts.pop()
        if canonical_inside:
            return "*".join(parts)  # already canonical inside the elements
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
    """``text``'s leading segment id when it looks like one (2-3 letters and digits, then
    nothing or a non-alphanumeric), never any element data."""
    m = _SEGMENT_ID.match(text[:4].upper())
    if m is None or (len(text) > len(m.group(0)) and text[len(m.group(0))].isalnum()):
        return None
    return m.group(0)


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
    (it must start with an ISA) or a segment is absurdly long.

    The text is split a window (``_WINDOW`` characters, up to its last terminator) at a
    time: ``str.split`` does the scanning in C, and no more than one window's pieces are
    alive at once.  A later ISA with other delimiters restarts the splitting there."""
    pos = _WHITESPACE.match(text).end()
    if not text.startswith("ISA", pos):
        raise X12Rejected("the body is not an X12 interchange: it does not start with an ISA segment", 1, None)
    n = len(text)
    index = 0
    ids: dict[str, str] = {}  # segment id as written -> as read (a file uses a few dozen)
    while True:
        pos = _WHITESPACE.match(text, pos).end()
        if pos >= n:
            return
        delimiters = read_isa_delimiters(text, pos, index + 1)
        terminator, element = delimiters.segment, delimiters.element
        restart_at = None
        while restart_at is None:
            window_end = min(pos + _WINDOW, n)
            last = text.rfind(terminator, pos, window_end)
            if last == -1:
                tail_at = _WHITESPACE.match(text, pos).end()
                if index and text.startswith("ISA", tail_at):
                    restart_at = tail_at  # the next interchange ends its segments differently
                    break
                tail = text[pos:n]
                if window_end < n or len(tail) > MAX_SEGMENT_CHARS:
                    _too_long(index + 1, tail)
                raw = tail.strip(_BLANKS)
                if raw:
                    yield Segment(index + 1, _id_of(raw, element), raw, delimiters, False)
                return
            pieces = text[pos:last].split(terminator)
            # Checks a window can rule out at once (in C) are not made per piece: a piece
            # over the length cap, a piece that may start another interchange.
            long_piece = max(map(len, pieces)) > MAX_SEGMENT_CHARS
            # (an interchange's own ISA, the body's first segment, does not count)
            may_restart = text.find("ISA", pos + 1 if index == 0 else pos, last) != -1
            careful = long_piece or may_restart
            offset = pos
            for piece in pieces:
                raw = piece.strip(_BLANKS)
                if careful:
                    start = offset
                    offset += len(piece) + 1
                    if raw and len(piece) > MAX_SEGMENT_CHARS:
                        _too_long(index + 1, raw)
                    if may_restart and index and raw.startswith("ISA"):
                        isa_at = start + piece.index("ISA")
                        if read_isa_delimiters(text, isa_at, index + 1) != delimiters:
                            restart_at = isa_at  # a new interchange with its own delimiters
                            break
                if not raw:  # blank lines, two terminators in a row: nothing to count
                    continue
                index += 1
                end = raw.find(element)
                written = raw[:end] if end != -1 else raw
                sid = ids.get(written)
                if sid is None:
                    sid = written.rstrip(_BLANKS).upper()
                    if len(written) <= 4 and len(ids) < _MAX_IDS:
                        ids[written] = sid
                yield Segment(index, sid, raw, delimiters)
            else:
                pos = last + 1
        pos = restart_at


def _id_of(raw: str, element: str) -> str:
    end = raw.find(element)
    return (raw[:end] if end != -1 else raw).rstrip(_BLANKS).upper()


def _too_long(index: int, text: str) -> None:
    sid = safe_segment_id(text.lstrip(_BLANKS))
    raise X12Rejected(
        f"segment {index} ({sid or 'unknown'}) is longer than {MAX_SEGMENT_CHARS} characters: "
        "this is not an eligibility response we can read",
        index,
        sid,
    )
