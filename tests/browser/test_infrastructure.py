"""The pages' shared machinery: templates render, assets are hashed and cached, axe runs."""

from __future__ import annotations

import re

import httpx

from tests.browser.axe import assert_accessible
from tests.browser.conftest import assert_no_horizontal_overflow


async def test_home_page_links_hashed_assets_cached_for_a_year(page, live_server):
    response = await page.goto(live_server + "/")
    assert response.status == 200 and response.headers["content-type"].startswith("text/html")
    css = await page.locator("link[rel=stylesheet]").get_attribute("href")
    js = await page.locator("script[src]").first.get_attribute("src")
    assert re.fullmatch(r"/assets/site\.[0-9a-f]{12}\.css", css), css
    assert re.fullmatch(r"/assets/site\.[0-9a-f]{12}\.js", js), js
    async with httpx.AsyncClient(base_url=live_server) as http:
        r = await http.get(css)
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["content-type"].startswith("text/css") and b"@media print" in r.content
        assert (await http.get(js)).headers["content-type"].startswith("text/javascript")
        assert (await http.get("/assets/site.000000000000.css")).status_code == 404


async def test_home_page_passes_axe_at_both_widths(page, phone, live_server):
    for p in (page, phone):
        await p.goto(live_server + "/")
        await assert_accessible(p)
        await assert_no_horizontal_overflow(p)
