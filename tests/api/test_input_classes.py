"""Bad input by class, on every route that takes it: the same careful answer everywhere.

Each class (structure, money, text, identifiers, query parameters) is tried on every
route that accepts it, through HTTP, against a real PostgreSQL with the demo data.
"""

from __future__ import annotations

import copy
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costsvc.api.body import MAX_JSON_DEPTH
from costsvc.api.validation import MAX_REPORTED

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}

ESTIMATE = {
    "program_id": "sunrise-recovery", "level_of_care": "iop",
    "coverage": {"plan_id": "acme-ppo-gold"},
    "episode": {"start_date": "2026-12-01", "weeks": 4, "days_per_week": 3},
    "household": {"size": 3, "annual_income": "41000.00", "state": "CA"},
    "payment_plan": {"down_payment": "0.00"},
}
BATCH = {**{k: v for k, v in ESTIMATE.items() if k not in ("program_id", "level_of_care")},
         "items": [{"program_id": "sunrise-recovery", "level_of_care": "iop"}]}
COMPARE = {k: v for k, v in ESTIMATE.items() if k != "level_of_care"}
BODY_ROUTES = {"/v1/estimates": ESTIMATE, "/v1/estimates/batch": BATCH, "/v1/estimates/compare": COMPARE}
INLINE_BENEFITS = {
    "payer_id": "acme",
    "in_network": {"deductible": {"individual": "1000.00"},
                   "levels": {"iop": {"copay": "25", "coinsurance_pct": "20"},
                              "php": {"copay": "25", "coinsurance_pct": "20"},
                              "outpatient": {"copay": "25", "coinsurance_pct": "20"}}},
}

# Where money and percentages occur in a request, as paths into the body.
MONEY_PATHS = [
    ("household", "annual_income"),
    ("payment_plan", "down_payment"),
    ("coverage", "benefits", "in_network", "deductible", "individual"),
    ("coverage", "benefits", "in_network", "levels", "iop", "copay"),
    ("coverage", "accumulators", "in_network", "oop_met"),
]
PERCENT_PATHS = [("coverage", "benefits", "in_network", "levels", "iop", "coinsurance_pct")]
TEXT_PATHS = [
    ("program_id",), ("coverage", "plan_id"), ("coverage", "network"), ("coverage", "tier"),
    ("coverage", "benefits", "payer_id"), ("coverage", "benefits", "plan_year_start"),
    ("household", "state"), ("episode", "start_date"),
]


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert PROBLEM_FIELDS <= body.keys(), body
    assert body["status"] == status and body["detail"] and body["type"].startswith("https://")
    return body


def _fields(body: dict) -> set[str]:
    return {e["field"] for e in body["errors"]}


def _with(base: dict, path: tuple[str, ...], value, *, inline: bool = False) -> dict:
    """``base`` with ``value`` at ``path`` (coverage switched to inline benefits when asked)."""
    body = copy.deepcopy(base)
    if inline or path[:2] == ("coverage", "benefits"):
        body["coverage"] = {"benefits": copy.deepcopy(INLINE_BENEFITS)}
    node = body
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return body


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


# ----------------------------------------------------------------------------- structure


@pytest.mark.parametrize("route", BODY_ROUTES)
async def test_deep_nesting_is_400_not_a_recursion_error(client, route):
    for depth in (MAX_JSON_DEPTH + 1, 30_000):  # 60 KB: within the small limit of one estimate
        body = "[" * depth + "]" * depth
        r = await client.post(route, content=body, headers={"content-type": "application/json"})
        assert _is_problem(r, 400)["type"].endswith("/nesting-too-deep")
    # Inside a field, too: every level counts.
    nested = json.dumps({"program_id": "x", "surprise": json.loads("[" * 40 + "]" * 40)})
    r = await client.post(route, content=nested, headers={"content-type": "application/json"})
    assert _is_problem(r, 400)["type"].endswith("/nesting-too-deep")


