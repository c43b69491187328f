"""The HTTP contract of docs/API.md, through HTTP, against a real PostgreSQL with the demo data."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import pytest

MONEY = re.compile(r"^\d+\.\d{2}$")
IOP_PPO = {
    "program_id": "sunrise-recovery",
    "level_of_care": "iop",
    "coverage": {"plan_id": "acme-ppo-gold", "network": "auto", "tier": "individual"},
    "episode": {"start_date": "2026-12-01", "weeks": 12, "days_per_week": 3},
    "household": {"size": 3, "annual_income": "41000.00", "state": "CA"},
    "payment_plan": {"down_payment": "0.00"},
}


def _money_fields(node, path=""):
    """Yield (path, value) of every money-looking field of an estimate document."""
    names = {"billed", "allowed", "plan_pays", "patient_pays", "deductible", "copay", "coinsurance",
             "not_covered", "balance_bill", "cash_total", "monthly_payment", "final_payment",
             "total_interest", "total_paid", "down_payment", "deductible_met", "oop_met",
             "family_deductible_met", "family_oop_met"}
    if isinstance(node, dict):
        for k, v in node.items():
            if k in names and isinstance(v, str):
                yield f"{path}.{k}", v
            else:
                yield from _money_fields(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _money_fields(v, f"{path}[{i}]")


async def test_iop_estimate_in_network_to_the_cent(client):
    r = await client.post("/v1/estimates", json=IOP_PPO)
    assert r.status_code == 201, r.text
    e = r.json()
    assert r.headers["location"] == f"/v1/estimates/{e['estimate_id']}"
    assert e["network_status"] == "in_network"
    assert e["episode"] == {"start_date": "2026-12-01", "end_date": "2027-02-18", "units": 36, "unit": "day"}
    # Hand-computed (see docs/ENGINE.md conventions): December 2026 at the 2026 rate $520,
    # deductible $1,500 met by the intake (215) + 520 + 520 + 245, then 20 % coinsurance;
    # the plan year resets on 2027-01-01 and the 2027 rate is $545.
    #   Dec: 215 + 520 + 520 + (245 + 55) + 12 x 104            = 2803.00
    #   Jan: 545 + 545 + (410 + 27) + 9 x 109                   = 2508.00
    #   Feb: 9 x 109                                            =  981.00
    assert e["by_month"] == [
        {"month": "2026-12", "patient_pays": "2803.00"},
        {"month": "2027-01", "patient_pays": "2508.00"},
        {"month": "2027-02", "patient_pays": "981.00"},
    ]
    t = e["totals"]
    assert t["patient_pays"] == "6292.00"
    assert t["deductible"] == "3000.00" and t["coinsurance"] == "3292.00" and t["copay"] == "0.00"
    assert t["billed"] == "27350.00"  # 36 x 750 + 350
    assert t["allowed"] == "19460.00"  # 15 x 520 + 21 x 545 + 215
    assert Decimal(t["plan_pays"]) + Decimal(t["patient_pays"]) == Decimal(t["allowed"])
    assert {(ln["billing_code"], ln["quantity"]) for ln in e["lines"]} == {("90791", 1), ("H0015", 36)}
    codes = {n["code"] for n in e["notices"]}
    assert {"prior_authorization_required", "plan_year_reset"} <= codes
    # Self-pay comparison: 2026 guideline for 3 people = 15,960 + 2 x 5,680 = 27,320;
    # 41,000 / 27,320 = 150.07 % -> tier D, 40 % off; cash 36 x 425 + 200 = 15,500 -> 9,300.
    assert e["selfpay"]["tier"] == "D" and e["selfpay"]["discount_percent"] == "40"
    assert e["selfpay"]["cash_total"] == "15500.00" and e["selfpay"]["patient_pays"] == "9300.00"
    assert Decimal(e["selfpay"]["fpl_percent"]).quantize(Decimal("0.01")) == Decimal("150.07")
    # Payment plans on 6,292.00: 3 months -> 2097.33, 2097.33, 2097.34.
    three = next(p for p in e["payment_plans"] if p["months"] == 3)
    assert three["monthly_payment"] == "2097.33" and three["final_payment"] == "2097.34"
    assert e["range"]["low"] == e["range"]["high"] == {"units": 36, "patient_pays": "6292.00"}
    assert e["disclaimer"]
    for where, value in _money_fields(e):
        assert MONEY.match(value), (where, value)

    stored = await client.get(f"/v1/estimates/{e['estimate_id']}")
    assert stored.status_code == 200
    assert stored.content == r.content  # the very bytes that were returned


async def test_identical_answers_share_one_stored_document(client, conn):
    before = await conn.fetchval("SELECT count(*) FROM estimate_documents")
    first = (await client.post("/v1/estimates", json=IOP_PPO)).json()
    second = (await client.post("/v1/estimates", json=IOP_PPO)).json()
    other = (await client.post("/v1/estimates", json={**IOP_PPO, "household": None})).json()
    assert first["estimate_id"] != second["estimate_id"]
    assert await conn.fetchval("SELECT count(*) FROM estimate_documents") == before + 2
    for e in (first, second, other):
        got = await client.get(f"/v1/estimates/{e['estimate_id']}")
        assert got.json() == e


async def test_self_pay_estimate_has_range_and_gfe_disclaimer(client):
    body = {"program_id": "cedar-ridge-treatment", "level_of_care": "residential"}
    r = await client.post("/v1/estimates", json=body)
    assert r.status_code == 201, r.text
    e = r.json()
    assert e["network_status"] == "self_pay"
    # Default residential episode: 30 days at cash 850 + intake 195.
    assert e["episode"]["units"] == 30
    assert e["totals"]["patient_pays"] == e["selfpay"]["patient_pays"] == "25695.00"
    assert e["selfpay"]["tier"] is None and e["selfpay"]["fpl_percent"] is None
    # Range: 28 and 60 days.
    assert e["range"]["low"] == {"units": 28, "patient_pays": "23995.00"}
    assert e["range"]["high"] == {"units": 60, "patient_pays": "51195.00"}
    assert "Good Faith Estimate" in e["disclaimer"]
    # The demo gives this program its own payment terms (6/12/24 months at 7.99 % APR).
    assert [p["months"] for p in e["payment_plans"]] == [6, 12, 24]
    assert all(Decimal(p["total_interest"]) > 0 for p in e["payment_plans"])


async def test_epo_out_of_network_is_not_covered(client):
    body = {"program_id": "sunrise-recovery", "level_of_care": "iop",
            "coverage": {"plan_id": "bluepeak-epo-select", "network": "out_of_network"},
            "episode": {"start_date": "2026-12-01"}}
    r = await client.post("/v1/estimates", json=body)
    assert r.status_code == 201, r.text
    e = r.json()
    assert e["network_status"] == "out_of_network"
    assert e["totals"]["plan_pays"] == "0.00"
    assert e["totals"]["not_covered"] == e["totals"]["billed"] == e["totals"]["patient_pays"]
    assert "not_covered" in {n["code"] for n in e["notices"]}


async def test_inline_benefits_with_accumulators(client):
    benefits = {
        "payer_id": "acme", "plan_year_start": "01-01",
        "in_network": {
            "deductible": {"individual": "1000.00"}, "oop_max": {"individual": "2000.00"},
            "levels": {"outpatient": {"covered": True, "copay": "25", "copay_unit": "per_visit",
                                      "deductible_applies": False, "coinsurance_pct": "0"}},
        },
    }
    body = {"program_id": "sunrise-recovery", "level_of_care": "outpatient",
            "coverage": {"benefits": benefits, "accumulators": {"in_network": {"oop_met": "1990.00"}}},
            "episode": {"start_date": "2026-03-02", "weeks": 4, "sessions_per_week": 1}}
    r = await client.post("/v1/estimates", json=body)
    assert r.status_code == 201, r.text
    e = r.json()
    # In network (acme has rates with sunrise). Only $10 of out-of-pocket room is left:
    # the intake's $25 copay is capped at $10; everything after is paid by the plan.
    assert e["network_status"] == "in_network"
    assert e["totals"]["patient_pays"] == "10.00"
    assert e["accumulators_after"]["in_network"]["oop_met"] == "2000.00"


async def test_batch_keeps_item_order_and_isolates_failures(client):
    body = {
        "coverage": {"plan_id": "acme-ppo-gold"},
        "episode": {"start_date": "2026-12-01"},
        "items": [
            {"program_id": "sunrise-recovery", "level_of_care": "iop"},
            {"program_id": "no-such-program", "level_of_care": "iop"},
            {"program_id": "cedar-ridge-treatment", "level_of_care": "iop"},
            {"program_id": "harborview-behavioral-health", "level_of_care": "php"},
        ],
    }
    r = await client.post("/v1/estimates/batch", json=body)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 4
    assert results[0]["program_id"] == "sunrise-recovery"
    assert results[1]["error"]["status"] == 404
    assert results[1]["error"]["errors"][0]["field"] == "program_id"
    assert results[2]["error"]["status"] == 422  # cedar ridge offers no IOP
    assert results[3]["level_of_care"] == "php"
    for ok in (results[0], results[3]):
        got = await client.get(f"/v1/estimates/{ok['estimate_id']}")
        assert got.status_code == 200 and got.json() == ok


async def test_batch_limit(client):
    items = [{"program_id": "sunrise-recovery", "level_of_care": "iop"}] * 201
    r = await client.post("/v1/estimates/batch", json={"items": items})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "items"


async def test_compare_cheapest_first(client):
    body = {"program_id": "sunrise-recovery", "coverage": {"plan_id": "acme-ppo-gold"},
            "episode": {"start_date": "2026-03-02"}}
    r = await client.post("/v1/estimates/compare", json=body)
    assert r.status_code == 200, r.text
    estimates = r.json()["estimates"]
    assert sorted(e["level_of_care"] for e in estimates) == ["iop", "outpatient", "php"]
    prices = [Decimal(e["totals"]["patient_pays"]) for e in estimates]
    assert prices == sorted(prices)


async def test_compare_unknown_program(client):
    r = await client.post("/v1/estimates/compare", json={"program_id": "nope"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_reference_endpoints(client):
    r = await client.get("/v1/levels-of-care")
    levels = {lvl["code"]: lvl for lvl in r.json()["levels_of_care"]}
    assert set(levels) == {"detox", "residential", "php", "iop", "outpatient"}
    assert levels["iop"]["asam"] == "2.1"

    payers = (await client.get("/v1/payers")).json()["payers"]
    assert {p["payer_id"] for p in payers} == {"acme", "bluepeak", "evergreen"}
    plans = (await client.get("/v1/payers/bluepeak/plans")).json()["plans"]
    assert {p["plan_type"] for p in plans} == {"HDHP", "EPO"}
    assert (await client.get("/v1/payers/nobody/plans")).status_code == 404

    program = (await client.get("/v1/programs/sunrise-recovery")).json()
    assert program["levels_of_care"] == ["iop", "outpatient", "php"]
    assert program["fee_schedule"]["iop"][0]["billing_code"] in {"90791", "H0015"}
    missing = await client.get("/v1/programs/nope")
    assert missing.status_code == 404 and missing.json()["status"] == 404


async def test_health_ready_and_docs(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = (await client.get("/ready")).json()
    assert ready["status"] == "ready" and ready["programs"] >= 4
    spec = (await client.get("/schema/openapi.json")).json()
    for path in ("/v1/estimates", "/v1/estimates/batch", "/v1/estimates/compare", "/v1/levels-of-care",
                 "/v1/payers", "/v1/payers/{payer_id}/plans", "/v1/programs/{program_id}"):
        assert path in spec["paths"], path
    page = await client.get("/schema")
    assert page.status_code == 200 and "<html" in page.text.lower()


async def test_unknown_estimate_and_plan_are_404(client):
    assert (await client.get("/v1/estimates/00000000-0000-0000-0000-000000000000")).status_code == 404
    assert (await client.get("/v1/estimates/not-a-uuid")).status_code == 404
    body = dict(IOP_PPO, coverage={"plan_id": "no-such-plan"})
    r = await client.post("/v1/estimates", json=body)
    assert r.status_code == 404
    assert r.json()["errors"] == [{"field": "coverage.plan_id", "message": "unknown plan 'no-such-plan'"}]


# ----------------------------------------------------------------- bad input it must survive


def _fields(response) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {e["field"] for e in response.json()["errors"]}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"household": {"size": 3, "annual_income": "-5.00", "state": "CA"}}, "household.annual_income"),
        ({"household": {"size": 3, "annual_income": "1e15", "state": "CA"}}, "household.annual_income"),
        ({"household": {"size": 3, "annual_income": "NaN", "state": "CA"}}, "household.annual_income"),
        ({"household": {"size": 3, "annual_income": "10.005", "state": "CA"}}, "household.annual_income"),
        ({"household": {"size": 0, "annual_income": "100", "state": "CA"}}, "household.size"),
        ({"household": {"size": 2, "annual_income": "100", "state": "ZZ"}}, "household.state"),
        ({"level_of_care": "spa-weekend"}, "level_of_care"),
        ({"episode": {"weeks": 0}}, "episode.weeks"),
        ({"episode": {"weeks": 10000, "days_per_week": 3}}, "episode.weeks"),
        ({"payment_plan": {"down_payment": "-1"}}, "payment_plan.down_payment"),
        ({"coverage": {"plan_id": "acme-ppo-gold", "network": "sideways"}}, "coverage.network"),
    ],
)
async def test_invalid_field_is_named(client, patch, field):
    r = await client.post("/v1/estimates", json={**IOP_PPO, **patch})
    assert r.status_code == 422, r.text
    assert field in _fields(r)


async def test_negative_money_inside_inline_benefits(client):
    benefits = {"in_network": {"deductible": {"individual": "-100"},
                               "levels": {"iop": {"copay": "abc", "coinsurance_pct": "140"}}}}
    r = await client.post("/v1/estimates", json={**IOP_PPO, "coverage": {"benefits": benefits}})
    assert r.status_code == 422
    assert _fields(r) == {
        "coverage.benefits.in_network.deductible.individual",
        "coverage.benefits.in_network.levels.iop.copay",
        "coverage.benefits.in_network.levels.iop.coinsurance_pct",
    }


async def test_every_invalid_field_is_reported_at_once(client):
    body = {"program_id": "sunrise-recovery", "level_of_care": "iop-ish",
            "household": {"size": 0, "annual_income": "-1", "state": "CA"}, "surprise": 1}
    r = await client.post("/v1/estimates", json=body)
    assert r.status_code == 422
    assert _fields(r) == {"level_of_care", "household.size", "household.annual_income", "surprise"}


async def test_plan_and_benefits_together(client):
    coverage = {"plan_id": "acme-ppo-gold", "benefits": {"in_network": {}}}
    r = await client.post("/v1/estimates", json={**IOP_PPO, "coverage": coverage})
    assert r.status_code == 422
    assert _fields(r) == {"coverage.plan_id", "coverage.benefits"}


async def test_episode_limit_is_a_clear_error_not_a_timeout(client):
    body = {**IOP_PPO, "episode": {"weeks": 10000, "days_per_week": 7}}
    r = await asyncio.wait_for(client.post("/v1/estimates", json=body), timeout=5)
    assert r.status_code == 422
    detail = r.json()["errors"][0]["message"]
    assert re.search(r"\d", detail), detail  # names the limit


async def test_malformed_json_is_400_problem(client):
    r = await client.post("/v1/estimates", content=b'{"program_id": "sunrise-recovery",',
                          headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "JSON" in r.json()["detail"]


async def test_body_over_one_megabyte_is_413(client):
    big = {**IOP_PPO, "padding": "x" * (1024 * 1024 + 10)}
    r = await client.post("/v1/estimates", json=big)
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_level_not_offered_is_422(client):
    r = await client.post("/v1/estimates", json={**IOP_PPO, "level_of_care": "detox"})
    assert r.status_code == 422
    assert _fields(r) == {"level_of_care"}


async def test_docs_pages_load_only_from_this_service(client):
    import re as _re

    for page in ("/schema", "/schema/swagger"):
        html = (await client.get(page)).text
        assert "<html" in html.lower()
        refs = _re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert refs and not [r for r in refs if r.startswith(("http:", "https:", "//"))], refs
        for ref in refs:
            asset = await client.get(ref)
            assert asset.status_code == 200 and len(asset.content) > 100, ref
    assert "fonts.googleapis" not in (await client.get("/schema")).text
