"""Verification routes through HTTP against a real PostgreSQL: record, read, list,
search, reveal, audit, roles, and the bad input each must survive."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from tests.verification.conftest import bearer

MEMBER = "ZQX-55512345"
BODY = {
    "plan_id": "acme-ppo-gold", "member_id": MEMBER, "relationship": "subscriber",
    "patient": {"name": "Juniper Stavros", "date_of_birth": "1979-04-23"},
    "benefits": {"in_network": {"levels": {"iop": {"copay": "35", "coinsurance_pct": "20"}}}},
    "accumulators": {"as_of": "2026-11-01", "in_network": {"deductible_met": "250.00"}},
    "reference": "CALL-778", "source": "phone", "verified_by": "dana", "as_of": "2026-11-02",
}


async def record(staffed, body=BODY, headers=None):
    r = await staffed.client.post("/v1/verifications", json=body, headers=headers or staffed.staff)
    assert r.status_code == 201, r.text
    return r.json()["verifications"][0]


async def test_record_shows_the_contract_shape_with_masks(staffed):
    v = await record(staffed)
    assert list(v)[:16] == ["verification_id", "created_at", "source", "status", "as_of", "plan_id", "payer_name",
                            "plan_name", "member", "benefits", "accumulators", "effective_benefits",
                            "discrepancies", "parity_flags", "unmapped", "warnings"]
    assert v["source"] == "phone" and v["status"] == "active" and v["as_of"] == "2026-11-02"
    assert v["member"] == {"member_id": "********2345", "relationship": "subscriber", "name": "J****** S******"}
    assert v["benefits"] == {"in_network": {"levels": {"iop": {"copay": "35.00", "coinsurance_pct": "20"}}}}
    iop = v["effective_benefits"]["in_network"]["levels"]["iop"]
    assert iop["copay"] == "35.00" and iop["coinsurance_pct"] == "20" and iop["prior_auth"] is True
    assert v["discrepancies"] == [{"field": "in_network.levels.iop.copay", "stored": "0.00", "verified": "35.00",
                                   "used": "verified"}]
    assert v["accumulators"]["in_network"]["deductible_met"] == "250.00"
    assert v["accumulators"]["as_of"] == "2026-11-01"


async def test_stored_rows_hold_no_plaintext_phi(staffed):
    v = await record(staffed)
    conn = await asyncpg.connect(staffed.db_url)
    try:
        row = await conn.fetchrow("SELECT * FROM verifications WHERE verification_id = $1::uuid",
                                  v["verification_id"])
    finally:
        await conn.close()
    dump = repr(dict(row)).encode()
    for secret in (MEMBER, "Juniper", "Stavros", "1979-04-23"):
        assert secret.encode() not in dump
    vault = staffed.app.state.phi_vault
    assert vault.decrypt_text(row["member_id_enc"]) == MEMBER
    assert row["member_id_hash"] == vault.lookup_hash(MEMBER)


async def test_get_reveal_list_search_and_audit(staffed):
    c = staffed.client
    first = await record(staffed)
    other = await record(staffed, {**BODY, "member_id": "OTHER-0000001"})
    third = await record(staffed)
    vid = first["verification_id"]

    r = await c.get(f"/v1/verifications/{vid}", headers=staffed.staff)
    assert r.status_code == 200 and r.json()["member"]["member_id"] == "********2345"
    r = await c.get(f"/v1/verifications/{vid}?reveal=member_id", headers=staffed.staff)
    assert r.json()["member"]["member_id"] == MEMBER

    r = await c.get("/v1/verifications?limit=2", headers=staffed.staff)
    page = r.json()
    assert [v["verification_id"] for v in page["verifications"]] == [third["verification_id"],
                                                                     other["verification_id"]]
    r = await c.get(f"/v1/verifications?limit=2&cursor={page['next_cursor']}", headers=staffed.staff)
    assert [v["verification_id"] for v in r.json()["verifications"]] == [vid]
    assert r.json()["next_cursor"] is None
    r = await c.get("/v1/verifications?plan_id=acme-hmo-silver", headers=staffed.staff)
    assert r.json()["verifications"] == []

    r = await c.post("/v1/verifications/search", json={"member_id": " zqx-555 12345 "}, headers=staffed.staff)
    assert [v["verification_id"] for v in r.json()["verifications"]] == [third["verification_id"], vid]

    r = await c.get("/v1/audit", headers=staffed.admin)
    assert r.status_code == 200
    records = r.json()["records"]
    actions = [(a["action"], a["verification_id"]) for a in records]
    assert ("reveal", vid) in actions and ("read", vid) in actions and ("create", vid) in actions
    assert ("search", vid) in actions and ("list", vid) in actions
    assert all(a["key_name"] == "benefits desk" and a["key_id"] == staffed.staff_key_id for a in records)
    assert all(a["client_address"] for a in records)
    r = await c.get(f"/v1/audit?key_id={staffed.admin_key_id}", headers=staffed.admin)
    assert r.json()["records"] == []
    r = await c.get("/v1/audit?limit=2", headers=staffed.admin)
    assert len(r.json()["records"]) == 2 and r.json()["next_cursor"]


async def test_audit_is_append_only_in_the_database(staffed):
    await record(staffed)
    conn = await asyncpg.connect(staffed.db_url)
    try:
        for sql in ("UPDATE verification_audit SET key_name = 'x'", "DELETE FROM verification_audit",
                    "TRUNCATE verification_audit"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
        assert await conn.fetchval("SELECT count(*) FROM verification_audit") == 1
    finally:
        await conn.close()


async def test_no_key_is_401_and_staff_on_admin_routes_is_403(staffed):
    c = staffed.client
    for method, path in (("get", "/v1/verifications"), ("post", "/v1/verifications"),
                         ("post", "/v1/verifications/search"), ("get", "/v1/audit")):
        r = await getattr(c, method)(path)
        assert r.status_code == 401, path
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = await c.get("/v1/audit", headers=staffed.staff)
    assert r.status_code == 403 and "admin" in r.json()["detail"]
    r = await c.get("/v1/verifications", headers=bearer("csk_" + "x" * 43))
    assert r.status_code == 401


async def test_admin_can_do_what_staff_can(staffed):
    v = await record(staffed, headers=staffed.admin)
    r = await staffed.client.get(f"/v1/verifications/{v['verification_id']}", headers=staffed.admin)
    assert r.status_code == 200


async def test_accumulators_above_the_plan_maximums_are_clamped_with_a_warning(staffed):
    body = {**BODY, "accumulators": {"in_network": {"deductible_met": "99999.00", "oop_met": "7000"}}}
    v = await record(staffed, body)
    acc = v["accumulators"]["in_network"]
    assert acc["deductible_met"] == "1500.00" and acc["oop_met"] == "6000.00"
    assert any("deductible_met 99999.00 is above the individual deductible 1500.00" in w for w in v["warnings"])
    assert any("oop_met 7000.00" in w for w in v["warnings"])


@pytest.mark.parametrize("where", ["as_of", "accumulators.as_of"])
async def test_an_as_of_date_in_the_future_is_422(staffed, where):
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    body = {**BODY, "as_of": tomorrow} if where == "as_of" else {**BODY, "accumulators": {"as_of": tomorrow}}
    r = await staffed.client.post("/v1/verifications", json=body, headers=staffed.staff)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [where]


async def test_coinsurance_of_120_percent_is_422(staffed):
    body = {**BODY, "benefits": {"out_of_network": {"levels": {"php": {"coinsurance_pct": "120"}}}}}
    r = await staffed.client.post("/v1/verifications", json=body, headers=staffed.staff)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["benefits.out_of_network.levels.php.coinsurance_pct"]


@pytest.mark.parametrize("content_type", ["application/json", "application/edi-x12"])
async def test_an_empty_body_is_422_with_a_clear_message(staffed, content_type):
    r = await staffed.client.post("/v1/verifications", content=b"", headers={**staffed.staff,
                                                                             "Content-Type": content_type})
    assert r.status_code == 422, r.text
    assert "empty" in r.json()["detail"]


async def test_every_invalid_field_is_named(staffed):
    body = {"member_id": "", "plan_id": "acme-ppo-gold", "source": "fax", "surprise": 1,
            "benefits": {"in_network": {"levels": {"iop": {"copay": "-5"}}}}}
    r = await staffed.client.post("/v1/verifications", json=body, headers=staffed.staff)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"member_id", "source", "surprise",
                                                         "benefits.in_network.levels.iop.copay"}


async def test_unknown_plan_and_missing_plan(staffed):
    r = await staffed.client.post("/v1/verifications", json={**BODY, "plan_id": "nope"}, headers=staffed.staff)
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "plan_id"
    body = {k: v for k, v in BODY.items() if k != "plan_id"}
    r = await staffed.client.post("/v1/verifications", json=body, headers=staffed.staff)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "plan_id"
    v = await record(staffed, {**body, "payer_name": "ACME HEALTH", "plan_name": "GOLD 123 PLAN"})
    assert v["plan_id"] is None and v["discrepancies"] == []
    assert v["effective_benefits"]["in_network"]["levels"] == {"iop": {
        "covered": True, "copay": "35.00", "copay_unit": "per_day", "deductible_applies": True,
        "coinsurance_pct": "20", "limit_units": None, "prior_auth": False}}


async def test_member_id_in_a_query_parameter_is_refused_without_echo(staffed):
    r = await staffed.client.get(f"/v1/verifications?member_id={MEMBER}", headers=staffed.staff)
    assert r.status_code == 422
    assert MEMBER not in r.text and r.json()["errors"][0]["field"] == "member_id"


async def test_unknown_verification_is_404(staffed):
    for vid in ("01a2334e-1f1a-7c26-8bf3-4fd326315a77", "not-a-uuid"):
        r = await staffed.client.get(f"/v1/verifications/{vid}", headers=staffed.staff)
        assert r.status_code == 404 and r.json()["errors"][0]["field"] == "verification_id"


async def test_without_a_phi_key_verifications_are_refused_with_503(db_url):
    from litestar.testing import AsyncTestClient

    from costsvc.api.app import create_app
    from costsvc.settings import Settings
    from tests.verification.conftest import make_keys

    staff, _ = await make_keys(db_url)
    app = create_app(Settings(database_url=db_url), database_url=db_url)
    async with AsyncTestClient(app=app) as client:
        r = await client.post("/v1/verifications", json=BODY, headers=bearer(staff.key))
        assert r.status_code == 503
        assert "COSTSVC_PHI_KEY" in r.json()["detail"] and r.headers["retry-after"]
        r = await client.get("/v1/verifications", headers=bearer(staff.key))
        assert r.status_code == 503


async def test_parity_flags_on_stored_plans(staffed):
    r = await staffed.client.get("/v1/payers/acme/plans")
    assert r.status_code == 200
    assert all("parity_flags" in p for p in r.json()["plans"])
