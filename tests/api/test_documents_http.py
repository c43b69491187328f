"""Good Faith Estimates and Advanced EOBs through HTTP, against a real PostgreSQL with the demo data."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from decimal import Decimal

import asyncpg
import msgspec
import pypdf
import pytest
from cryptography.fernet import Fernet

from costsvc.auth import create_api_key
from costsvc.domain import gfe
from costsvc.phi import PhiVault
from tests.fhir_checks import check_aeob_bundle, check_gfe_bundle, money

SELF_PAY = {
    "program_id": "sunrise-recovery", "level_of_care": "iop",
    "episode": {"start_date": "2026-12-07", "weeks": 12, "days_per_week": 3},
    "household": {"size": 3, "annual_income": "41000.00", "state": "CA"},
}
INSURED = {**SELF_PAY, "coverage": {"plan_id": "acme-ppo-gold", "network": "auto", "tier": "individual"}}
GFE = {"patient": {"name": "Jordan Rivera", "date_of_birth": "1990-04-12"},
       "diagnosis_codes": ["F10.20", "F32.1"], "scheduled_date": None, "requested_by": "patient"}


@pytest.fixture
async def api(client):
    client.app_state.phi_vault = PhiVault([Fernet.generate_key()])
    return client


async def estimate(api, body) -> dict:
    r = await api.post("/v1/estimates", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def issue(api, estimate_id, body=GFE, status=201) -> dict:
    r = await api.post(f"/v1/estimates/{estimate_id}/gfe", json=body)
    assert r.status_code == status, r.text
    return r.json()


async def test_gfe_of_a_self_pay_estimate_in_three_renderings(api, db_url):
    e = await estimate(api, SELF_PAY)
    g = await issue(api, e["estimate_id"])
    assert len(g["gfe_id"]) == 24 and g["estimate_id"] == e["estimate_id"]
    assert g["issued_on"] and g["valid_until"] == e["episode"]["end_date"]
    # The same household placement as the estimate: tier D, 40 % off 15,500.00.
    assert g["total_expected_charges"] == e["selfpay"]["patient_pays"] == "9300.00"
    assert g["sliding_scale_tier"] == "D"
    assert g["deadline"]["basis"] == "requested" and g["deadline"]["met"] is True
    assert g["links"] == {f: f"/v1/gfe/{g['gfe_id']}?format={f}" for f in ("html", "pdf", "fhir")}

    html = await api.get(g["links"]["html"])
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "private" in html.headers["cache-control"]
    for text in ("Jordan Rivera", "April 12, 1990", "F10.20, F32.1", "Sunrise Recovery Center", "1645987326",
                 "74-2918365", "$9,300.00", "Not yet scheduled", "Sliding-scale tier D", "$400 or more",
                 "120 calendar days", "not a contract", "Keep a copy"):
        assert text in html.text, text

    pdf = await api.get(g["links"]["pdf"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Jordan Rivera" in text and "$9,300.00" in text and "F10.20, F32.1" in text

    f = await api.get(f"/v1/gfe/{g['gfe_id']}", headers={"Accept": "application/fhir+json"})
    assert f.status_code == 200 and f.headers["content-type"].startswith("application/fhir+json")
    claim = check_gfe_bundle(f.json(), f.content, g["gfe_id"])
    assert money(claim["total"]) == Decimal("9300.00")

    # The PHI is stored only encrypted.
    conn = await asyncpg.connect(db_url)
    try:
        row = await conn.fetchrow("SELECT content::text AS content, phi FROM gfes WHERE gfe_id = $1", g["gfe_id"])
    finally:
        await conn.close()
    for secret in (b"Jordan", b"1990-04-12", b"F10.20"):
        assert secret not in bytes(row["phi"]) and secret.decode() not in row["content"]


async def test_gfe_reprices_an_insured_estimate_as_self_pay(api):
    e = await estimate(api, INSURED)
    assert e["network_status"] == "in_network"
    g = await issue(api, e["estimate_id"], {**GFE, "scheduled_date": "2026-12-21", "requested_on": None})
    assert g["total_expected_charges"] == e["selfpay"]["patient_pays"]
    no_household = await estimate(api, {k: v for k, v in INSURED.items() if k != "household"})
    cash = await issue(api, no_household["estimate_id"])
    assert cash["total_expected_charges"] == "15500.00" and cash["sliding_scale_tier"] is None


async def test_scheduled_date_moves_the_items_and_sets_the_deadline(api):
    e = await estimate(api, SELF_PAY)
    today = dt.date.today()
    scheduled = gfe.add_business_days(today, 12, gfe.us_federal_holidays())
    g = await issue(api, e["estimate_id"], {**GFE, "scheduled_date": scheduled.isoformat(),
                                             "requested_by": "provider"})
    assert g["deadline"]["basis"] == "scheduled_10_days" and g["deadline"]["met"] is True
    assert g["deadline"]["due_by"] == gfe.add_business_days(today, 3, gfe.us_federal_holidays()).isoformat()
    claim = (await api.get(g["links"]["fhir"])).json()["entry"][1]["resource"]
    assert claim["billablePeriod"]["start"] == scheduled.isoformat()
    html = (await api.get(g["links"]["html"])).text
    assert gfe.date_text(scheduled) in html and "Requested by the provider" in html
    # Scheduled two weeks ago: the deadline (3 business days after) has passed.
    late = await issue(api, e["estimate_id"], {**GFE, "scheduled_date": scheduled.isoformat(),
                                                "requested_on": (today - dt.timedelta(days=14)).isoformat()})
    assert late["deadline"]["met"] is False
    future = await api.post(f"/v1/estimates/{e['estimate_id']}/gfe",
                            json={**GFE, "requested_on": (today + dt.timedelta(days=1)).isoformat()})
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "requested_on"


async def test_household_income_zero_is_tier_a(api):
    e = await estimate(api, {k: v for k, v in SELF_PAY.items() if k != "household"})
    g = await issue(api, e["estimate_id"], {**GFE, "household": {"size": 2, "annual_income": "0", "state": "TX"}})
    # Tier A: the nominal fee of $20.00 on each of 37 claims (36 days and the intake).
    assert g["sliding_scale_tier"] == "A" and g["total_expected_charges"] == "740.00"
    # The same household on the estimate: the GFE carries the estimate's placement over.
    poor = await estimate(api, {**SELF_PAY, "household": {"size": 1, "annual_income": "0.00", "state": "TX"}})
    assert poor["selfpay"]["tier"] == "A" and poor["totals"]["patient_pays"] == "740.00"
    carried = await issue(api, poor["estimate_id"])
    assert carried["sliding_scale_tier"] == "A" and carried["total_expected_charges"] == "740.00"
    html = (await api.get(carried["links"]["html"])).text
    assert "nominal fee of $20.00" in html and "at 0.0 % of the federal poverty guideline" in html


async def test_names_outside_latin_1_in_the_pdf(api):
    e = await estimate(api, SELF_PAY)
    for name in ("Nguyễn Văn Anh", "Zoë Łukasz", "李小龍"):
        g = await issue(api, e["estimate_id"], {**GFE, "patient": {"name": name, "date_of_birth": "1980-01-31"}})
        pdf = await api.get(g["links"]["pdf"])
        assert pdf.status_code == 200
        text = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
        assert name in text


async def test_gfe_of_a_missing_estimate_is_404(api):
    for estimate_id in (str(uuid.uuid4()), "not-a-uuid"):
        r = await api.post(f"/v1/estimates/{estimate_id}/gfe", json=GFE)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == "estimate_id"
    r = await api.get("/v1/gfe/AAAAAAAAAAAAAAAAAAAAAAAA")
    assert r.status_code == 404 and "AAAA" not in r.json()["detail"]


@pytest.mark.parametrize(("change", "field"), [
    ({"patient": {"name": "Jordan Rivera", "date_of_birth": "2099-01-01"}}, "patient.date_of_birth"),
    ({"patient": {"name": "Jordan Rivera", "date_of_birth": "1850-01-01"}}, "patient.date_of_birth"),
    ({"patient": {"name": " ", "date_of_birth": "1990-04-12"}}, "patient.name"),
    ({"diagnosis_codes": ["F10.20", "Q99-98"]}, "diagnosis_codes[1]"),
    ({"diagnosis_codes": ["97.31"]}, "diagnosis_codes[0]"),
    ({"requested_by": "insurer"}, "requested_by"),
    ({"patient": {"name": "Jordan Rivera", "date_of_birth": "12/04/1990"}}, "patient.date_of_birth"),
])
async def test_invalid_gfe_requests_are_422_naming_the_field(api, change, field):
    e = await estimate(api, SELF_PAY)
    r = await api.post(f"/v1/estimates/{e['estimate_id']}/gfe", json={**GFE, **change})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [err["field"] for err in problem["errors"]]
    for secret in ("Q99-98", "97.31", "2099-01-01", "1850-01-01", "12/04/1990"):
        assert secret not in r.text  # PHI is never echoed


async def test_episode_longer_than_12_months_is_422(api):
    e = await estimate(api, {**SELF_PAY, "episode": {"start_date": "2026-12-07", "weeks": 60, "days_per_week": 3}})
    r = await api.post(f"/v1/estimates/{e['estimate_id']}/gfe", json=GFE)
    assert r.status_code == 422, r.text
    (err,) = r.json()["errors"]
    assert err["field"] == "episode" and "12 months" in err["message"]


async def test_accept_nobody_serves_is_406(api):
    e = await estimate(api, SELF_PAY)
    g = await issue(api, e["estimate_id"])
    for headers, query in (({"Accept": "application/xml"}, ""), ({}, "?format=docx"),
                           ({"Accept": "image/png, text/plain;q=0.5"}, "")):
        r = await api.get(f"/v1/gfe/{g['gfe_id']}{query}", headers=headers)
        assert r.status_code == 406, (headers, query)
        assert r.headers["content-type"] == "application/problem+json"
    wild = await api.get(f"/v1/gfe/{g['gfe_id']}", headers={"Accept": "*/*"})
    assert wild.status_code == 200 and wild.headers["content-type"].startswith("text/html")
    pdf = await api.get(f"/v1/gfe/{g['gfe_id']}", headers={"Accept": "text/html;q=0.5, application/pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    r = await api.get(f"/v1/estimates/{e['estimate_id']}", headers={"Accept": "application/xml"})
    assert r.status_code == 406


async def test_advanced_eob_of_an_insured_estimate(api):
    e = await estimate(api, INSURED)
    for kwargs in ({"params": {"format": "fhir"}}, {"headers": {"Accept": "application/fhir+json"}}):
        r = await api.get(f"/v1/estimates/{e['estimate_id']}", **kwargs)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/fhir+json")
        eob = check_aeob_bundle(r.json(), r.content, e["estimate_id"])
        totals = {t["category"]["coding"][0]["code"]: money(t["amount"]) for t in eob["total"]}
        assert totals["memberliability"] == Decimal(e["totals"]["patient_pays"])
        assert totals["submitted"] == Decimal(e["totals"]["billed"])
        assert totals["eligible"] == Decimal(e["totals"]["allowed"])
        assert totals["benefit"] == Decimal(e["totals"]["plan_pays"])
        notes = [n["text"] for n in eob["processNote"]]
        assert e["disclaimer"] in notes and all(n["message"] in notes for n in e["notices"])
        deductible = [f for b in eob["benefitBalance"] for f in b["financial"]
                      if f["type"]["coding"][0]["code"] == "deductible"]
        assert deductible and money(deductible[0]["allowedMoney"]) > 0
        assert money(deductible[0]["usedMoney"]) == Decimal(e["accumulators_after"]["in_network"]["deductible_met"])


async def test_a_self_pay_estimate_has_no_advanced_eob(api):
    e = await estimate(api, SELF_PAY)
    r = await api.get(f"/v1/estimates/{e['estimate_id']}?format=fhir")
    assert r.status_code == 406 and "/gfe" in r.json()["detail"]


async def test_default_estimate_json_is_unchanged(api):
    r = await api.post("/v1/estimates", json=INSURED)
    created = r.content
    estimate_id = r.json()["estimate_id"]
    plain = await api.get(f"/v1/estimates/{estimate_id}", headers={"Accept": ""})
    assert plain.content == created
    for headers in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
        again = await api.get(f"/v1/estimates/{estimate_id}", headers=headers)
        assert again.status_code == 200 and again.content == created
        assert again.headers["content-type"] == "application/json"


async def test_listing_gfes_needs_staff_and_shows_no_phi(api, conn):
    e = await estimate(api, SELF_PAY)
    g = await issue(api, e["estimate_id"])
    r = await api.get("/v1/gfe")
    assert r.status_code == 401
    staff = await create_api_key(conn, role="staff", name="front desk")
    headers = {"Authorization": f"Bearer {staff.key}"}
    r = await api.get("/v1/gfe", params={"from": g["issued_on"], "to": g["issued_on"]}, headers=headers)
    assert r.status_code == 200, r.text
    listed = r.json()["gfes"]
    assert [x["gfe_id"] for x in listed] == [g["gfe_id"]]
    assert "Jordan" not in r.text and "1990" not in r.text
    second = await issue(api, e["estimate_id"])
    page = (await api.get("/v1/gfe", params={"limit": 1}, headers=headers)).json()
    assert len(page["gfes"]) == 1 and page["next_cursor"]
    rest = (await api.get("/v1/gfe", params={"limit": 1, "cursor": page["next_cursor"]}, headers=headers)).json()
    assert {page["gfes"][0]["gfe_id"], rest["gfes"][0]["gfe_id"]} == {g["gfe_id"], second["gfe_id"]}
    bad = await api.get("/v1/gfe", params={"from": "yesterday"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "from"


async def test_no_phi_key_refuses_to_store(client):
    client.app_state.phi_vault = None
    e = await estimate(client, SELF_PAY)
    r = await client.post(f"/v1/estimates/{e['estimate_id']}/gfe", json=GFE)
    assert r.status_code == 503 and "COSTSVC_PHI_KEY" in r.json()["detail"]
    assert msgspec.json.decode(r.content)["type"].endswith("/unavailable")


async def test_an_episode_over_before_the_gfe_is_issued_is_422(api):
    e = await estimate(api, {"program_id": "sunrise-recovery", "level_of_care": "iop"})
    r = await api.post(f"/v1/estimates/{e['estimate_id']}/gfe",
                       json={**GFE, "scheduled_date": "2000-01-03", "requested_on": "2000-01-03"})
    assert r.status_code == 422, r.text
    assert [x["field"] for x in r.json()["errors"]] == ["scheduled_date"]
