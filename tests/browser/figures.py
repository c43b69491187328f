"""Reading the figures a page shows (``data-field``) and finding them in the API's JSON."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

_STEP = re.compile(r"([a-z_]+)(?:\[(\d+)\])?")

#: Every figure as (path, value attribute, text, kind) inside the given element.
_READ = """root => Array.from(root.querySelectorAll('[data-field]')).map(e =>
    [e.dataset.field, e.getAttribute('value'), e.textContent.trim(), e.dataset.kind || ''])"""


def at(document: dict[str, Any], path: str) -> Any:
    """``document`` at a ``data-field`` path: ``totals.patient_pays``, ``by_month[0].patient_pays``."""
    node: Any = document
    for part in path.split("."):
        match = _STEP.fullmatch(part)
        assert match, f"not a document path: {path}"
        node = node[match[1]]
        if match[2] is not None:
            node = node[int(match[2])]
    return node


async def shown_figures(element: Any) -> list[tuple[str, str, str, str]]:
    return [tuple(row) for row in await element.evaluate(_READ)]


async def assert_figures_match(element: Any, document: dict[str, Any], *, required: tuple[str, ...]) -> set[str]:
    """Every figure inside ``element`` equals the document's value at its path (and a money
    figure reads as that amount in dollars); ``required`` paths must all be shown."""
    figures = await shown_figures(element)
    paths = {path for path, *_ in figures}
    assert set(required) <= paths, f"not shown: {sorted(set(required) - paths)}"
    for path, value, text, kind in figures:
        expected = at(document, path)
        assert value == str(expected), f"{path}: the page shows {value!r}, the API answers {expected!r}"
        if kind == "money":
            assert text == f"${Decimal(expected):,.2f}", f"{path} reads {text!r} for {expected}"
    return paths
