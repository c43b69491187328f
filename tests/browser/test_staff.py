"""The staff console in real Chromium: sign in, upload a 271, read its discrepancies and
parity flags, price an estimate (each figure equal to the API's JSON for the same
request), page through the audit trail as an admin, sign out; once with JavaScript
off; axe-core at desktop and 360 px width; screenshots of each."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import assert_no_horizontal_overflow, screenshot
from tests.verification.conftest import bearer, make_keys

FIXTURE_271 = Path(__file__).resolve().parents[1] / "fixtures" / "x12-271" / "subscriber-health-benefit-check.271"
ESTIMATE = {"program_id": "sunrise-recovery", "level_of_care": "iop", "start_date": "2026-12-01", "weeks": "8",
            "days_per_week": "3"}


@pytest.fixture(scope="session")
async def keys(pages_db_url: str, live_server: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A staff and an admin key, and the demo PPO with its medical/surgical comparison rows
    (the same benefits, so the same prices; now with parity flags for the 271 to show)."""
    from costsvc.db.pool import connect
    from costsvc.staging.loaders import LOADERS
    from costsvc.staging.pipeline import import_file
    from tests.verification.test_medsurg_rows import MEDSURG, ppo_table

    staff, admin = await make_keys(pages_db_url)
    conn = await connect(pages_db_url)
    try:
        outcome = await import_file(conn, "coverage_table", ppo_table(tmp_path_factory.mktemp("medsurg"), MEDSURG),
                                    loaders=LOADERS)
    finally:
        await conn.close()
    assert outcome.status == "succeeded", outcome.errors
    async with httpx.AsyncClient(base_url=live_server) as http:
        for _ in range(200):  # the server reloads its catalog on the import's NOTIFY
            plans = (await http.get("/v1/payers/acme/plans")).json()["plans"]
            if any(p["plan_id"] == "acme-ppo-gold" and p["parity_flags"] for p in plans):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the server never saw the medsurg rows")
    return staff.key, admin.key


async def sign_in(page: Any, base: str, key: str) -> None:
    await page.goto(base + "/staff")
    assert page.url.endswith("/staff/sign-in")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(base + "/staff")
    await page.get_by_role("heading", name="Verifications", exact=True).wait_for()


async def sign_out(page: Any, base: str) -> None:
    await page.get_by_role("button", name=re.compile("^Sign out")).click()
    await page.wait_for_url(re.compile(r"/staff/sign-in\?reason=signed-out$"))
    assert "You are signed out." in await page.locator("[data-message]").inner_text()
    await page.goto(base + "/staff")
    assert page.url.endswith("/staff/sign-in")  # the cookie is gone


