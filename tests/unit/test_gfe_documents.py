"""The three renderings of a GFE carry every element the rule asks for; the FHIR Bundle
follows Da Vinci PCT STU 2 (tests/fhir_checks.py)."""

from __future__ import annotations

import io
from decimal import Decimal
from html.parser import HTMLParser

import msgspec
import pypdf
import pytest

from costsvc.documents import fhir
from costsvc.documents.html import render_html
from costsvc.documents.pdf import render_pdf
from costsvc.domain.gfe import DISCLAIMERS, GfeView, tin_text
from costsvc.domain.model import Household
from tests.fhir_checks import check_gfe_bundle, money
from tests.gfe_samples import HOSPITAL_IOP_LINES, many_lines, sample_view

NAMES = ["Nguyễn Văn Anh", "Zoë Łukasz", "李小龍", "Ελένη Борисова", "Jordan Rivera"]


def words(text: str) -> str:
    return " ".join(text.split())


def elements(view: GfeView) -> dict[str, str]:
    """Every element a GFE must show, as the words a reader sees."""
    out = {
        "patient name": view.patient_name, "date of birth": view.date_of_birth,
        "primary service": view.primary_service, "scheduled": view.scheduled,
        "service period": view.service_period, "issued": view.issued_on, "valid until": view.valid_until,
        "deadline": view.deadline, "deadline status": view.deadline_status, "total": view.total,
        "provider name": view.content.provider.name, "npi": view.content.provider.npi or "",
        "tin": tin_text(view.content.provider.tin or ""), "state": view.content.provider.state,
        "location": view.content.provider.place_of_service,
    }
    for i, code in enumerate(view.diagnosis_codes):
        out[f"diagnosis {i}"] = code
    for it in view.items:
        n = it.item.sequence
        out |= {f"item {n} code": it.code_label, f"item {n} description": it.item.description,
                f"item {n} dates": it.dates, f"item {n} quantity": it.quantity,
                f"item {n} unit price": it.unit_price, f"item {n} charge": it.expected_charge}
    if view.sliding:
        out["sliding"] = view.sliding
    for code, text in DISCLAIMERS:
        out[f"disclaimer {code}"] = text
    return out


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.chunks: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self.skip:
            self.chunks.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return words(" ".join(parser.chunks))


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return words(" ".join(page.extract_text() for page in reader.pages))


def assert_all_present(text: str, view: GfeView) -> None:
    missing = {k: v for k, v in elements(view).items() if words(v) not in text}
    assert not missing


@pytest.mark.parametrize("name", NAMES)
def test_html_carries_every_element(name):
    view = sample_view(name, household=Household(size=3, annual_income=Decimal("30000"), state="TX"))
    html = render_html(view)
    assert_all_present(html_text(html), view)
    assert "@media print" in html and "break-inside: avoid" in html


def test_html_escapes_what_people_type():
    html = render_html(sample_view("<script>alert(1)</script> O'Brien & Co"))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Brien &amp; Co" in html


@pytest.mark.parametrize("name", NAMES)
def test_pdf_carries_every_element_in_any_script(name):
    view = sample_view(name, household=Household(size=3, annual_income=Decimal("30000"), state="TX"))
    data = render_pdf(view)
    assert data.startswith(b"%PDF-")
    assert_all_present(pdf_text(data), view)


def test_pdf_of_36_lines_spans_pages_and_repeats_the_header():
    view = sample_view(lines=many_lines(36))
    data = render_pdf(view)
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 2
    assert_all_present(pdf_text(data), view)
    pages_with_header = [p for p in reader.pages if "Expected charge" in words(p.extract_text())]
    item_pages = [p for p in reader.pages if "HCPCS H" in p.extract_text()]
    assert len(pages_with_header) >= len(item_pages) >= 2


def test_fhir_bundle_follows_pct():
    view = sample_view()
    bundle = fhir.gfe_bundle(view)
    raw = fhir.encode(bundle)
    claim = check_gfe_bundle(msgspec.json.decode(raw), raw, view.content.gfe_id)
    assert claim["type"]["coding"][0]["code"] == "professional"
    assert money(claim["total"]) == view.content.total_expected_charges
    products = [i["productOrService"]["coding"][0] for i in claim["item"]]
    assert {(p["system"], p["code"]) for p in products} == {
        ("http://www.ama-assn.org/go/cpt", "90791"), ("http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "H0015")}
    assert [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim["diagnosis"]] == ["F10.20", "F32.1"]
    patient = fhir_resources(bundle, "Patient")[0]
    assert patient["name"] == [{"text": "Jordan Rivera"}] and patient["birthDate"] == "1990-04-12"
    # Money keeps its cents as JSON numbers.
    assert b'"value":3100.0' not in raw and b'"currency":"USD"' in raw
    assert fhir.encode(fhir.gfe_bundle(view)) == raw  # the same document twice: the same bytes


def test_fhir_bundle_of_revenue_code_lines_is_institutional():
    view = sample_view(lines=HOSPITAL_IOP_LINES, codes=())
    raw = fhir.encode(fhir.gfe_bundle(view))
    claim = check_gfe_bundle(msgspec.json.decode(raw), raw, view.content.gfe_id)
    assert claim["type"]["coding"][0]["code"] == "institutional"
    assert {i["revenue"]["coding"][0]["code"] for i in claim["item"]} == {"0906"}
    assert "diagnosis" not in claim


def test_fhir_sliding_scale_is_a_disclaimer():
    view = sample_view(household=Household(size=1, annual_income=Decimal("0"), state="TX"))
    assert view.content.sliding is not None and view.content.sliding.tier == "A"
    bundle = fhir.gfe_bundle(view)
    texts = [e["valueString"] for e in bundle["entry"][0]["resource"]["extension"]]
    assert view.sliding in texts and len(texts) == len(DISCLAIMERS) + 1


def fhir_resources(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]
