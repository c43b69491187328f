"""The cost page at ``/``."""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template


class CostPages(Controller):
    path = "/"
    include_in_schema = False

    @get(sync_to_thread=False)
    def index(self) -> Template:
        return Template("cost.html", context={})