async def upload_271(page: Any) -> str:
    await page.get_by_role("link", name="Record a 271").first.click()
    await page.get_by_label("Or the 271 file").set_input_files(str(FIXTURE_271))
    await page.get_by_label("Stored plan").select_option("acme-ppo-gold")
    await page.get_by_label("Verified by").fill("dana")
    await page.get_by_role("button", name="Record").click()
    await page.wait_for_url(re.compile(r"/staff/verifications/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


async def check_verification(page: Any, http: httpx.AsyncClient, verification_id: str) -> None:
    v = (await http.get(f"/v1/verifications/{verification_id}")).json()
    assert v["discrepancies"] and v["parity_flags"], "the fixture should show both to review"
    shown = await page.locator("[data-discrepancy]").evaluate_all("rows => rows.map(r => r.dataset.discrepancy)")
    assert shown == [d["field"] for d in v["discrepancies"]]
    flags = await page.locator("[data-parity-flag]").evaluate_all("rows => rows.map(r => r.dataset.parityFlag)")
    assert flags == [f"{f['level']}.{f['field']}" for f in v["parity_flags"]]
    masked = await page.locator('dd[data-field="member.member_id"]').inner_text()
    assert masked == v["member"]["member_id"] and masked.startswith("*")


async def price(page: Any, http: httpx.AsyncClient, verification_id: str, *, javascript: bool) -> None:
    await page.get_by_label("Program").select_option(ESTIMATE["program_id"])
    await page.get_by_label("Level of care").select_option(ESTIMATE["level_of_care"])
    await page.get_by_label("Start date").fill(ESTIMATE["start_date"])
    await page.get_by_label("Weeks").fill(ESTIMATE["weeks"])
    await page.get_by_label("Days per week").fill(ESTIMATE["days_per_week"])
    before = page.url
    await page.get_by_role("button", name="Price").click()
    if javascript:  # updated in place: the page stays the verification's
        await page.locator("#estimate-area [data-estimate]").wait_for()
        assert page.url == before
    else:
        await page.wait_for_url(re.compile(r"/staff/estimates/[0-9a-f-]{36}$"))
    api = (await http.post("/v1/estimates", json={
        "program_id": ESTIMATE["program_id"], "level_of_care": ESTIMATE["level_of_care"],
        "coverage": {"verification_id": verification_id},
        "episode": {"start_date": ESTIMATE["start_date"], "weeks": int(ESTIMATE["weeks"]),
                    "days_per_week": int(ESTIMATE["days_per_week"])}})).json()
    figures = await page.locator("[data-estimate] [data-field]").evaluate_all(
        "nodes => nodes.map(n => [n.dataset.field, n.textContent.trim()])")
    shown = dict(figures)
    assert len(shown) == len(figures), "a figure is shown twice"
    for name, value in api["totals"].items():
        assert shown.pop(f"totals.{name}") == value, name
    for i, month in enumerate(api["by_month"]):
        assert shown.pop(f"by_month[{i}].patient_pays") == month["patient_pays"]
    assert shown.pop("range.low.patient_pays") == api["range"]["low"]["patient_pays"]
    assert shown.pop("range.high.patient_pays") == api["range"]["high"]["patient_pays"]
    assert shown.pop("network_status") == api["network_status"].replace("_", " ")
    assert shown == {}, f"figures the test does not check: {sorted(shown)}"


async def page_audit(page: Any, base: str) -> None:
    await page.get_by_role("link", name="Audit trail").click()
    await page.get_by_role("heading", name="Audit trail").wait_for()
    await page.goto(base + "/staff/audit?limit=3")
    first = await page.locator("[data-audit]").evaluate_all("rows => rows.map(r => r.dataset.audit)")
    assert len(first) == 3
    await page.get_by_role("link", name="Older records").click()
    await page.get_by_role("link", name="Newest records").wait_for()
    second = await page.locator("[data-audit]").evaluate_all("rows => rows.map(r => r.dataset.audit)")
    assert second and max(map(int, second)) < min(map(int, first))


async def _flow(page: Any, base: str, keys: tuple[str, str], *, javascript: bool, name: str) -> None:
    staff_key, admin_key = keys
    async with httpx.AsyncClient(base_url=base, headers=bearer(staff_key)) as http:
        await sign_in(page, base, staff_key)
        await screenshot(page, f"staff-{name}-home")
        verification_id = await upload_271(page)
        await check_verification(page, http, verification_id)
        await screenshot(page, f"staff-{name}-verification")
        await price(page, http, verification_id, javascript=javascript)
        await screenshot(page, f"staff-{name}-estimate")
        await sign_out(page, base)
    await sign_in(page, base, admin_key)
    await page_audit(page, base)
    await screenshot(page, f"staff-{name}-audit")
    await sign_out(page, base)


async def test_staff_flow_with_javascript(page, live_server, keys):
    await _flow(page, live_server, keys, javascript=True, name="js")


async def test_staff_flow_without_javascript(no_js_page, live_server, keys):
    await _flow(no_js_page, live_server, keys, javascript=False, name="nojs")


async def test_staff_pages_pass_axe_at_desktop_and_360px(page, phone, live_server, keys):
    for p, width in ((page, "desktop"), (phone, "phone")):
        await p.goto(live_server + "/staff/sign-in")
        await assert_accessible(p)
        await sign_in(p, live_server, keys[1])
        await assert_accessible(p)
        await assert_no_horizontal_overflow(p)
        verification_id = await upload_271(p)
        await assert_accessible(p)
        await assert_no_horizontal_overflow(p)
        await screenshot(p, "staff-verification")
        async with httpx.AsyncClient(base_url=live_server, headers=bearer(keys[0])) as http:
            await price(p, http, verification_id, javascript=True)
        await assert_accessible(p)
        await assert_no_horizontal_overflow(p)
        for path in ("/staff/record/phone", "/staff/record/271", "/staff/audit"):
            await p.goto(live_server + path)
            await assert_accessible(p)
            await assert_no_horizontal_overflow(p)
            await screenshot(p, "staff-" + path.rsplit("/", 1)[1])
        # an error next to its field is accessible too
        await p.goto(live_server + "/staff/record/phone")
        await p.get_by_label("Member ID").fill("W-000111")
        await p.get_by_label("Level of care").select_option("iop")
        await p.get_by_role("group", name="In network").get_by_label("Copay ($)").fill("abc")
        await p.get_by_role("button", name="Record").click()
        error = p.locator("[data-error-for='in_network.copay']")
        assert "Copay ($) must be" in await error.inner_text()
        await assert_accessible(p)
        await screenshot(p, f"staff-phone-errors-{width}")
