"""GET /v1/programs and GET /v1/plans: what a locator needs to find ids, from the demo data."""

from __future__ import annotations


async def _ids(client, query: str) -> list[str]:
    r = await client.get(f"/v1/programs?{query}")
    assert r.status_code == 200, r.text
    return [p["program_id"] for p in r.json()["programs"]]


async def test_programs_filtered_and_paginated(client):
    page = (await client.get("/v1/programs")).json()
    every = [p["program_id"] for p in page["programs"]]
    assert page["total"] == len(every) == 5 and every == sorted(every)
    sunrise = next(p for p in page["programs"] if p["program_id"] == "sunrise-recovery")
    assert sunrise["levels_of_care"] == ["iop", "outpatient", "php"] and "acme" in sunrise["in_network_payers"]

    assert await _ids(client, "state=tx") == await _ids(client, "state=TX") == ["sunrise-recovery"]
    assert set(await _ids(client, "level_of_care=residential")) == {"cedar-ridge-treatment"} | {
        p["program_id"] for p in page["programs"] if "residential" in p["levels_of_care"]}
    assert "cedar-ridge-treatment" not in await _ids(client, "level_of_care=iop")
    in_network = await _ids(client, "payer_id=acme")
    assert "sunrise-recovery" in in_network and all(
        "acme" in p["in_network_payers"] for p in page["programs"] if p["program_id"] in in_network)
    assert await _ids(client, "plan_id=acme-ppo-gold") == in_network  # a plan's network is its payer's
    assert await _ids(client, "name=SUNRISE") == ["sunrise-recovery"]
    assert await _ids(client, "name=sunrise&state=CA") == []

    first, second = await _ids(client, "limit=2"), await _ids(client, "limit=2&offset=2")
    assert first + second == every[:4]
    beyond = (await client.get("/v1/programs?offset=100")).json()
    assert beyond["programs"] == [] and beyond["total"] == 5


async def test_programs_filter_naming_nothing_is_404(client):
    for query, field in [("payer_id=nobody", "payer_id"), ("plan_id=no-such-plan", "plan_id")]:
        r = await client.get(f"/v1/programs?{query}")
        assert r.status_code == 404 and r.json()["errors"][0]["field"] == field


async def test_plans_filtered_by_payer_and_paginated(client):
    page = (await client.get("/v1/plans")).json()
    assert page["total"] == len(page["plans"]) == 5
    assert [(p["payer_id"], p["plan_id"]) for p in page["plans"]] == sorted(
        (p["payer_id"], p["plan_id"]) for p in page["plans"])
    bluepeak = (await client.get("/v1/plans?payer_id=bluepeak")).json()
    assert {p["plan_type"] for p in bluepeak["plans"]} == {"HDHP", "EPO"} and bluepeak["total"] == 2
    one = (await client.get("/v1/plans?limit=1&offset=1")).json()
    assert one["plans"] == page["plans"][1:2] and one["limit"] == 1
    assert (await client.get("/v1/plans?payer_id=nobody")).status_code == 404
    # a plan found here prices: the id is what coverage.plan_id takes
    plan_id = page["plans"][0]["plan_id"]
    r = await client.post("/v1/estimates", json={"program_id": "sunrise-recovery", "level_of_care": "iop",
                                                 "coverage": {"plan_id": plan_id}})
    assert r.status_code == 201 and r.json()["plan_id"] == plan_id
