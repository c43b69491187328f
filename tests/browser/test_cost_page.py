"""The cost page in a real Chromium: what a person fills in, what they see, and that it is
exactly what the JSON API answers for the same request."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser.axe import assert_accessible
from tests.browser.conftest import assert_no_horizontal_overflow, screenshot
from tests.browser.figures import assert_figures_match

INSURED = {"program_id": "sunrise-recovery", "level_of_care": "iop", "plan_id": "acme-ppo-gold"}
INSURED_BODY = {"program_id": "sunrise-recovery", "level_of_care": "iop", "coverage": {"plan_id": "acme-ppo-gold"}}
SELF_PAY = {"program_id": "harborview-behavioral-health", "level_of_care": "iop",
            "household.size": "3", "household.annual_income": "42000", "household.state": "CA"}
SELF_PAY_BODY = {"program_id": "harborview-behavioral-health", "level_of_care": "iop",
                 "household": {"size": 3, "annual_income": "42000", "state": "CA"}}
INSURED_FIGURES = ("totals.patient_pays", "totals.plan_pays", "totals.deductible", "totals.copay",
                   "totals.coinsurance", "totals.not_covered", "totals.balance_bill", "range.low.patient_pays",
                   "range.high.patient_pays", "by_month[0].patient_pays")
SELF_PAY_FIGURES = ("totals.patient_pays", "selfpay.patient_pays", "selfpay.cash_total", "selfpay.tier",
                    "selfpay.fpl_percent", "payment_plans[0].monthly_payment")


async def api(base: str, path: str, body: dict) -> dict:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def fill(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        control = page.locator(f'[name="{name}"]')
        if await control.evaluate("e => e.tagName") == "SELECT":
            await control.select_option(value)
        else:
            await control.fill(value)


async def submit_estimate(page, values: dict[str, str]) -> None:
    await fill(page, values)
    await page.get_by_role("button", name="See the cost").click()
    await page.locator("#result-title[data-focus]").wait_for()


async def test_insured_estimate_shows_the_api_figures(page, phone, live_server):
    expected = await api(live_server, "/v1/estimates", INSURED_BODY)
    for p in (page, phone):
        await p.goto(live_server + "/")
        await submit_estimate(p, INSURED)
        await assert_figures_match(p.locator("#result"), expected, required=INSURED_FIGURES)
        # Updated in place, and the address is the answer's: a reload or a shared link shows it again.
        assert "program_id=sunrise-recovery" in p.url and "level_of_care=iop" in p.url
        assert await p.locator('[data-notice="prior_authorization_required"]').is_visible()
        await assert_accessible(p)
        await assert_no_horizontal_overflow(p)
        await screenshot(p, "cost-insured")


async def test_self_pay_with_a_household_and_its_good_faith_estimate(page, phone, live_server):
    expected = await api(live_server, "/v1/estimates", SELF_PAY_BODY)
    assert expected["selfpay"]["tier"], "the demo household should land on the sliding scale"
    await page.goto(live_server + "/")
    await submit_estimate(page, SELF_PAY)
    await assert_figures_match(page.locator("#result"), expected, required=SELF_PAY_FIGURES)
    assert await page.locator("[data-field^='totals.plan_pays']").count() == 0  # no plan, no plan share
    await assert_accessible(page)
    await screenshot(page, "cost-self-pay")

    await page.get_by_label("Full name").fill("Ana Lopez")
    await page.get_by_label("Date of birth").fill("1990-04-30")
    await page.get_by_role("button", name="Request a Good Faith Estimate").click()
    await page.locator("[data-gfe-issued]").wait_for()
    html = await page.locator('[data-gfe-link="html"]').get_attribute("href")
    pdf = await page.locator('[data-gfe-link="pdf"]').get_attribute("href")
    assert "Ana" not in page.url and "1990" not in page.url  # PHI never in an address
    async with httpx.AsyncClient(base_url=live_server) as http:
        document = await http.get(html)
        assert document.status_code == 200 and "Ana Lopez" in document.text
        assert (await http.get(pdf)).headers["content-type"] == "application/pdf"
    await assert_accessible(page)

    await phone.goto(live_server + "/")
    await submit_estimate(phone, SELF_PAY)
    await assert_no_horizontal_overflow(phone)
    await screenshot(phone, "cost-self-pay")


async def test_comparison_of_every_level_matches_the_api(page, phone, live_server):
    expected = await api(live_server, "/v1/estimates/compare",
                         {"program_id": "sunrise-recovery", "coverage": {"plan_id": "acme-ppo-gold"}})
    for p in (page, phone):
        await p.goto(live_server + "/")
        await submit_estimate(p, {**INSURED, "level_of_care": "compare"})
        blocks = p.locator("[data-level]")
        shown = [await b.get_attribute("data-level") for b in await blocks.all()]
        assert shown == [e["level_of_care"] for e in expected["estimates"]]  # cheapest first, as the API
        for estimate in expected["estimates"]:
            block = p.locator(f'[data-level="{estimate["level_of_care"]}"]')
            await assert_figures_match(block, estimate, required=("totals.patient_pays", "totals.plan_pays"))
            assert await block.get_by_text("Hours a week").count() == 1
        chart = p.locator("svg[role=img]")
        desc = await chart.locator("desc").text_content()
        for estimate in expected["estimates"]:
            assert f"${float(estimate['totals']['patient_pays']):,.2f}" in desc
        await assert_accessible(p)
        await assert_no_horizontal_overflow(p)
        await screenshot(p, "cost-compare")


async def test_the_program_list_narrows_as_one_types(page, live_server):
    await page.goto(live_server + "/")
    await page.get_by_label("Find a program").press_sequentially("az")  # a state, any case
    visible = await page.eval_on_selector_all("#f-program_id option", "os => os.filter(o => !o.hidden && o.value)"
                                              ".map(o => o.text)")
    assert visible == ["Pinewood Recovery Ranch (AZ)"]
    await page.get_by_label("Find a program").fill("")
    await page.get_by_label("Find a program").press_sequentially("cedar")
    visible = await page.eval_on_selector_all("#f-program_id option", "os => os.filter(o => !o.hidden && o.value)"
                                              ".map(o => o.text)")
    assert visible == ["Cedar Ridge Treatment Center (NC)"]


async def test_every_form_works_with_javascript_off(no_js_page, live_server):
    page = no_js_page
    expected = await api(live_server, "/v1/estimates", INSURED_BODY)
    await page.goto(live_server + "/")
    await fill(page, INSURED)
    async with page.expect_navigation():
        await page.get_by_role("button", name="See the cost").click()
    await assert_figures_match(page.locator("#result"), expected, required=INSURED_FIGURES)

    # The program search narrows the list on the server.
    await page.get_by_label("Find a program").fill("WI")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Find").click()
    options = await page.locator("#f-program_id option").all_text_contents()
    assert options[1:] == ["Lakeside Medical Center Behavioral Health (WI)"]

    await page.goto(live_server + "/")
    await fill(page, SELF_PAY)
    async with page.expect_navigation():
        await page.get_by_role("button", name="See the cost").click()
    await page.get_by_label("Full name").fill("Bo Chen")
    await page.get_by_label("Date of birth").fill("1985-01-02")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Request a Good Faith Estimate").click()
    assert await page.locator('[data-gfe-link="pdf"]').count() == 1


async def test_keyboard_only(page, live_server):
    await page.goto(live_server + "/")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    for _ in range(12):  # through the header to the form's program list
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "f-program_id":
            break
    assert await page.evaluate("document.activeElement.id") == "f-program_id"
    await page.keyboard.type("Sunrise")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "f-level_of_care"
    await page.keyboard.type("Intensive")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Acme PPO")
    assert await page.locator("#f-plan_id").input_value() == "acme-ppo-gold"
    for _ in range(10):  # on through the household and length fields to the button
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.textContent") == "See the cost":
            break
    await page.keyboard.press("Enter")
    await page.locator("#result-title[data-focus]").wait_for()
    assert await page.evaluate("document.activeElement.id") == "result-title"  # focus follows the answer
    visible = await page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return s.outlineStyle !== 'none' || document.activeElement === document.querySelector('#result-title'); }""")
    assert visible


