"""What the templates are given besides the estimate documents: the form's choices,
the levels-of-care facts, the comparison chart's geometry, and the money filters."""

from __future__ import annotations

import calendar
from decimal import Decimal
from functools import lru_cache
from typing import Any

from costsvc.catalog import Catalog
from costsvc.domain.levels import LEVELS, LevelInfo
from costsvc.domain.model import US_STATES

_options_memo: tuple[Catalog, dict[str, Any]] | None = None


def _all_options(catalog: Catalog) -> dict[str, Any]:
    global _options_memo
    if _options_memo is None or _options_memo[0] is not catalog:
        programs = sorted(catalog.programs.values(), key=lambda p: (p.name.casefold(), p.program_id))
        by_payer: dict[str, list[tuple[str, str]]] = {}
        for plan in sorted(catalog.plans.values(), key=lambda p: (p.payer_id, p.plan_name)):
            by_payer.setdefault(catalog.payers.get(plan.payer_id, plan.payer_id), []).append((plan.plan_id, plan.plan_name))
        _options_memo = (catalog, {
            "programs": [(p.program_id, f"{p.name} ({p.state})", f"{p.name} {p.state}".casefold()) for p in programs],
            "plans": sorted(by_payer.items()),
        })
    return _options_memo[1]


def form_options(catalog: Catalog, q: str = "") -> dict[str, Any]:
    """The choices of the estimate form; ``q`` (part of a name, or a state) narrows the programs."""
    options = _all_options(catalog)
    programs = options["programs"]
    if q:
        needle = q.casefold()
        programs = [p for p in programs if needle in p[2]]
    return {"programs": [(pid, label) for pid, label, _ in programs], "plans": options["plans"],
            "states": STATES, "levels": LEVEL_CHOICES}


STATES = sorted(US_STATES)
LEVEL_CHOICES = [(code, info.name) for code, info in LEVELS.items()]


@lru_cache(maxsize=1)
def level_facts() -> dict[str, dict[str, str]]:
    """What people compare between levels of care, in words, from ``costsvc.domain.levels``."""
    return {code: _facts(info) for code, info in LEVELS.items()}


def _facts(info: LevelInfo) -> dict[str, str]:
    unit = "days" if info.length_unit == "days" else "weeks"
    return {
        "name": info.name,
        "hours_per_week": info.hours_per_week,
        "living": "You live at the facility" if info.living == "at facility" else "You live at home",
        "supervision": info.supervision,
        "suits": info.ideal_candidate,
        "length": f"{info.range_low}–{info.range_high} {unit} (estimated here: {info.default_episode})",
        "length_unit": info.length_unit,
    }


CHART_WIDTH = 640
BAR_HEIGHT = 28
LABEL_WIDTH = 230
AMOUNT_WIDTH = 110


def comparison_chart(estimates: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of the horizontal bar chart of what the person pays per level (an SVG
    drawn by the server: it needs no script and prints)."""
    amounts = [Decimal(e["totals"]["patient_pays"]) for e in estimates]
    top = max(amounts, default=Decimal(0)) or Decimal(1)
    room = CHART_WIDTH - LABEL_WIDTH - AMOUNT_WIDTH
    bars = []
    for i, (estimate, amount) in enumerate(zip(estimates, amounts)):
        width = int(room * amount / top) if amount else 0
        bars.append({"level": estimate["level_of_care"], "name": LEVELS[estimate["level_of_care"]].name,
                     "amount": estimate["totals"]["patient_pays"], "y": i * (BAR_HEIGHT + 12),
                     "width": max(width, 2)})
    return {"width": CHART_WIDTH, "height": len(bars) * (BAR_HEIGHT + 12), "bar_height": BAR_HEIGHT,
            "label_width": LABEL_WIDTH, "bars": bars}


def money(value: str | Decimal | None) -> str:
    """``"1234.50"`` as ``$1,234.50`` (the document's string, never re-rounded)."""
    if value is None:
        return "—"
    return f"${Decimal(value):,.2f}"


def percent(value: str | Decimal | None) -> str:
    if value is None:
        return "—"
    # The FPL percentage has many decimals in the document (its data-value keeps them all).
    return f"{Decimal(value):.1f}".removesuffix(".0") + " %"


def month_name(month: str) -> str:
    """``"2026-03"`` as ``March 2026``."""
    year, number = month.split("-")
    return f"{calendar.month_name[int(number)]} {year}"


#: A heading for each notice the engine gives (its message explains it).
NOTICE_TITLES = {
    "starts_before_tariffs": "Check the start date",
    "out_of_network": "Out of network",
    "not_covered": "Not covered",
    "prior_authorization_required": "Prior authorization",
    "limit_reached": "Over your plan's limit",
    "balance_billing_possible": "Balance billing",
    "no_negotiated_rate": "No negotiated rate on file",
    "no_reference_rate": "No reference rate on file",
    "plan_year_reset": "A new plan year",
    "accumulators_prior_plan_year": "Amounts from an earlier plan year",
}
