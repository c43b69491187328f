"""The cost page's HTTP behaviour without a browser (the browser tests, tests/browser, check what a
person sees): status codes, the fragment, caching headers, and each bad input answered with the
form and the error in words."""

from __future__ import annotations

import re

import pytest

from costsvc.api.pages.assets import asset_url

INSURED = {"program_id": "sunrise-recovery", "level_of_care": "iop", "plan_id": "acme-ppo-gold"}
SELF_PAY = {"program_id": "harborview-behavioral-health", "level_of_care": "iop",
            "household.size": "3", "household.annual_income": "42000", "household.state": "CA"}


def figure(html: str, path: str) -> str:
    match = re.search(rf'<data value="([^"]*)" data-field="{re.escape(path)}"', html)
    assert match, f"{path} not shown"
    return match[1]


async def test_the_form_alone_and_an_answer_equal_to_the_api(client):
    empty = await client.get("/")
    assert empty.status_code == 200 and empty.headers["content-type"].startswith("text/html")
    assert 'name="program_id"' in empty.text and "data-field" not in empty.text
    page = await client.get("/", params=INSURED)
    api = (await client.post("/v1/estimates", json={"program_id": "sunrise-recovery", "level_of_care": "iop",
                                                     "coverage": {"plan_id": "acme-ppo-gold"}})).json()
    for path in ("patient_pays", "plan_pays", "deductible", "copay", "coinsurance"):
        assert figure(page.text, f"totals.{path}") == api["totals"][path]


async def test_a_fragment_is_only_the_part_that_changes(client):
    page = await client.get("/", params=INSURED, headers={"X-Costsvc-Fragment": "1"})
    assert page.status_code == 200 and "<html" not in page.text and 'id="result"' in page.text
    assert "X-Costsvc-Fragment" in page.headers["vary"]


async def test_assets_are_hashed_and_immutable(client):
    css = await client.get(asset_url("site.css"))
    assert css.status_code == 200 and "immutable" in css.headers["cache-control"]
    assert (await client.get("/assets/site.css")).status_code == 404  # only the hashed name is served


@pytest.mark.parametrize(("values", "field", "words"), [
    ({**INSURED, "program_id": "nope"}, "program_id", "unknown program"),
    ({**SELF_PAY, "household.annual_income": "abc"}, "household.annual_income", "Annual income must be"),
    ({**SELF_PAY, "household.size": "0"}, "household.size", "Household size must be a whole number"),
    ({"program_id": "cedar-ridge-treatment", "level_of_care": "detox", "plan_id": "evergreen-medicaid"},
     "plan_id", "is not offered at Cedar Ridge"),
    ({**INSURED, "level_of_care": "detox"}, "level_of_care", "does not offer detox"),
    ({**SELF_PAY, "household.state": "ZZ"}, "household.state", "State must be one of"),
    ({**INSURED, "episode.weeks": "999"}, "episode.weeks", "must be a whole number from 1 to 104"),
])
async def test_bad_input_is_the_form_again_with_the_error_in_words(client, values, field, words):
    page = await client.get("/", params=values)
    assert page.status_code == 422
    error = re.search(rf'<p class="error" id="([^"]+)" data-error-for="{re.escape(field)}">([^<]*)</p>', page.text)
    assert error and words in error[2].replace("&#39;", "'"), page.text[:3000]
    assert re.search(rf'name="{re.escape(field)}"[^>]*aria-describedby="[^"]*{error[1]}', page.text)
    assert "Traceback" not in page.text


async def test_a_gfe_request_whose_hidden_fields_were_changed_is_refused(client):
    for tampered in ({**SELF_PAY, "program_id": "nope"}, {**SELF_PAY, "level_of_care": "compare"},
                     {**SELF_PAY, "household.size": "-1"}):
        page = await client.post("/gfe", data={**tampered, "patient.name": "Ana Lopez",
                                               "patient.date_of_birth": "1990-04-30"})
        assert page.status_code == 422 and "no longer matches an estimate" in page.text
        assert "data-gfe-issued" not in page.text and page.headers["cache-control"] == "no-store"


async def test_a_gfe_needs_a_name_and_a_date_of_birth(client):
    page = await client.post("/gfe", data={**SELF_PAY, "patient.name": " ", "patient.date_of_birth": "30/04/1990"},
                             headers={"X-Costsvc-Fragment": "1"})
    assert page.status_code == 422
    assert 'data-error-for="patient.name"' in page.text and 'data-error-for="patient.date_of_birth"' in page.text
