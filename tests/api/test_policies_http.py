"""Policies as data through HTTP, on a real PostgreSQL with the demo data: the policy
import kinds (admin, eager jobs) change estimates and roll back; the sliding-scale and
payment-plan endpoints; GET /v1/programs/{id} shows the policy in force.

Demo policies: harborview-behavioral-health has its own sliding scale (A <=100 % $10,
B <=150 % 75 %, C <=200 % 50 %, D <=250 % 25 %); cedar-ridge-treatment its own terms
(6/12/24 months at 7.99 %, at least $50.00 a month); the others use the defaults.
Household of 3 in CA, 2026: guideline 15,960 + 2 x 5,680 = 27,320.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from tests.api.test_imports_api import _finished, _upload

HOUSEHOLD = {"size": 3, "annual_income": "41000.00", "state": "CA"}  # 150.07 % FPL
HARBORVIEW_IOP = {"program_id": "harborview-behavioral-health", "level_of_care": "iop",
                  "episode": {"start_date": "2026-12-01", "weeks": 4, "days_per_week": 3}, "household": HOUSEHOLD}
CEDAR = {"program_id": "cedar-ridge-treatment", "level_of_care": "residential"}
SLIDING = "program_id,tier,max_fpl_percent,discount_percent,nominal_fee,effective_date\n"
TERMS = "program_id,months,apr,min_monthly_payment,min_down_payment,effective_date\n"
GUIDELINES = "year,region,base,per_additional_person\n"


def _problem_fields(r) -> list[str]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return [e["field"] for e in r.json().get("errors") or []]


async def _import(api, keys, kind: str, name: str, text: str) -> dict:
    r = await _upload(api, keys["admin"], name, text.encode(), kind=kind)
    assert r.status_code == 202, r.text
    return await _finished(api, keys["admin"], r.json()["import_id"])


async def _until(probe, expected, timeout: float = 10):
    """Poll ``probe()`` until it returns ``expected`` (the catalog reloads on NOTIFY)."""
    deadline = time.monotonic() + timeout
    value = await probe()
    while value != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        value = await probe()
    assert value == expected
    return value


async def _selfpay(api) -> dict:
    r = await api.post("/v1/estimates", json=HARBORVIEW_IOP)
    assert r.status_code == 201, r.text
    return r.json()["selfpay"]


# ----------------------------------------------------------------------------- imports


async def test_a_sliding_scale_import_changes_estimates_and_a_rollback_restores_them(api, keys):
    before = await _selfpay(api)
    # demo policy: 150.07 % -> tier C, 50 % off every claim (cash 495.00 a day, 225.00 intake)
    assert before["tier"] == "C" and before["discount_percent"] == "50"
    assert Decimal(before["patient_pays"]) == Decimal(before["cash_total"]) / 2

    new = await _import(api, keys, "sliding_scale", "harborview-2027.csv", SLIDING
                        + "harborview-behavioral-health,Low,120,,8.00,2027-01-01\n"
                        + "harborview-behavioral-health,Middle,160,70,,2027-01-01\n"
                        + "harborview-behavioral-health,Rest,,10,,2027-01-01\n")
    assert new["status"] == "succeeded" and new["version"]["current"], new
    assert new["rows_accepted"] == 3
    after = await _until(lambda: _selfpay(api), {**before, "tier": "Middle", "discount_percent": "70",
                                                 "patient_pays": str((Decimal(before["cash_total"]) * Decimal("0.3")).quantize(Decimal("0.01")))})
    assert after["cash_total"] == before["cash_total"]
    r = await api.get("/v1/programs/harborview-behavioral-health")
    scale = r.json()["sliding_scale"]
    assert scale["policy"] == "program" and scale["effective_date"] == "2027-01-01"
    assert scale["import_id"] == new["import_id"] and scale["version_id"] == new["version"]["version_id"]
    assert [t["name"] for t in scale["tiers"]] == ["Low", "Middle", "Rest"] and scale["tiers"][2]["max_fpl_percent"] is None

    r = await api.get("/v1/imports", headers=keys["admin"], params={"kind": "sliding_scale"})
    demo = next(i for i in r.json()["imports"] if i["source"] == "demo/sliding_scale.csv")
    r = await api.post(f"/v1/imports/{demo['import_id']}/activate", headers=keys["admin"])  # roll back
    assert r.status_code == 200, r.text
    await _until(lambda: _selfpay(api), before)


async def test_a_file_with_any_row_error_changes_nothing(api, keys):
    before = (await api.get("/v1/programs/harborview-behavioral-health")).json()["sliding_scale"]
    done = await _import(api, keys, "sliding_scale", "bad.csv", SLIDING
                         + "harborview-behavioral-health,A,100,,5.00,2026-01-01\n"
                         + "harborview-behavioral-health,B,90,50,,2026-01-01\n"  # unordered
                         + "harborview-behavioral-health,C,200,120,,2026-01-01\n"  # over 100 %
                         + "harborview-behavioral-health,D,300,20,5.00,2026-01-01\n"  # both
                         + "cedar-ridge-treatment,A,100,,5.00,2026-01-01\n")  # a good program of its own
    assert done["status"] == "rejected" and done["version"] is None
    assert [(e["line"], e["column"]) for e in done["errors"]["items"]] == [
        (3, "max_fpl_percent"), (4, "discount_percent"), (5, "discount_percent")]
    assert all(e["file"] == "bad.csv" for e in done["errors"]["items"])
    await asyncio.sleep(0.2)
    assert (await api.get("/v1/programs/harborview-behavioral-health")).json()["sliding_scale"] == before
    assert (await api.get("/v1/programs/cedar-ridge-treatment")).json()["sliding_scale"]["policy"] == "default"


async def test_unknown_programs_and_bad_terms_are_row_errors(api, keys):
    done = await _import(api, keys, "payment_terms", "terms.csv", TERMS
                         + "no-such-program,6,0,25,,2026-01-01\n")
    assert done["status"] == "rejected"
    assert [(e["line"], e["column"]) for e in done["errors"]["items"]] == [(2, "program_id")]
    assert "unknown program 'no-such-program'" in done["errors"]["items"][0]["message"]
    done = await _import(api, keys, "payment_terms", "terms2.csv", TERMS
                         + "cedar-ridge-treatment,0,0,25,,2026-01-01\n"
                         + "cedar-ridge-treatment,12,37,25,,2026-01-01\n"
                         + "cedar-ridge-treatment,240,0,25,,2026-01-01\n")
    assert done["status"] == "rejected"
    assert [(e["line"], e["column"]) for e in done["errors"]["items"]] == [(2, "months"), (3, "apr"), (4, "months")]
    done = await _import(api, keys, "poverty_guidelines", "pg.csv",
                         GUIDELINES + "2026,48,1,1\n2026,48,2,2\n2026,AK,1,1\n2026,HI,1,1\n")
    assert done["status"] == "rejected"
    assert [(e["line"], e["column"]) for e in done["errors"]["items"]] == [(3, "region")]


async def test_payment_terms_import_changes_estimates_and_rolls_back(api, keys):
    async def months():
        r = await api.post("/v1/estimates", json=CEDAR)
        assert r.status_code == 201, r.text
        return [(p["months"], p["apr"], p["down_payment"]) for p in r.json()["payment_plans"]]

    assert await months() == [(6, "7.99", "0.00"), (12, "7.99", "0.00"), (24, "7.99", "0.00")]
    new = await _import(api, keys, "payment_terms", "cedar.csv", TERMS
                        + "cedar-ridge-treatment,10,0,100,500,2026-06-01\n"
                        + "cedar-ridge-treatment,36,9.99,100,500,2026-06-01\n")
    assert new["status"] == "succeeded", new
    # an estimate's down payment below the program's minimum is raised to it
    await _until(months, [(10, "0", "500.00"), (36, "9.99", "500.00")])
    terms = (await api.get("/v1/programs/cedar-ridge-treatment")).json()["payment_terms"]
    assert terms["policy"] == "program" and terms["min_down_payment"] == "500.00"
    assert terms["terms"] == [{"months": 10, "apr": "0", "min_monthly": "100.00"},
                              {"months": 36, "apr": "9.99", "min_monthly": "100.00"}]
    assert terms["effective_date"] == "2026-06-01" and terms["import_id"] == new["import_id"]

    r = await api.post("/v1/payment-plans/quote", json={"program_id": "cedar-ridge-treatment", "amount": "5000.00",
                                                        "down_payment": "499.99"})
    assert r.status_code == 422 and _problem_fields(r) == ["down_payment"]
    assert "500.00" in r.json()["errors"][0]["message"]
    r = await api.post("/v1/payment-plans/quote", json={"program_id": "cedar-ridge-treatment", "amount": "5500.00"})
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["down_payment"] == "500.00" and q["policy"] == "program"  # the minimum, when none is sent
    ten = next(x for x in q["quotes"] if x["months"] == 10)
    assert ten["monthly_payment"] == "500.00" and ten["final_payment"] == "500.00" and ten["total_paid"] == "5500.00"

    r = await api.get("/v1/imports", headers=keys["admin"], params={"kind": "payment_terms"})
    demo = next(i for i in r.json()["imports"] if i["source"] == "demo/payment_terms.csv")
    assert (await api.post(f"/v1/imports/{demo['import_id']}/activate", headers=keys["admin"])).status_code == 200
    await _until(months, [(6, "7.99", "0.00"), (12, "7.99", "0.00"), (24, "7.99", "0.00")])


async def test_poverty_guidelines_import_moves_households_and_rolls_back(api, keys):
    async def placed():
        r = await api.post("/v1/sliding-scale", json={"program_id": "sunrise-recovery", "household": HOUSEHOLD,
                                                      "year": 2026})
        assert r.status_code == 200, r.text
        b = r.json()
        return b["guideline"], b["fpl_percent"], b["tier"]

    shipped = await placed()
    assert shipped[0] == "27320.00" and shipped[2] == "D"
    first = await _import(api, keys, "poverty_guidelines", "hhs-a.csv",
                          GUIDELINES + "2026,48,20000,6000\n2026,AK,25000,7500\n2026,HI,23000,6900\n")
    assert first["status"] == "succeeded", first
    # 20,000 + 2 x 6,000 = 32,000; 41,000 / 32,000 = 128.125 % -> default tier C
    await _until(placed, ("32000.00", "128.125", "C"))
    second = await _import(api, keys, "poverty_guidelines", "hhs-b.csv",
                           GUIDELINES + "2026,48,10000,5000\n2026,AK,12500,6250\n2026,HI,11500,5750\n")
    assert second["status"] == "succeeded"
    await _until(placed, ("20000.00", "205", None))  # above the last default tier: no discount
    assert (await api.post(f"/v1/imports/{first['import_id']}/activate", headers=keys["admin"])).status_code == 200
    await _until(placed, ("32000.00", "128.125", "C"))


# ----------------------------------------------------------------------------- POST /v1/sliding-scale


async def test_sliding_scale_default_and_program_policies(client):
    r = await client.post("/v1/sliding-scale", json={"program_id": "sunrise-recovery", "household": HOUSEHOLD,
                                                     "year": 2026})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["policy"] == "default" and b["tier"] == "D" and b["discount_percent"] == "40"
    assert b["nominal_fee"] is None and b["guideline"] == "27320.00" and b["year"] == 2026 and b["region"] == "48"
    assert Decimal(b["fpl_percent"]).quantize(Decimal("0.01")) == Decimal("150.07")

    r = await client.post("/v1/sliding-scale", json={"program_id": "harborview-behavioral-health",
                                                     "household": HOUSEHOLD, "year": 2026})
    b = r.json()
    assert b["policy"] == "program" and b["tier"] == "C" and b["discount_percent"] == "50"


async def test_income_zero_is_tier_a(client):
    for program, fee in (("sunrise-recovery", "20.00"), ("harborview-behavioral-health", "10.00")):
        r = await client.post("/v1/sliding-scale", json={
            "program_id": program, "household": {"size": 1, "annual_income": "0", "state": "ak"}})
        assert r.status_code == 200, r.text
        b = r.json()
        assert b["tier"] == "A" and b["nominal_fee"] == fee and b["discount_percent"] is None
        assert b["fpl_percent"] == "0" and b["region"] == "AK"


async def test_a_later_year_uses_the_latest_guideline_and_high_income_has_no_tier(client):
    r = await client.post("/v1/sliding-scale", json={
        "program_id": "sunrise-recovery", "household": {**HOUSEHOLD, "annual_income": "90000"}, "year": 2031})
    b = r.json()
    assert r.status_code == 200 and b["year"] == 2026 and b["tier"] is None and b["discount_percent"] is None


async def test_sliding_scale_bad_input(client):
    ok = {"program_id": "sunrise-recovery", "household": HOUSEHOLD}
    cases = [
        ({"program_id": "sunrise-recovery"}, ["household"]),
        ({**ok, "household": {**HOUSEHOLD, "size": 0}}, ["household.size"]),
        ({**ok, "household": {**HOUSEHOLD, "annual_income": "-1"}}, ["household.annual_income"]),
        ({**ok, "household": {**HOUSEHOLD, "annual_income": "12.345"}}, ["household.annual_income"]),
        ({**ok, "household": {**HOUSEHOLD, "state": "ZZ"}}, ["household.state"]),
        ({**ok, "year": "2026"}, ["year"]),
        ({**ok, "year": 1900}, ["year"]),
        ({**ok, "extra": 1}, ["extra"]),
        ({**ok, "program_id": "no such"}, ["program_id"]),
    ]
    for body, fields in cases:
        r = await client.post("/v1/sliding-scale", json=body)
        assert r.status_code == 422 and _problem_fields(r) == fields, (body, r.text)
    r = await client.post("/v1/sliding-scale", json={**ok, "year": 1990})  # no guideline that old
    assert r.status_code == 422 and _problem_fields(r) == ["household"]
    r = await client.post("/v1/sliding-scale", json={**ok, "program_id": "nowhere"})
    assert r.status_code == 404 and _problem_fields(r) == ["program_id"]


# ----------------------------------------------------------------------------- POST /v1/payment-plans/quote


async def test_quote_with_the_default_terms(client):
    r = await client.post("/v1/payment-plans/quote", json={"program_id": "sunrise-recovery", "amount": "1000",
                                                           "down_payment": "100"})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["policy"] == "default" and b["amount"] == "1000.00" and b["down_payment"] == "100.00"
    # 900 over 3, 6, 12 months at 0 %: 300.00, 150.00, 75.00
    assert [(q["months"], q["monthly_payment"], q["final_payment"], q["total_paid"]) for q in b["quotes"]] == [
        (3, "300.00", "300.00", "1000.00"), (6, "150.00", "150.00", "1000.00"), (12, "75.00", "75.00", "1000.00")]
    r = await client.post("/v1/payment-plans/quote", json={"program_id": "sunrise-recovery", "amount": "60.00"})
    assert [q["months"] for q in r.json()["quotes"]] == []  # 20.00 a month is below the 25.00 minimum


async def test_quote_with_a_programs_terms(client):
    r = await client.post("/v1/payment-plans/quote", json={"program_id": "cedar-ridge-treatment", "amount": "2400.00"})
    b = r.json()
    assert b["policy"] == "program" and [q["months"] for q in b["quotes"]] == [6, 12, 24]
    for q in b["quotes"]:
        assert q["apr"] == "7.99" and Decimal(q["total_interest"]) > 0
        assert Decimal(q["total_paid"]) == Decimal("2400.00") + Decimal(q["total_interest"])
        assert Decimal(q["monthly_payment"]) * (q["months"] - 1) + Decimal(q["final_payment"]) == Decimal(q["total_paid"])


async def test_quote_bad_input(client):
    ok = {"program_id": "sunrise-recovery", "amount": "1000.00"}
    cases = [
        ({"program_id": "sunrise-recovery"}, ["amount"]),
        ({**ok, "amount": "-5"}, ["amount"]),
        ({**ok, "amount": "ten"}, ["amount"]),
        ({**ok, "down_payment": "-1"}, ["down_payment"]),
        ({**ok, "down_payment": "1000.01"}, ["down_payment"]),  # more than the amount
        ({**ok, "months": 6}, ["months"]),
    ]
    for body, fields in cases:
        r = await client.post("/v1/payment-plans/quote", json=body)
        assert r.status_code == 422 and _problem_fields(r) == fields, (body, r.text)
    r = await client.post("/v1/payment-plans/quote", json={**ok, "program_id": "nowhere"})
    assert r.status_code == 404 and _problem_fields(r) == ["program_id"]


async def test_program_shows_the_default_policies_when_it_has_none(client):
    r = await client.get("/v1/programs/sunrise-recovery")
    assert r.status_code == 200
    b = r.json()
    assert b["sliding_scale"]["policy"] == "default" and b["sliding_scale"]["version_id"] is None
    assert [(t["name"], t["max_fpl_percent"]) for t in b["sliding_scale"]["tiers"]] == [
        ("A", "100"), ("B", "125"), ("C", "150"), ("D", "175"), ("E", "200")]
    assert b["payment_terms"] == {"policy": "default", "min_down_payment": None, "effective_date": None,
                                  "version_id": None, "import_id": None,
                                  "terms": [{"months": n, "apr": "0", "min_monthly": "25.00"} for n in (3, 6, 12)]}
    demo = (await client.get("/v1/programs/harborview-behavioral-health")).json()["sliding_scale"]
    assert demo["policy"] == "program" and demo["effective_date"] == "2026-01-01" and demo["import_id"]
