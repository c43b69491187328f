"""The GFE as a PDF (fpdf2, fonts embedded: costsvc/documents/fonts.py).

Letter size, the same sections and words as the HTML page.  The items table
repeats its header on each page and never splits an item row across pages.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from functools import lru_cache

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from costsvc.documents.fonts import fallback_font_file, font_files
from costsvc.domain.gfe import GfeView

FAMILY = "NotoSans"
FALLBACK = "CJKFallback"


def _texts(view: GfeView) -> Iterable[str]:
    yield view.patient_name
    yield from view.provider_lines
    for item in view.items:
        yield item.item.description


# Width of a word in a font style and size, shared by every document: the fonts are the
# same files for all of them.  Keyed by value only (never by a document, which holds PHI).
_widths: dict[tuple[str, float, str], float] = {}
_MAX_WIDTHS = 50_000


def _word_width(font_key: str, size: float, word: str, measure: Callable[[str], float]) -> float:
    key = (font_key, size, word)
    width = _widths.get(key)
    if width is None:
        if len(_widths) >= _MAX_WIDTHS:
            _widths.clear()
        width = _widths[key] = measure(word)
    return width


@lru_cache(maxsize=1)
def _covered_characters() -> frozenset[str]:
    return frozenset(map(chr, font_files().covered)) | {" "}


class _Document(FPDF):
    """Text is wrapped here, word by word with cached widths, and set line by line with
    ``cell``: fpdf2's ``multi_cell`` re-measures the whole line for every character
    added, which made the disclaimers alone cost more than the rest of the document."""

    def __init__(self, view: GfeView):
        super().__init__(format="letter", unit="mm")
        self.view = view
        fonts = font_files()
        self.add_font(FAMILY, "", fonts.regular)
        self.add_font(FAMILY, "B", fonts.bold)
        self.fallback_file: str | None = None
        missing = {ch for text in _texts(view) for ch in text if ord(ch) not in fonts.covered and not ch.isspace()}
        if missing:
            self.fallback_file = fallback_font_file(missing)
        if self.fallback_file:
            self.add_font(FALLBACK, "", self.fallback_file)
            self.add_font(FALLBACK, "B", self.fallback_file)
            self.set_fallback_fonts([FALLBACK])
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=18)
        self.set_title(view.title)
        self.set_creator("costsvc")
        self.set_lang("en-US")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, size=8)
        self.cell(0, 5, f"Good Faith Estimate {self.view.content.gfe_id} · page {self.page_no()} of {{nb}}",
                  align="C")

    def wrap(self, text: str, width: float) -> list[str]:
        key = f"{self.font_family}/{self.font_style}"
        space = _word_width(key, self.font_size_pt, " ", self.get_string_width)
        lines: list[str] = []
        for paragraph in text.split("\n"):
            current, used = "", 0.0
            for word in paragraph.split(" "):
                w = _word_width(key, self.font_size_pt, word, self.get_string_width)
                if current and used + space + w > width:
                    lines.append(current)
                    current, used = word, w
                elif current:
                    current, used = f"{current} {word}", used + space + w
                else:
                    current, used = word, w
            lines.append(current)
        return lines

    def put(self, x: float, y: float, width: float, height: float, text: str, align: str = "L") -> None:
        """One line of text in a box.  ``text()`` is a tenth of the cost of ``cell()``; only
        a line with characters the main font lacks goes through ``cell()`` (the fallback)."""
        if set(text) <= _covered_characters():
            if align == "R":
                measured = _word_width(f"{self.font_family}/{self.font_style}", self.font_size_pt, text,
                                       self.get_string_width)
                left = x + width - self.c_margin - measured
            else:
                left = x + self.c_margin
            self.text(left, y + 0.5 * height + 0.3 * self.font_size, text)
        else:
            self.set_xy(x, y)
            self.cell(width, height, text, align=align)

    def lines(self, text: str, height: float, width: float = 0) -> None:
        width = width or self.epw
        x = self.get_x()
        for line in self.wrap(text, width - 2 * self.c_margin):
            if self.will_page_break(height):
                self.add_page()
            y = self.get_y()
            self.put(x, y, width, height, line)
            self.set_xy(self.l_margin, y + height)

    def heading(self, text: str) -> None:
        if self.will_page_break(20):
            self.add_page()
        self.ln(3)
        self.set_font(FAMILY, "B", 12)
        self.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, border="B")
        self.ln(1)

    def pairs(self, rows: list[tuple[str, str]]) -> None:
        for label, value in rows:
            if self.will_page_break(5.5):
                self.add_page()
            self.set_font(FAMILY, "B", 10)
            self.put(self.l_margin, self.get_y(), 45, 5.5, label)
            self.set_x(self.l_margin + 45)
            self.set_font(FAMILY, size=10)
            self.lines(value, 5.5, self.epw - 45)

    def paragraph(self, text: str, *, bold: bool = False, size: float = 10) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)
        self.lines(text, 5)
        self.ln(1)

    def table(self, widths: tuple[float, ...], aligns: str, header: list[str], rows: list[list[str]],
              line_height: float = 4.2) -> None:
        """A bordered table whose header repeats on each page and whose rows are never split."""
        scale = self.epw / sum(widths)
        widths = tuple(w * scale for w in widths)

        def draw(cells: list[str], bold: bool) -> None:
            self.set_font(FAMILY, "B" if bold else "", 8.5)
            wrapped = [self.wrap(text, w - 2 * self.c_margin) for text, w in zip(cells, widths)]
            height = max(len(w) for w in wrapped) * line_height + 1
            if self.will_page_break(height):
                self.add_page()
                if not bold:
                    draw(header, True)
                    self.set_font(FAMILY, "", 8.5)
            x, y = self.l_margin, self.get_y()
            for lines, w, align in zip(wrapped, widths, aligns):
                if bold:
                    self.set_fill_color(238, 241, 244)
                self.rect(x, y, w, height, style="DF" if bold else "D")
                for n, line in enumerate(lines):
                    self.put(x, y + 0.5 + n * line_height, w, line_height, line, align)
                x += w
            self.set_xy(self.l_margin, y + height)

        draw(header, True)
        for row in rows:
            draw(row, False)


def render_pdf(view: GfeView) -> bytes:
    pdf = _Document(view)
    try:
        return _render(pdf, view)
    finally:
        if pdf.fallback_file:
            os.unlink(pdf.fallback_file)


def _render(pdf: _Document, view: GfeView) -> bytes:
    pdf.add_page()
    pdf.set_font(FAMILY, "B", 16)
    pdf.lines(view.title, 8)
    pdf.set_font(FAMILY, size=9)
    pdf.lines(f"GFE number {view.content.gfe_id} · Issued {view.issued_on} · Valid until {view.valid_until}", 5)

    pdf.heading("Patient")
    pdf.pairs([("Name", view.patient_name), ("Date of birth", view.date_of_birth)])

    pdf.heading("Primary service")
    pdf.pairs([
        ("Service", view.primary_service),
        ("Scheduled date", view.scheduled),
        ("Expected dates", view.service_period),
        ("Diagnosis codes", ", ".join(view.diagnosis_codes) if view.diagnosis_codes else "None given"),
    ])

    pdf.heading("Provider")
    pdf.pairs([("Name", view.provider_lines[0])]
              + [tuple(line.split(": ", 1)) for line in view.provider_lines[1:]])  # type: ignore[misc]

    pdf.heading("Itemized items and services")
    pdf.table(
        (6, 24, 52, 38, 17, 19, 24), "RLLLRRR",
        ["#", "Service code", "Description", "Dates", "Quantity", "Unit price", "Expected charge"],
        [[str(i.item.sequence), i.code_label, i.item.description, i.dates, i.quantity, i.unit_price,
          i.expected_charge] for i in view.items],
    )
    pdf.ln(2)
    pdf.paragraph(f"Total expected charges: {view.total}", bold=True, size=12)
    if view.sliding:
        pdf.paragraph(view.sliding)

    pdf.heading("When this estimate was due")
    pdf.paragraph(view.requested + ".")
    pdf.paragraph(view.deadline)
    pdf.paragraph(view.deadline_status)
    pdf.paragraph(f"This estimate covers the services listed from {view.service_period}, and is valid "
                  f"until {view.valid_until}.")

    pdf.heading("Disclaimers")
    for block in view.disclaimers:
        if pdf.will_page_break(15):
            pdf.add_page()
        pdf.paragraph(block.text)
    return bytes(pdf.output())
