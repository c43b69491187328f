"""The pages people use, rendered on the server: an entry-point layer beside the JSON API.

Controllers here are as thin as the API's: they read a form, build the same command
Struct the JSON routes take (``costsvc.services.requests``), call the same use case
in ``costsvc.services`` directly (never over HTTP) and render a Jinja template
through Litestar's template support.  Every form works without JavaScript;
``static/site.js`` only swaps the rendered result fragment in place.

``template_config()``, ``PAGE_HANDLERS`` and ``on_unrouted`` (the console's error page
for an address under ``/staff`` that no route takes) are what ``costsvc.api.app``
registers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from costsvc.api.pages.assets import asset_url, serve_asset
from costsvc.api.pages.cost import CostPages
from costsvc.api.pages.staff import StaffPages
from costsvc.api.pages.staff import on_unrouted as on_unrouted  # registered by costsvc.api.app
from costsvc.api.pages.view import NOTICE_TITLES, comparison_chart, money, month_name, percent

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def environment() -> Environment:
    """The pages' Jinja environment: autoescaped HTML, undefined names are errors
    (a typo in a template fails its test instead of rendering blank)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.globals["asset"] = asset_url
    env.globals["comparison_chart"] = comparison_chart
    env.globals["notice_titles"] = NOTICE_TITLES
    env.filters.update(money=money, percent=percent, month_name=month_name)
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


PAGE_HANDLERS: list[Any] = [serve_asset, CostPages, StaffPages]
