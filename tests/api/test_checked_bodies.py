"""A body sent again is not checked again: ``costsvc.api.body.CheckedBodies``.

Through HTTP against a real PostgreSQL with the demo data: the second identical body is
answered without a second walk of the checks, an invalid body is checked (and refused)
every time, and only the public estimate routes, whose bodies carry no PHI, keep bodies.
"""

from __future__ import annotations

import json

import msgspec
import pytest

from costsvc.api import body as body_module
from costsvc.api.body import CheckedBodies
from costsvc.services.requests import EstimateRequest

ESTIMATE = {
    "program_id": "sunrise-recovery", "level_of_care": "iop",
    "coverage": {"plan_id": "acme-ppo-gold", "accumulators": {"in_network": {"deductible_met": "120.00"}}},
    "episode": {"start_date": "2026-12-01", "weeks": 6, "days_per_week": 3},
    "household": {"size": 3, "annual_income": "41000.00", "state": "ca"},
}
PUBLIC_ROUTES = {"/v1/estimates", "/v1/estimates/batch", "/v1/estimates/compare"}


@pytest.fixture
def walks(monkeypatch) -> list[type]:
    """A fresh memo, and the body type of each walk of the checks (``problems_of``) made."""
    monkeypatch.setattr(body_module, "checked_bodies", CheckedBodies())
    seen: list[type] = []
    checks = body_module.problems_of

    def counted(data, body_type):
        seen.append(body_type)
        return checks(data, body_type)

    monkeypatch.setattr(body_module, "problems_of", counted)
    return seen


def _post(client, path: str, body: bytes):
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


async def test_an_identical_body_is_checked_once_and_priced_alike(client, walks):
    raw = json.dumps(ESTIMATE).encode()
    first, second = await _post(client, "/v1/estimates", raw), await _post(client, "/v1/estimates", raw)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert walks == [EstimateRequest]
    one, two = first.json(), second.json()
    assert one["estimate_id"] != two["estimate_id"]
    assert {k: v for k, v in one.items() if k not in ("estimate_id", "created_at")} \
        == {k: v for k, v in two.items() if k not in ("estimate_id", "created_at")}
    # Another spelling of the same question is other bytes: checked on its own.
    assert (await _post(client, "/v1/estimates", json.dumps(ESTIMATE, indent=1).encode())).status_code == 201
    assert walks == [EstimateRequest, EstimateRequest]


async def test_the_kept_struct_is_not_changed_by_answering_it(client, walks):
    raw = json.dumps(ESTIMATE).encode()
    for query in ("", "?include=claims"):
        assert (await _post(client, "/v1/estimates" + query, raw)).status_code == 201
    kept = body_module.checked_bodies.get(EstimateRequest, raw)
    assert kept == msgspec.convert(ESTIMATE, EstimateRequest, strict=False)
    assert kept.household.state == "ca"  # the service priced with "CA" on a copy


async def test_an_invalid_body_is_refused_every_time(client, walks):
    raw = json.dumps({**ESTIMATE, "household": {**ESTIMATE["household"], "annual_income": "+41000"}}).encode()
    for _ in range(2):
        response = await _post(client, "/v1/estimates", raw)
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["household.annual_income"]
    assert walks == [EstimateRequest, EstimateRequest]
    assert len(body_module.checked_bodies) == 0


async def test_media_type_and_size_are_checked_before_the_memo(client, walks):
    raw = json.dumps(ESTIMATE).encode()
    assert (await _post(client, "/v1/estimates", raw)).status_code == 201
    text = await client.post("/v1/estimates", content=raw, headers={"Content-Type": "text/plain"})
    assert text.status_code == 415, text.text
    padded = raw[:-1] + b" " * (client.app_state.settings.max_estimate_body_bytes + 1) + b"}"
    assert (await _post(client, "/v1/estimates", padded)).status_code == 413


def test_only_the_public_estimate_routes_keep_bodies(client):
    """Bodies with PHI (a GFE request: the patient) or another owner's data are never kept."""
    remembering = {route.path for route in client.app.routes for handler in getattr(route, "route_handlers", ())
                   if handler.opt.get("remember_body")}
    assert remembering == PUBLIC_ROUTES
    with_bodies = {route.path for route in client.app.routes for handler in getattr(route, "route_handlers", ())
                   if handler.opt.get("body_type")}
    assert "/v1/estimates/{estimate_id:str}/gfe" in with_bodies - remembering


def test_the_memo_keeps_within_its_budget_least_recently_used_out_first():
    memo = CheckedBodies(budget=100 + 3 * CheckedBodies.STRUCT_BYTES, largest=40)
    for n in range(3):
        memo.keep(EstimateRequest, bytes([n]) * 30, n)
    assert memo.get(EstimateRequest, bytes([0]) * 30) == 0  # used again: 1 is now the least recent
    memo.keep(EstimateRequest, bytes([3]) * 30, 3)
    assert [memo.get(EstimateRequest, bytes([n]) * 30) for n in range(4)] == [0, None, 2, 3]
    memo.keep(EstimateRequest, b"x" * 41, "too big")
    assert memo.get(EstimateRequest, b"x" * 41) is None
    memo.keep(EstimateRequest, bytes([3]) * 30, "again")  # kept once, counted once
    assert memo.get(EstimateRequest, bytes([3]) * 30) == 3 and len(memo) == 3
    memo.keep(EstimateRequest, b"y" * 10, "small")  # each Struct counts: a fourth entry does not fit
    assert len(memo) == 3 and memo.get(EstimateRequest, b"y" * 10) == "small"
    assert memo.get(EstimateRequest, bytes([0]) * 30) is None
    assert memo.get(dict, bytes([1]) * 30) is None  # another route's type is another key