BAD = [
    ({**INSURED, "program_id": "nope"}, "program_id", "unknown program"),
    ({**SELF_PAY, "household.annual_income": "abc"}, "household.annual_income", "Annual income must be written"),
    ({**SELF_PAY, "household.size": "0"}, "household.size", "Household size must be a whole number from 1 to 50"),
    ({"program_id": "cedar-ridge-treatment", "level_of_care": "residential", "plan_id": "evergreen-medicaid"},
     "plan_id", "is not offered at Cedar Ridge Treatment Center"),
]


@pytest.mark.parametrize(("values", "field", "words"), BAD, ids=["unknown-program", "income-abc", "household-0",
                                                                 "plan-not-offered"])
async def test_bad_input_answers_with_the_form_and_the_error_beside_the_field(page, no_js_page, live_server,
                                                                              values, field, words):
    query = httpx.QueryParams(values)
    response = await no_js_page.goto(f"{live_server}/?{query}")
    assert response.status == 422
    await _assert_error_beside(no_js_page, field, words)
    # With script: the same words, in place.
    await page.goto(live_server + "/")
    await page.evaluate("""values => { for (const [name, value] of Object.entries(values)) {
        const c = document.querySelector(`[name="${name}"]`);
        if (c.tagName === 'SELECT' && ![...c.options].some(o => o.value === value)) c.add(new Option(value, value));
        c.value = value; } }""", values)
    await page.get_by_role("button", name="See the cost").click()
    await page.locator(f'[data-error-for="{field}"]').wait_for()
    await _assert_error_beside(page, field, words)
    assert await page.evaluate("document.activeElement.getAttribute('aria-invalid')") == "true"
    await assert_accessible(page)


