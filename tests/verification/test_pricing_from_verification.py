"""Pricing from a verification equals pricing from the same effective benefits and
accumulators sent inline, to the cent (service layer + catalog, and HTTP)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costsvc.catalog import load_catalog
from costsvc.db.pool import create_pool
from costsvc.domain.errors import DomainError
from costsvc.domain.model import EpisodeRequest
from costsvc.domain.verification import clamp_accumulators, effective_benefits
from costsvc.phi import PhiVault
from costsvc.services import estimates, verifications
from costsvc.services.requests import CoverageRequest, EstimateRequest
from tests.verification import strategies as s
from tests.verification.conftest import make_keys
from tests.verification.test_verification_http import BODY, record

TODAY = dt.date(2026, 11, 20)
EPISODE = EpisodeRequest(start_date=dt.date(2026, 12, 1))


def _price(catalog, coverage, level):
    try:
        request = EstimateRequest(program_id="sunrise-recovery", level_of_care=level, coverage=coverage,
                                  episode=EPISODE)
        document = msgspec.json.decode(b"{" + estimates.price(catalog, request, TODAY).tail[1:])
        # what differs by construction: where the benefits came from
        return {k: v for k, v in document.items() if k not in ("plan_id", "verification_id", "payer_id")}
    except DomainError as exc:
        return type(exc), exc.field


async def test_verification_prices_like_its_effective_benefits_inline(db_url, phi_settings):
    # The service layer on this test's own pool and catalog (the HTTP test client runs
    # its app on another thread's loop, where this test cannot use its pool).
    pool = await create_pool(db_url, min_size=1, max_size=2)
    async with pool.acquire() as conn:
        catalog = await load_catalog(conn)
    vault = PhiVault.from_config(phi_settings.phi_keys)
    staff, _ = await make_keys(db_url)
    actor = verifications.Actor(staff.key_id, staff.name, "test")
    loop = asyncio.get_running_loop()

    def run(coroutine):  # hypothesis drives examples on a thread; the database lives on this loop
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=60)

    @settings(max_examples=40, deadline=None)
    @given(plan_id=st.sampled_from([None, "acme-ppo-gold", "acme-hmo-silver"]), partial=s.partial_benefits,
           accumulators=s.accumulators, level=st.sampled_from(["iop", "residential", "outpatient", "detox", "php"]),
           network=st.sampled_from(["auto", "in_network", "out_of_network"]),
           tier=st.sampled_from(["individual", "family"]), status=st.sampled_from(["active", "inactive"]))
    def prices_alike(plan_id, partial, accumulators, level, network, tier, status):
        plan = catalog.plans.get(plan_id) if plan_id else None
        draft = verifications.Draft(
            source="phone", status=status, as_of=TODAY, plan=plan, payer_name="ACME", plan_name="GOLD",
            member_id="M-000111222", relationship="subscriber", patient=None, benefits=partial,
            accumulators=accumulators,
        )
        (stored,) = run(verifications.store(pool, vault, [draft], actor))
        asked = CoverageRequest(verification_id=str(stored.verification_id), network=network, tier=tier)
        resolved = run(verifications.resolve_coverage(pool, asked, actor))

        effective = effective_benefits(plan.benefits if plan else None, partial, status)
        clamped, _ = clamp_accumulators(accumulators, effective)
        inline = CoverageRequest(benefits=effective, accumulators=clamped, network=network, tier=tier)
        assert _price(catalog, resolved, level) == _price(catalog, inline, level)

    try:
        await asyncio.to_thread(prices_alike)
    finally:
        await pool.close()


async def test_http_estimate_from_a_verification_matches_inline(staffed):
    c = staffed.client
    body = {**BODY, "accumulators": {"in_network": {"deductible_met": "400.00", "oop_met": "400.00"},
                                     "units_used": {"iop": 3}}}
    v = await record(staffed, body)
    request = {"program_id": "sunrise-recovery", "level_of_care": "iop",
               "episode": {"start_date": "2026-12-01", "weeks": 12, "days_per_week": 3}}
    r = await c.post("/v1/estimates", json={**request, "coverage": {"verification_id": v["verification_id"]}},
                     headers=staffed.staff)
    assert r.status_code == 201, r.text
    from_verification = r.json()
    assert from_verification["verification_id"] == v["verification_id"]
    assert from_verification["plan_id"] == "acme-ppo-gold"
    inline = {"benefits": v["effective_benefits"], "accumulators": v["accumulators"]}
    r = await c.post("/v1/estimates", json={**request, "coverage": inline})
    assert r.status_code == 201, r.text
    sent_inline = r.json()
    for key in ("totals", "lines", "by_month", "accumulators_after", "network_status", "notices", "payment_plans"):
        assert from_verification[key] == sent_inline[key], key
    # the stored estimate remembers the verification
    stored = await c.get(f"/v1/estimates/{from_verification['estimate_id']}")
    assert stored.json()["verification_id"] == v["verification_id"]
    # the request's own accumulators win over the verification's
    own = {"verification_id": v["verification_id"], "accumulators": {"in_network": {"deductible_met": "1500.00"}}}
    r = await c.post("/v1/estimates", json={**request, "coverage": own}, headers=staffed.staff)
    r2 = await c.post("/v1/estimates", json={**request, "coverage": {
        "benefits": v["effective_benefits"], "accumulators": own["accumulators"]}})
    assert r.json()["totals"] == r2.json()["totals"] != from_verification["totals"]


async def test_batch_and_compare_accept_a_verification(staffed):
    c = staffed.client
    v = await record(staffed)
    coverage = {"verification_id": v["verification_id"]}
    r = await c.post("/v1/estimates/batch", headers=staffed.staff, json={
        "coverage": coverage, "items": [{"program_id": "sunrise-recovery", "level_of_care": "iop"}]})
    assert r.status_code == 200 and r.json()["results"][0]["verification_id"] == v["verification_id"]
    r = await c.post("/v1/estimates/compare", headers=staffed.staff,
                     json={"program_id": "sunrise-recovery", "coverage": coverage})
    assert r.status_code == 200
    assert {e["verification_id"] for e in r.json()["estimates"]} == {v["verification_id"]}
    r = await c.post("/v1/estimates/batch", json={
        "coverage": coverage, "items": [{"program_id": "sunrise-recovery", "level_of_care": "iop"}]})
    assert r.status_code == 401


@pytest.mark.parametrize("route", ["/v1/estimates", "/v1/estimates/compare"])
async def test_a_verification_in_an_estimate_needs_a_key(staffed, route):
    v = await record(staffed)
    body = {"program_id": "sunrise-recovery", "level_of_care": "iop",
            "coverage": {"verification_id": v["verification_id"]}}
    if route.endswith("compare"):
        del body["level_of_care"]
    r = await staffed.client.post(route, json=body)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")


async def test_unknown_verification_in_an_estimate_is_404_naming_the_field(staffed):
    for vid in (str(uuid.uuid4()), "garbage"):
        r = await staffed.client.post("/v1/estimates", headers=staffed.staff, json={
            "program_id": "sunrise-recovery", "level_of_care": "iop", "coverage": {"verification_id": vid}})
        assert r.status_code == 404, r.text
        assert r.json()["errors"][0]["field"] == "coverage.verification_id"


@pytest.mark.parametrize("extra", [{"plan_id": "acme-ppo-gold"}, {"benefits": {"payer_id": "acme"}}])
async def test_verification_id_with_plan_id_or_benefits_is_422(staffed, extra):
    v = await record(staffed)
    r = await staffed.client.post("/v1/estimates", headers=staffed.staff, json={
        "program_id": "sunrise-recovery", "level_of_care": "iop",
        "coverage": {"verification_id": v["verification_id"], **extra}})
    assert r.status_code == 422, r.text
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"coverage.verification_id", f"coverage.{next(iter(extra))}"}


def test_resolved_coverage_is_plain_data():
    # what the memo keys on: the resolved coverage encodes (benefits inline, canonical id)
    assert msgspec.json.encode(CoverageRequest(verification_id="x"))
