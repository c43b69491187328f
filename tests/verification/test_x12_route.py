"""POST /v1/verifications with application/edi-x12: one verification per person of a 271."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from litestar.testing import AsyncTestClient

from costsvc.api.app import create_app
from costsvc.phi import generate_key
from costsvc.settings import Settings
from tests.unit.x12_builder import SUBSCRIBER_ID, body_271
from tests.verification.conftest import bearer, make_keys

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "x12-271"
X12 = {"Content-Type": "application/edi-x12"}


async def post_271(staffed, body: bytes, query: str = ""):
    return await staffed.client.post(f"/v1/verifications{query}", content=body, headers={**staffed.staff, **X12})


async def test_one_verification_per_person(staffed):
    r = await post_271(staffed, (FIXTURES / "271-dependent-benefits.txt").read_bytes(),
                       "?plan_id=acme-ppo-gold&verified_by=dana")
    assert r.status_code == 201, r.text
    people = r.json()["verifications"]
    assert [(v["member"]["relationship"], v["status"]) for v in people] == [("subscriber", "inactive"),
                                                                          ("dependent", "active")]
    dependent = people[1]
    assert dependent["source"] == "x12_271" and dependent["plan_id"] == "acme-ppo-gold"
    assert dependent["verified_by"] == "dana" and dependent["as_of"] == "2011-08-01"
    assert dependent["unmapped"] and all(u["segment"] and u["reason"] for u in dependent["unmapped"])
    assert any("SE01" in w for w in dependent["warnings"])
    assert dependent["member"]["member_id"].startswith("*")
    # an inactive person has no covered level, whatever the stored plan says
    subscriber_levels = people[0]["effective_benefits"]["in_network"]["levels"]
    assert subscriber_levels and not any(level["covered"] for level in subscriber_levels.values())


async def test_met_is_completed_from_the_stored_plan_when_the_file_gives_only_what_remains(staffed):
    # remaining in-network individual deductible 250.00; the file states no plan amount
    body = body_271("DTP*307*D8*20261101", "EB*1**30", "EB*C*IND*30***29*250*****Y")
    r = await post_271(staffed, body, "?plan_id=acme-ppo-gold")
    assert r.status_code == 201, r.text
    (v,) = r.json()["verifications"]
    assert v["accumulators"]["in_network"]["deductible_met"] == "1250.00"  # 1500.00 - 250.00
    assert v["as_of"] == "2026-11-01"
    r = await post_271(staffed, body)
    (v,) = r.json()["verifications"]
    assert v["accumulators"]["in_network"]["deductible_met"] == "0.00"
    assert any("remaining" in w and "deductible_met left unset" in w for w in v["warnings"])


async def test_the_search_finds_a_271_member(staffed):
    r = await post_271(staffed, body_271("EB*1**30"), "?plan_id=acme-ppo-gold")
    assert r.status_code == 201, r.text
    r = await staffed.client.post("/v1/verifications/search", json={"member_id": SUBSCRIBER_ID.lower()},
                                  headers=staffed.staff)
    assert len(r.json()["verifications"]) == 1


async def test_a_rejected_271_is_a_422_naming_the_segment(staffed):
    r = await post_271(staffed, (FIXTURES / "271-example.txt").read_bytes())
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"].endswith("/x12-rejected")
    assert problem["errors"][0]["field"] == "segment 14 (AAA)" and "72" in problem["errors"][0]["message"]
    r = await post_271(staffed, b"this is not X12 at all")
    assert r.status_code == 422 and "ISA" in r.json()["detail"]


async def test_a_future_eligibility_date_is_422(staffed):
    r = await post_271(staffed, body_271("DTP*307*D8*29990101", "EB*1**30"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "people[0].as_of"


async def test_unknown_query_parameters_and_unknown_plan(staffed):
    r = await post_271(staffed, body_271("EB*1**30"), "?member_id=W123456789")
    assert r.status_code == 422 and "W123456789" not in r.text
    r = await post_271(staffed, body_271("EB*1**30"), "?plan_id=nope")
    assert r.status_code == 404


async def _raw_x12_column(db_url: str) -> list:
    conn = await asyncpg.connect(db_url)
    try:
        return [r["x12_enc"] for r in await conn.fetch("SELECT x12_enc FROM verifications")]
    finally:
        await conn.close()


async def test_the_raw_271_is_kept_only_with_keep_x12_and_only_encrypted(staffed, db_url):
    body = body_271("EB*1**30")
    assert (await post_271(staffed, body)).status_code == 201
    assert await _raw_x12_column(db_url) == [None]  # not kept by default

    other_db = db_url  # same database, a second app that keeps 271s
    staff, _ = await make_keys(other_db)
    settings = Settings(phi_keys=generate_key(), keep_x12=True)
    app = create_app(settings, database_url=other_db)
    async with AsyncTestClient(app=app) as client:
        r = await client.post("/v1/verifications", content=body, headers={**bearer(staff.key), **X12})
        assert r.status_code == 201
        kept = [t for t in await _raw_x12_column(db_url) if t is not None]
        assert len(kept) == 1 and SUBSCRIBER_ID.encode() not in kept[0]
        assert app.state.phi_vault.decrypt(kept[0]) == body
