"""The lean path of POST /v1/estimates (costsvc/api/fast_estimate.py) answers exactly
what Litestar's controller answers, and hands every other request to Litestar."""

from __future__ import annotations

import pytest

from costsvc.api.fast_estimate import EstimateFastPath

PLAN = {
    "program_id": "sunrise-recovery", "level_of_care": "iop",
    "coverage": {"plan_id": "acme-ppo-gold", "tier": "family",
                 "accumulators": {"in_network": {"deductible_met": "120.50", "oop_met": "900.00"}}},
    "episode": {"start_date": "2026-12-01", "weeks": 30, "days_per_week": 3},
    "household": {"size": 3, "annual_income": "41000.00", "state": "ca"},
}
INLINE = {
    "program_id": "harborview-behavioral-health", "level_of_care": "iop",
    "coverage": {"benefits": {"payer_id": "acme", "plan_year_start": "07-01", "in_network": {
        "deductible": {"individual": "750.00"}, "oop_max": {"individual": "2500.00"},
        "levels": {"iop": {"copay": "15.00", "coinsurance_pct": "20", "limit_units": 20}}}}},
    "episode": {"start_date": "2027-05-03"},
}
SELF_PAY = {"program_id": "sunrise-recovery", "level_of_care": "iop", "payment_plan": {"down_payment": "100.00"}}


class Counting:
    """The Litestar side of the lean path, counting what it is handed."""

    def __init__(self, app):
        self.app, self.calls = app, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.calls += 1
        await self.app(scope, receive, send)


@pytest.fixture
def lean(client) -> tuple[EstimateFastPath, Counting]:
    fast = client.app.asgi_handler
    assert isinstance(fast, EstimateFastPath)
    fast.app = counting = Counting(fast.app)
    return fast, counting


def _tail(response) -> bytes:
    """The document after its id and time (what two identical answers share)."""
    return response.content.split(b'"', 8)[-1]


async def _through_litestar(client, fast, *args, **kwargs):
    client.app.asgi_handler = fast.app
    try:
        return await client.post(*args, **kwargs)
    finally:
        client.app.asgi_handler = fast


@pytest.mark.parametrize("body", [PLAN, INLINE, SELF_PAY], ids=["plan", "inline", "self-pay"])
@pytest.mark.parametrize("query", ["", "?include=claims"])
async def test_the_lean_path_answers_what_litestar_answers(client, lean, body, query):
    fast, litestar = lean
    answered = await client.post("/v1/estimates" + query, json=body)
    assert litestar.calls == 0  # answered by the lean path
    expected = await _through_litestar(client, fast, "/v1/estimates" + query, json=body)
    assert litestar.calls == 1
    assert (answered.status_code, expected.status_code) == (201, 201)
    assert _tail(answered) == _tail(expected)
    assert answered.content != expected.content  # its own id and time
    for r in (answered, expected):
        assert r.headers["location"] == f"/v1/estimates/{r.json()['estimate_id']}"
    assert sorted(answered.headers) == sorted(expected.headers)
    assert answered.headers["content-type"] == "application/json"
    stored = await client.get(answered.headers["location"])
    assert stored.status_code == 200 and stored.content == answered.content


@pytest.mark.parametrize(("query", "kwargs", "status"), [
    ("", {"json": {**PLAN, "episode": {"weeks": 0}}}, 422),
    ("", {"json": {**PLAN, "coverage": {"plan_id": "acme-ppo-gold", "verification_id": "v1"}}}, 422),
    ("", {"json": {**PLAN, "coverage": {"plan_id": "no-such-plan"}}}, 404),
    ("", {"json": {**PLAN, "level_of_care": "detox"}}, 422),
    ("", {"json": {**PLAN, "episode": {"start_date": "2026-12-01", "weeks": 200}}}, 422),
    ("", {"content": b'{"program_id": ', "headers": {"content-type": "application/json"}}, 400),
    ("", {"content": b"[" * 40 + b"]" * 40, "headers": {"content-type": "application/json"}}, 400),
    ("", {"content": b"program_id=x", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 415),
    ("", {"content": b" ", "headers": {"content-type": "application/json"}}, 400),
    ("?include=lines", {"json": PLAN}, 422),
    ("?include=claims&x=1", {"json": PLAN}, 201),
    ("", {"json": PLAN, "headers": {"origin": "https://example.org"}}, 201),
], ids=["invalid", "verification", "unknown-plan", "level-not-offered", "too-long", "malformed", "too-deep",
        "form", "empty", "bad-include", "other-query", "cors"])
async def test_everything_else_is_handed_to_litestar(client, lean, query, kwargs, status):
    fast, litestar = lean
    answered = await client.post("/v1/estimates" + query, **kwargs)
    assert litestar.calls == 1  # handed over, with the body as it was read
    expected = await _through_litestar(client, fast, "/v1/estimates" + query, **kwargs)
    assert answered.status_code == expected.status_code == status, answered.text
    if status != 201:
        assert answered.content == expected.content
    if "origin" in kwargs.get("headers", {}):
        assert answered.headers["access-control-allow-origin"] == "*"


async def test_a_body_over_the_limit_is_answered_413_by_litestar(client, lean):
    fast, litestar = lean
    body = b'{"program_id": "' + b"x" * (fast.max_body_bytes + 10) + b'"}'
    answered = await client.post("/v1/estimates", content=body, headers={"content-type": "application/json"})
    assert answered.status_code == 413 and litestar.calls == 1


async def test_other_routes_and_methods_go_to_litestar(client, lean):
    fast, litestar = lean
    assert (await client.get("/health")).status_code == 200
    assert (await client.post("/v1/estimates/compare", json={"program_id": "sunrise-recovery"})).status_code == 200
    assert (await client.put("/v1/estimates", json=PLAN)).status_code == 405
    assert litestar.calls == 3
