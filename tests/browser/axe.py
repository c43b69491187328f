"""axe-core (vendored, tests/browser/vendor) run inside a page: fail on serious or critical violations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).with_name("vendor") / "axe.min.js"
#: WCAG 2.1 A and AA, plus axe's best practices (landmarks, one h1, …).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
FAILING = {"serious", "critical"}


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Every violation axe finds in the page as it is now (JavaScript must be on)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    return result["violations"]


async def assert_accessible(page: Any) -> None:
    bad = [v for v in await axe_violations(page) if v["impact"] in FAILING]
    lines = [f"{v['impact']}: {v['id']} ({v['help']}) at "
             + ", ".join(" ".join(node["target"]) for node in v["nodes"][:5]) for v in bad]
    assert not bad, "axe-core found serious or critical violations:\n" + "\n".join(lines)