async def _assert_error_beside(page, field: str, words: str) -> None:
    error = page.locator(f'[data-error-for="{field}"]')
    assert words in await error.text_content()
    control = page.locator(f'[name="{field}"]')
    assert await control.get_attribute("aria-invalid") == "true"
    error_id = await error.get_attribute("id")
    assert error_id in (await control.get_attribute("aria-describedby")).split()
    # Beside it: the message is in the control's own field box.
    assert await page.evaluate("([c, e]) => document.getElementById(c).closest('.field') === "
                               "document.getElementById(e).closest('.field')",
                               [await control.get_attribute("id"), error_id])
    assert "Traceback" not in await page.content()


@pytest.mark.parametrize("tamper", ["program_id=nope", "level_of_care=compare", "household.size=-1"])
async def test_a_tampered_hidden_field_is_refused_in_words(page, no_js_page, live_server, tamper):
    name, value = tamper.split("=")
    for p in (page, no_js_page):
        await p.goto(f"{live_server}/?{httpx.QueryParams(SELF_PAY)}")
        await p.evaluate("([n, v]) => { const h = document.querySelector(`#gfe input[type=hidden][name='${n}']`);"
                         " if (h) h.value = v; else { const i = document.createElement('input'); i.type = 'hidden';"
                         " i.name = n; i.value = v; document.querySelector('#gfe form').append(i); } }", [name, value])
        await p.get_by_label("Full name").fill("Ana Lopez")
        await p.get_by_label("Date of birth").fill("1990-04-30")
        await p.get_by_role("button", name="Request a Good Faith Estimate").click()
        alert = p.locator('.alert[data-error-for=""]').first
        await alert.wait_for()
        assert re.search(r"no longer matches an estimate", await alert.text_content())
        assert await p.locator("[data-gfe-issued]").count() == 0


async def test_printing_keeps_the_answer_and_drops_the_form(page, live_server):
    await page.goto(f"{live_server}/?{httpx.QueryParams(INSURED)}")
    await page.emulate_media(media="print")
    assert not await page.locator("form.estimate").is_visible()
    assert await page.locator('#result [data-field="totals.patient_pays"]').is_visible()
