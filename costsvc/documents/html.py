"""The GFE as a print-ready HTML page (Jinja2, autoescaped)."""

from __future__ import annotations

from functools import lru_cache

import jinja2

from costsvc.domain.gfe import GfeView


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("costsvc.documents", "templates"),
        autoescape=True,  # names are typed by the public: never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(view: GfeView) -> str:
    return _environment().get_template("gfe.html.j2").render(v=view)
