"""The staff console through HTTP against a real PostgreSQL: the session cookie, CSRF,
recording from a 271 and from a call, reveal, pricing, the audit trail, and the bad
input each must survive (an error page or the form again, in words)."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import asyncpg
import pytest

from costsvc.api.pages.session import COOKIE
from tests.staff.conftest import csrf_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "x12-271"
SUBSCRIBER_271 = FIXTURES / "subscriber-health-benefit-check.271"
MEMBER = "ZQX-55512345"
PHONE = {
    "member_id": MEMBER, "plan_id": "acme-ppo-gold", "patient_name": "Juniper Stavros",
    "patient_dob": "1979-04-23", "relationship": "subscriber", "status": "active", "source": "phone",
    "reference": "CALL-778", "verified_by": "dana", "level": "iop", "in_network.copay": "35",
    "in_network.coinsurance_pct": "20", "in_network.deductible_met": "250.00",
}
TRACEBACK = re.compile(r"Traceback|File \"|line \d+, in ")


def _cookie_header(response) -> str:
    return next(v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(COOKIE))


def _assert_page(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>" in response.text and not TRACEBACK.search(response.text)
    for word in words:
        assert word in response.text, word


async def _record_phone(console, csrf: str, **changes: str):
    return await console.client.post("/staff/record/phone", data={**PHONE, **changes, "csrf_token": csrf})


async def _verification_id(console, csrf: str) -> str:
    r = await _record_phone(console, csrf)
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[1]


# --------------------------------------------------------------------------- session


async def test_sign_in_keeps_the_key_in_a_sealed_httponly_strict_cookie(console):
    r = await console.client.get("/staff")
    assert r.status_code == 303 and r.headers["location"] == "/staff/sign-in"
    r = await console.client.get("/staff/sign-in")
    form_csrf = csrf_of(r.text)
    r = await console.client.post("/staff/sign-in", data={"csrf_token": form_csrf, "api_key": console.staff_key})
    assert r.status_code == 303
    header = _cookie_header(r)
    for attribute in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/staff", "Max-Age=28800"):
        assert attribute.lower() in header.lower(), header
    assert console.staff_key not in header and console.staff_key[4:20] not in header
    r = await console.client.get("/staff")
    _assert_page(r, 200, "Recent verifications", "benefits desk")
    assert csrf_of(r.text) != form_csrf  # signing in starts a new session
    assert r.headers["cache-control"] == "no-store"


async def test_a_wrong_key_is_the_form_again_in_words(console):
    r = await console.client.get("/staff/sign-in")
    r = await console.client.post("/staff/sign-in", data={"csrf_token": csrf_of(r.text), "api_key": "csk_nope"})
    _assert_page(r, 422, "API key is unknown or revoked")
    r = await console.client.post("/staff/sign-in", data={"csrf_token": csrf_of(r.text), "api_key": ""})
    _assert_page(r, 422, "API key is required")


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
async def test_a_missing_or_wrong_csrf_token_is_a_403_page(console, token):
    csrf = await console.sign_in()
    data = {**PHONE} if token is None else {**PHONE, "csrf_token": token}
    r = await console.client.post("/staff/record/phone", data=data)
    _assert_page(r, 403, "security token is missing or does not match")
    r = await console.client.post("/staff/sign-out", data={} if token is None else {"csrf_token": token})
    _assert_page(r, 403, "security token")
    # nothing was recorded, and the session still works with the right token
    r = await _record_phone(console, csrf)
    assert r.status_code == 303


async def test_the_sign_in_form_needs_its_csrf_token_too(console):
    await console.client.get("/staff/sign-in")
    r = await console.client.post("/staff/sign-in", data={"api_key": console.staff_key})
    _assert_page(r, 403, "security token")
    console.client.cookies.clear()
    r = await console.client.post("/staff/sign-in", data={"api_key": console.staff_key, "csrf_token": "x"})
    _assert_page(r, 403, "security token")


async def test_a_forged_cookie_goes_back_to_sign_in_with_a_message(console):
    await console.sign_in()
    sealed = console.client.cookies[COOKIE].strip('"')
    forged = sealed[:40] + ("A" if sealed[40] != "A" else "B") + sealed[41:]
    for value in (forged, "not-a-session", sealed[:-12]):
        console.client.cookies.clear()
        console.client.cookies.set(COOKIE, value, domain="testserver.local", path="/staff")
        r = await console.client.get("/staff")
        assert r.status_code == 303 and r.headers["location"] == "/staff/sign-in?reason=invalid", value
        assert "max-age=0" in _cookie_header(r).lower()
        console.client.cookies.set(COOKIE, value, domain="testserver.local", path="/staff")
        r = await console.client.post("/staff/record/phone", data=PHONE)
        assert r.status_code == 303 and r.headers["location"] == "/staff/sign-in?reason=invalid"
    r = await console.client.get("/staff/sign-in?reason=invalid")
    _assert_page(r, 200, "could not be read")


async def test_an_expired_cookie_goes_back_to_sign_in_with_a_message(console):
    from costsvc.api.pages.staff import codec_of

    await console.sign_in()
    codec = console.app.state.staff_sessions
    assert codec is not None and codec_of is not None
    stale = codec.seal(codec.new(console.staff_key), now=time.time() - codec.ttl - 5)
    console.client.cookies.clear()
    console.client.cookies.set(COOKIE, stale, domain="testserver.local", path="/staff")
    r = await console.client.get("/staff/verifications/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 303 and r.headers["location"] == "/staff/sign-in?reason=expired"
    r = await console.client.get(r.headers["location"])
    _assert_page(r, 200, "Your session expired")
    csrf_of(r.text)  # the form is there to sign in again


async def test_a_revoked_key_ends_the_session_at_once(console):
    await console.sign_in()
    assert (await console.client.get("/staff")).status_code == 200
    conn = await asyncpg.connect(console.db_url)
    try:
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = $1", console.staff_key_id)
    finally:
        await conn.close()
    # the listener drops the cached key; a request may race the NOTIFY by milliseconds
    listener = console.app.state.key_revocations
    for _ in range(100):
        if listener.revocations:
            break
        time.sleep(0.02)
    r = await console.client.get("/staff")
    assert r.status_code == 303 and r.headers["location"] == "/staff/sign-in?reason=revoked"
    r = await console.client.get(r.headers["location"])
    _assert_page(r, 200, "no longer valid")


async def test_sign_out_clears_the_cookie(console):
    csrf = await console.sign_in()
    r = await console.client.post("/staff/sign-out", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/staff/sign-in?reason=signed-out"
    assert "max-age=0" in _cookie_header(r).lower()
    assert COOKIE not in console.client.cookies
    r = await console.client.get("/staff")
    assert r.status_code == 303 and r.headers["location"] == "/staff/sign-in"


# --------------------------------------------------------------------------- verifications


async def test_upload_a_271_then_see_it_masked_and_reveal_it_audited(console):
    csrf = await console.sign_in()
    r = await console.client.post(
        "/staff/record/271", data={"csrf_token": csrf, "plan_id": "acme-ppo-gold", "verified_by": "dana"},
        files={"x12_file": ("check.271", SUBSCRIBER_271.read_bytes(), "application/octet-stream")})
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert re.fullmatch(r"/staff/verifications/[0-9a-f-]{36}", location)
    verification_id = location.rsplit("/", 1)[1]
    api = (await console.client.get(f"/v1/verifications/{verification_id}?reveal=member_id",
                                    headers=console.api())).json()
    member_id = api["member"]["member_id"]
    r = await console.client.get(location)
    _assert_page(r, 200, "Discrepancies", "Parity flags", "x12 271")
    assert member_id not in r.text and api["member"]["member_id"][-4:] in r.text
    for d in api["discrepancies"]:
        assert f'data-discrepancy="{d["field"]}"' in r.text
    for f in api["parity_flags"]:
        assert f'data-parity-flag="{f["level"]}.{f["field"]}"' in r.text
    r = await console.client.post(f"{location}/reveal", data={"csrf_token": csrf, "reveal": "member_id"})
    _assert_page(r, 200, member_id)
    r = await console.client.get("/v1/audit?limit=5", headers=console.api(console.admin_key))
    actions = [(a["action"], a["key_name"]) for a in r.json()["records"]]
    assert actions[0] == ("reveal", "benefits desk")


async def test_a_pasted_271_with_several_people_lists_them(console):
    csrf = await console.sign_in()
    text = (FIXTURES / "271-dependent-benefits.txt").read_text()
    r = await console.client.post("/staff/record/271", data={"csrf_token": csrf, "x12_text": text,
                                                             "plan_id": "acme-ppo-gold"})
    _assert_page(r, 200, "2 verifications recorded")
    assert r.text.count("data-verification=") == 2


@pytest.mark.parametrize(("content", "words"), [
    (b"this is not X12 at all", "ISA"),
    (b"", "is empty"),
    ((FIXTURES / "271-example.txt").read_bytes(), "segment 14 (AAA)"),
])
async def test_a_file_that_is_not_a_271_is_the_form_again_in_words(console, content, words):
    csrf = await console.sign_in()
    r = await console.client.post("/staff/record/271", data={"csrf_token": csrf},
                                  files={"x12_file": ("notes.txt", content, "text/plain")})
    _assert_page(r, 422, "Record a 271", words)
    assert 'aria-invalid="true"' in r.text


async def test_the_phone_form_shows_each_error_next_to_its_field(console):
    csrf = await console.sign_in()
    r = await _record_phone(console, csrf, **{"in_network.copay": "abc", "in_network.coinsurance_pct": "150",
                                              "member_id": "", "patient_dob": "1979-13-45"})
    _assert_page(r, 422, "Please correct the fields marked below")
    for field in ("in_network.copay", "in_network.coinsurance_pct", "member_id", "patient_dob"):
        assert f'data-error-for="{field}"' in r.text, field
    assert 'value="Juniper Stavros"' in r.text  # what was typed is kept
    r = await _record_phone(console, csrf, level="", **{"in_network.copay": "35"})
    _assert_page(r, 422, "choose the level of care")
    r = await _record_phone(console, csrf, plan_id="no-such-plan")
    _assert_page(r, 422, 'data-error-for="plan_id"')


async def test_a_recorded_call_shows_its_discrepancy_and_masks(console):
    csrf = await console.sign_in()
    verification_id = await _verification_id(console, csrf)
    r = await console.client.get(f"/staff/verifications/{verification_id}")
    _assert_page(r, 200, 'data-discrepancy="in_network.levels.iop.copay"', "********2345", "J****** S******")
    assert MEMBER not in r.text and "Juniper" not in r.text and "1979" not in r.text


async def test_unknown_verification_is_a_404_page(console):
    await console.sign_in()
    for vid in ("00000000-0000-0000-0000-000000000000", "not-an-id"):
        r = await console.client.get(f"/staff/verifications/{vid}")
        _assert_page(r, 404, "No verification has this id")


async def test_the_member_search_finds_by_post(console):
    csrf = await console.sign_in()
    verification_id = await _verification_id(console, csrf)
    r = await console.client.post("/staff/search", data={"csrf_token": csrf, "member_id": " zqx-55512345 "})
    _assert_page(r, 200, verification_id)
    r = await console.client.post("/staff/search", data={"csrf_token": csrf, "member_id": ""})
    _assert_page(r, 422, 'data-error-for="member_id"')


# --------------------------------------------------------------------------- estimates


def _figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-field="([a-z_.\[\]0-9]+)">([^<]*)<', html))


async def test_an_estimate_from_the_verification_shows_the_apis_figures(console):
    csrf = await console.sign_in()
    verification_id = await _verification_id(console, csrf)
    form = {"csrf_token": csrf, "verification_id": verification_id, "program_id": "sunrise-recovery",
            "level_of_care": "iop", "network": "auto", "tier": "individual", "start_date": "2026-12-01",
            "weeks": "12", "days_per_week": "3"}
    r = await console.client.post("/staff/estimates", data=form)
    assert r.status_code == 303 and re.fullmatch(r"/staff/estimates/[0-9a-f-]{36}", r.headers["location"])
    page = await console.client.get(r.headers["location"])
    _assert_page(page, 200, "Estimate from a verification")
    api = (await console.client.post("/v1/estimates", headers=console.api(), json={
        "program_id": "sunrise-recovery", "level_of_care": "iop",
        "coverage": {"verification_id": verification_id, "network": "auto", "tier": "individual"},
        "episode": {"start_date": "2026-12-01", "weeks": 12, "days_per_week": 3}})).json()
    shown = _figures(page.text)
    for name, value in api["totals"].items():
        assert shown[f"totals.{name}"] == value, name
    for i, month in enumerate(api["by_month"]):
        assert shown[f"by_month[{i}].patient_pays"] == month["patient_pays"]
    assert shown["range.low.patient_pays"] == api["range"]["low"]["patient_pays"]
    # the fragment site.js swaps in place: the same figures, with the form
    fragment = await console.client.get(r.headers["location"], headers={"X-Costsvc-Fragment": "1"})
    assert "<html" not in fragment.text and _figures(fragment.text) == shown and "csrf_token" in fragment.text


async def test_bad_estimate_input_is_the_verification_page_again_in_words(console):
    csrf = await console.sign_in()
    verification_id = await _verification_id(console, csrf)
    form = {"csrf_token": csrf, "verification_id": verification_id, "program_id": "sunrise-recovery",
            "level_of_care": "iop", "weeks": "abc", "days_per_week": "9"}
    r = await console.client.post("/staff/estimates", data=form)
    _assert_page(r, 422, 'data-error-for="weeks"', 'data-error-for="days_per_week"', "Discrepancies")
    r = await console.client.post("/staff/estimates", data={**form, "weeks": "4", "days_per_week": "3",
                                                            "program_id": "no-such-program"})
    _assert_page(r, 422, 'data-error-for="program_id"')
    r = await console.client.post("/staff/estimates", data={**form, "weeks": "4", "days_per_week": "3",
                                                            "program_id": "no-such-program"},
                                  headers={"X-Costsvc-Fragment": "1"})  # site.js: the form alone, in place
    assert r.status_code == 422 and "<html" not in r.text and 'data-error-for="program_id"' in r.text


@pytest.mark.parametrize("tampered", ["00000000-0000-0000-0000-000000000000", "x' OR 1=1", ""])
async def test_a_tampered_verification_id_is_a_404_page(console, tampered):
    csrf = await console.sign_in()
    r = await console.client.post("/staff/estimates", data={
        "csrf_token": csrf, "verification_id": tampered, "program_id": "sunrise-recovery", "level_of_care": "iop"})
    _assert_page(r, 404, "names a verification that does not exist")


# --------------------------------------------------------------------------- audit


async def test_a_staff_key_on_the_audit_page_is_a_403_page(console):
    await console.sign_in()
    r = await console.client.get("/staff/audit")
    _assert_page(r, 403, "needs the &#39;admin&#39; role")
    assert "Sign out" in r.text  # still signed in, with the menu


async def test_admins_page_through_the_audit_trail(console):
    csrf = await console.sign_in(console.admin_key)
    for _ in range(3):
        await _verification_id(console, csrf)
    r = await console.client.get("/staff/audit?limit=2")
    _assert_page(r, 200, "Audit trail", 'rel="next"')
    seen = re.findall(r'data-audit="(\d+)"', r.text)
    pages = 1
    while (link := re.search(r'href="([^"]+)" rel="next"', r.text)) is not None:
        r = await console.client.get(link.group(1).replace("&amp;", "&"))
        _assert_page(r, 200, "Newest records")
        seen += re.findall(r'data-audit="(\d+)"', r.text)
        pages += 1
    api = (await console.client.get("/v1/audit?limit=100", headers=console.api(console.admin_key))).json()
    assert pages >= 2 and seen == [str(a["audit_id"]) for a in api["records"]][: len(seen)]
    assert len(seen) >= 3  # a page view after the last is itself audited: compare what was shown
    r = await console.client.get("/staff/audit?cursor=bogus")
    _assert_page(r, 400, "not one the console made")
    r = await console.client.get("/staff/audit?limit=0")
    _assert_page(r, 400, "page size")


# --------------------------------------------------------------------------- PHI


async def test_no_phi_in_urls_logs_or_error_pages(console, caplog):
    caplog.set_level(logging.DEBUG)
    csrf = await console.sign_in()
    locations = []
    r = await _record_phone(console, csrf)
    locations.append(r.headers["location"])
    verification_id = locations[0].rsplit("/", 1)[1]
    bad = await _record_phone(console, csrf, **{"in_network.copay": "abc"})
    await console.client.post("/staff/search", data={"csrf_token": csrf, "member_id": MEMBER})
    r = await console.client.post("/staff/estimates", data={
        "csrf_token": csrf, "verification_id": verification_id, "program_id": "sunrise-recovery",
        "level_of_care": "iop"})
    locations.append(r.headers["location"])
    forbidden = await console.client.get("/staff/audit")
    for text in (*locations, forbidden.text, caplog.text):
        for phi in (MEMBER, "55512345", "Juniper", "Stavros", "1979-04-23", "19790423"):
            assert phi.lower() not in text.lower(), phi
    # the form that failed keeps what was typed (a POST answer), and says what is wrong
    assert bad.status_code == 422 and 'data-error-for="in_network.copay"' in bad.text


async def test_a_file_over_the_body_limit_is_a_413_page_in_words(console):
    csrf = await console.sign_in()
    big = b"ISA*" + b"x" * (console.app.state.settings.max_body_bytes + 10)
    r = await console.client.post("/staff/record/271", data={"csrf_token": csrf},
                                  files={"x12_file": ("big.271", big, "text/plain")})
    _assert_page(r, 413, "larger than this server accepts")


async def test_an_address_under_the_console_that_no_route_takes_is_a_page(console):
    """Routing refuses these before any console controller runs: still the console's page,
    while the API keeps answering problem details."""
    _assert_page(await console.client.get("/staff/no-such-page"), 404, "There is no page at this address.")
    _assert_page(await console.client.delete("/staff/sign-in"), 405, "does not take that kind of request")
    api = await console.client.get("/v1/no-such-route")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")
    assert (await console.client.get("/staffing")).headers["content-type"].startswith("application/problem+json")