@pytest.mark.parametrize("route", BODY_ROUTES)
async def test_nesting_at_the_limit_is_judged_on_its_fields(client, route):
    inner = json.loads("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1))
    r = await client.post(route, json={**BODY_ROUTES[route], "surprise": inner})
    assert "surprise" in _fields(_is_problem(r, 422))


async def test_empty_body_is_400_saying_it_is_required(client):
    for route in BODY_ROUTES:
        for headers in ({}, {"content-type": "application/json"}):
            for content in (b"", b"  \n"):
                r = await client.post(route, content=content, headers=headers)
                body = _is_problem(r, 400)
                assert body["type"].endswith("/body-required") and "required" in body["detail"]
                assert "data" not in body["detail"]


async def test_body_that_is_not_json_is_415(client):
    for route, base in BODY_ROUTES.items():
        for content_type in ("text/plain", "application/x-www-form-urlencoded",
                             "multipart/form-data; boundary=x", "application/xml"):
            r = await client.post(route, content=json.dumps(base), headers={"content-type": content_type})
            _is_problem(r, 415)
        r = await client.post(route, content=json.dumps(base), headers={"content-type": "application/merge-patch+json"})
        assert r.status_code != 415  # a +json type is JSON


async def test_malformed_json_is_400(client):
    for route in BODY_ROUTES:
        for content in (b"{", b"nope", b'{"a": 1,}', b"\xff\xfe", b'{"program_id": "\\ud800"}'):
            r = await client.post(route, content=content, headers={"content-type": "application/json"})
            assert _is_problem(r, 400)["type"].endswith("/malformed-json"), content


async def test_a_body_that_is_not_an_object_is_422(client):
    for route in BODY_ROUTES:
        for body in ([], "x", 3, None, True):
            r = await client.post(route, content=json.dumps(body), headers={"content-type": "application/json"})
            assert _fields(_is_problem(r, 422)) == {""}


@pytest.mark.parametrize("route", BODY_ROUTES)
async def test_field_list_is_capped_but_counted(client, route):
    # ~46 KB: within the small body limit of one estimate (COSTSVC_MAX_ESTIMATE_BODY_BYTES)
    hostile = {**BODY_ROUTES[route], **{f"x{i}": 0 for i in range(3000)}, "k" * 10_000: 1}
    r = await client.post(route, json=hostile)
    body = _is_problem(r, 422)
    assert len(body["errors"]) == MAX_REPORTED and body["error_count"] == 3001
    assert len(r.content) < 10_000
    assert "and 2996 more" in body["detail"]


async def test_oversized_body_is_413_problem_on_every_body_route(client):
    for route, base in BODY_ROUTES.items():
        r = await client.post(route, json={**base, "padding": "x" * (1024 * 1024 + 10)})
        _is_problem(r, 413)


# ----------------------------------------------------------------------------- money and percentages

BAD_AMOUNTS = [
    "١٢", "１２", "1_000", "1e3", "1E3", "+5", "-5", "-0", "-0.00", " 5", "5 ", ".5", "5.",
    "0x10", "", "NaN", "Infinity", "1,000", "$5", "1234567890", "5\x00",
]


@pytest.mark.parametrize("route", BODY_ROUTES)
async def test_money_outside_the_grammar_is_422_in_every_field(client, route):
    for path in MONEY_PATHS:
        for value in [*BAD_AMOUNTS, "5.001", 5, 5.5, True, [], {}]:
            r = await client.post(route, json=_with(BODY_ROUTES[route], path, value))
            assert _dotted(path) in _fields(_is_problem(r, 422)), (path, value, r.text)


@pytest.mark.parametrize("route", BODY_ROUTES)
async def test_percentages_outside_the_grammar_are_422(client, route):
    for path in PERCENT_PATHS:
        for value in [*BAD_AMOUNTS, "5.0001", "100.5", 101, -1, -0.0, 12.5, True]:
            r = await client.post(route, json=_with(BODY_ROUTES[route], path, value))
            assert _dotted(path) in _fields(_is_problem(r, 422)), (value, r.text)


async def test_money_in_the_grammar_is_accepted(client):
    for path in MONEY_PATHS:
        for value in ["0", "7", "1234.5", "1234.50", "007.10"]:
            r = await client.post("/v1/estimates", json=_with(ESTIMATE, path, value))
            assert r.status_code == 201, (path, value, r.text)


async def test_percentages_as_strings_or_whole_numbers_are_accepted(client):
    for value in ["20", "12.5", "12.125", 20, 20.0, 0, 100]:
        r = await client.post("/v1/estimates", json=_with(ESTIMATE, PERCENT_PATHS[0], value))
        assert r.status_code == 201, (value, r.text)


# ----------------------------------------------------------------------------- text and identifiers


@pytest.mark.parametrize("route", BODY_ROUTES)
async def test_control_characters_in_any_text_field_are_422(client, route):
    for char in ("\x00", "\x07", "\n", "\x7f", "\x85"):
        for path in TEXT_PATHS:
            if route == "/v1/estimates/batch" and path == ("program_id",):
                body = copy.deepcopy(BATCH)
                body["items"][0]["program_id"] = f"sunrise{char}recovery"
                field = "items[0].program_id"
            else:
                body = _with(BODY_ROUTES[route], path, f"a{char}b")
                field = _dotted(path)
            r = await client.post(route, json=body)
            assert field in _fields(_is_problem(r, 422)), (path, char)
            assert char not in r.text  # never echoed back raw


async def test_identifiers_have_length_and_pattern_limits(client):
    for route, base in BODY_ROUTES.items():
        for value in ("x" * 101, "-leading-dash", "has space", "slash/inside", "ünïcode", ""):
            for path in [("coverage", "plan_id"), ("coverage", "benefits", "payer_id")]:
                r = await client.post(route, json=_with(base, path, value))
                assert _dotted(path) in _fields(_is_problem(r, 422)), (path, value)


async def test_control_characters_in_query_strings_are_422(client):
    for url in ("/v1/programs?name=a%00b", "/v1/programs?state=C%07", "/v1/plans?payer_id=ac%00me",
                "/v1/payers?x=%00", "/v1/levels-of-care?q=%0a", "/health?x=%1b"):
        body = _is_problem(await client.get(url), 422)
        assert "\x00" not in json.dumps(body, ensure_ascii=False)


async def test_control_characters_in_the_query_of_a_body_route_are_422(client):
    r = await client.post("/v1/estimates?include=claims%00", json=ESTIMATE)
    assert _fields(_is_problem(r, 422)) == {"include"}
    r = await client.post("/v1/estimates?include=everything", json=ESTIMATE)
    assert _fields(_is_problem(r, 422)) == {"include"}


async def test_path_identifiers_are_checked_before_lookup(client):
    for url in ("/v1/programs/a%00b", "/v1/payers/a%00b/plans", "/v1/programs/" + "x" * 101,
                "/v1/payers/%20acme/plans"):
        _is_problem(await client.get(url), 422)


# ----------------------------------------------------------------------------- query parameters


async def test_enums_and_ranges_are_checked_before_anything_runs(client):
    cases = [("limit=0", "limit"), ("limit=201", "limit"), ("offset=-1", "offset"),
             ("offset=1000001", "offset"), ("limit=99999999999999999999999999", "limit"),
             ("limit=1e3", "limit"), ("limit=", "limit"), ("offset=%EF%BC%91", "offset")]
    for url in ("/v1/programs", "/v1/plans"):
        for query, field in cases:
            r = await client.get(f"{url}?{query}")
            assert field in _fields(_is_problem(r, 422)), (url, query, r.text)
    r = await client.get("/v1/programs?level_of_care=spa-weekend")
    assert _fields(_is_problem(r, 422)) == {"level_of_care"}
    # named as the client wrote it, in a sentence
    problem = _is_problem(await client.get("/v1/programs?state=C1&limit=0"), 422)
    assert {(e["field"], e["message"]) for e in problem["errors"]} == {
        ("state", "does not have the documented form"), ("limit", "must be a whole number of at least 1")}


async def test_page_bounds_property(db_url):
    """Any integer (or text) as limit/offset: 200 inside the documented range, 422 outside, never 5xx."""
    from litestar.testing import TestClient

    from costsvc.api.app import create_app

    with TestClient(create_app(database_url=db_url)) as sync_client:

        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
        @given(route=st.sampled_from(["/v1/programs", "/v1/plans"]),
               limit=st.one_of(st.integers(), st.text(max_size=8)),
               offset=st.one_of(st.integers(), st.text(max_size=8)))
        def check(route, limit, offset):
            r = sync_client.get(route, params={"limit": str(limit), "offset": str(offset)})
            assert r.status_code in (200, 422), r.text
            numbers = [int(v) if re.fullmatch(r"-?[0-9]{1,30}", str(v)) else None for v in (limit, offset)]
            if None in numbers:
                return  # text: rejected, or read as the number it spells; never a 5xx
            in_range = 1 <= numbers[0] <= 200 and 0 <= numbers[1] <= 1_000_000
            assert r.status_code == (200 if in_range else 422), (limit, offset, r.text)
            if in_range:
                assert (r.json()["limit"], r.json()["offset"]) == tuple(numbers)

        check()


# ----------------------------------------------------------------------------- dates


async def test_a_start_before_any_tariff_gets_a_clear_notice(client):
    early = {"program_id": "sunrise-recovery", "level_of_care": "iop", "coverage": {"plan_id": "acme-ppo-gold"},
             "episode": {"start_date": "2020-01-06", "weeks": 2, "days_per_week": 3}}
    e = (await client.post("/v1/estimates", json=early)).json()
    notice = next(n for n in e["notices"] if n["code"] == "starts_before_tariffs")
    assert "2020-01-06" in notice["message"] and "2026-01-01" in notice["message"]
    on_time = {**early, "episode": {"start_date": "2026-03-02", "weeks": 2, "days_per_week": 3}}
    e = (await client.post("/v1/estimates", json=on_time)).json()
    assert "starts_before_tariffs" not in {n["code"] for n in e["notices"]}
    # the same class on the other pricing routes
    batch = {"coverage": {"plan_id": "acme-ppo-gold"}, "episode": early["episode"],
             "items": [{"program_id": "sunrise-recovery", "level_of_care": "iop"}]}
    item = (await client.post("/v1/estimates/batch", json=batch)).json()["results"][0]
    assert "starts_before_tariffs" in {n["code"] for n in item["notices"]}
    compared = (await client.post("/v1/estimates/compare", json={k: v for k, v in early.items()
                                                                  if k != "level_of_care"})).json()
    assert all("starts_before_tariffs" in {n["code"] for n in c["notices"]} for c in compared["estimates"])
