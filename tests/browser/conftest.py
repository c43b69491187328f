"""The browser tests: Playwright for Python driving Debian's Chromium.

Playwright's own browser download cannot work here, so the tests launch the system
Chromium through ``executable_path``: ``COSTSVC_CHROMIUM``, else ``/usr/bin/chromium``,
else ``chromium`` on the PATH.  Without one (or without the ``playwright`` package)
the tests are skipped and the run ends with one plain line saying so, unless
``--require-browser`` or ``COSTSVC_REQUIRE_BROWSER=1`` is given (``.ci/run`` does):
then a missing browser fails every browser test.

The pages are served by a real ``costsvc serve`` process (``tests/server.py``) on
its own copy of the demo database.  Screenshots go to ``tests/browser/output/``
(or ``COSTSVC_BROWSER_OUTPUT``); ``COSTSVC_UPDATE_SCREENSHOTS=1`` also copies them to
``docs/screenshots/`` for the README.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from costsvc.phi import generate_key
from tests.server import _serve, _stop, _wait_ready

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(os.environ.get("COSTSVC_BROWSER_OUTPUT", Path(__file__).with_name("output")))
DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}
NOT_FOUND = ("Chromium was not found (install Debian's chromium or set COSTSVC_CHROMIUM): "
             "the browser tests were skipped.")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--require-browser", action="store_true", default=False,
                     help="fail the browser tests, instead of skipping them, when Chromium or Playwright is missing "
                          "(also COSTSVC_REQUIRE_BROWSER=1)")


def chromium_path() -> str | None:
    configured = os.environ.get("COSTSVC_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "The playwright package is not installed: the browser tests were skipped."
    if chromium_path() is None:
        return NOT_FOUND
    return None


def _required(config: pytest.Config) -> bool:
    return config.getoption("--require-browser") or os.environ.get("COSTSVC_REQUIRE_BROWSER") == "1"


_skipped_because: list[str] = []


@pytest.fixture(scope="session")
async def browser(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    # The async API, on pytest-asyncio's session loop: the sync API runs a loop of its
    # own, which collides with the loop the database fixtures run on.
    missing = _browser_missing()
    if missing:
        if _required(request.config):
            pytest.fail(f"{missing.split(':')[0]}, and --require-browser was given.", pytrace=False)
        _skipped_because[:] = [missing]
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = await playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield launched
        await launched.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped_because:
        terminalreporter.write_line(_skipped_because[0])


@pytest.fixture(scope="session")
async def pages_db_url(databases) -> str:
    """One demo database for the browser tests' server (they only read tariffs and add estimates)."""
    return await databases.create()


@pytest.fixture(scope="session")
def live_server(browser, pages_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real ``costsvc serve`` process on the demo data (with a PHI key, for GFEs)."""
    data = tmp_path_factory.mktemp("pages-data")
    env = {**os.environ, "DATABASE_URL": pages_db_url, "COSTSVC_SEED_DEMO": "false", "COSTSVC_LOG_LEVEL": "WARNING",
           "COSTSVC_PHI_KEY": generate_key(), "COSTSVC_DATA_DIR": str(data)}
    env.pop("COSTSVC_EMBEDDED_URL", None)
    proc, base = _serve(env)
    try:
        _wait_ready(base, proc)
        yield base
    finally:
        _stop(proc)


async def _page(browser: Any, viewport: dict[str, int], **options: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport=viewport, locale="en-US", **options)
    context.set_default_timeout(15_000)  # a shared, busy machine: generous, but a hang still fails
    yield await context.new_page()
    await context.close()


@pytest.fixture
async def page(browser) -> AsyncIterator[Any]:
    """A desktop-sized page (1280 px wide), JavaScript on."""
    async for p in _page(browser, DESKTOP):
        yield p


@pytest.fixture
async def phone(browser) -> AsyncIterator[Any]:
    """A 360 px wide page: the narrowest layout the pages promise."""
    async for p in _page(browser, PHONE, is_mobile=True, has_touch=True):
        yield p


@pytest.fixture
async def no_js_page(browser) -> AsyncIterator[Any]:
    """A desktop page with JavaScript disabled: every form must still work."""
    async for p in _page(browser, DESKTOP, java_script_enabled=False):
        yield p


async def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``<name>-<width>.png`` under the test output
    (and under docs/screenshots with COSTSVC_UPDATE_SCREENSHOTS=1)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}-{page.viewport_size['width']}.png"
    await page.screenshot(path=str(path), full_page=True)
    if os.environ.get("COSTSVC_UPDATE_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / path.name)
    return path


async def assert_no_horizontal_overflow(page: Any) -> None:
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 0:
        wide = await page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''))""")
        raise AssertionError(f"the page scrolls sideways by {overflow} px at {page.viewport_size['width']} px wide: {wide}")
