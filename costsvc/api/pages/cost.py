"""The cost page at ``/`` and its Good Faith Estimate request (``POST /gfe``).

``GET /`` with no query shows the form; with one (the form is a GET: an answer can
be bookmarked and shared, and a reload asks again) it prices the form through
``forms.price_form`` and shows the answer under it.  Nothing is stored for a GET:
the estimate is stored only when a Good Faith Estimate is asked for, because the
GFE is issued from a stored estimate (``services.documents.issue_gfe``).

With the request header ``X-Costsvc-Fragment: 1`` (``static/site.js``) either route
answers with the part of the page that changed, to be swapped in place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from costsvc.api.documents import links
from costsvc.api.pages.forms import COMPARE, HOUSEHOLD, Outcome, price_form, sentence
from costsvc.api.pages.view import form_options, level_facts
from costsvc.catalog import Catalog
from costsvc.services import documents
from costsvc.services.errors import ServiceError

FRAGMENT_HEADER = "x-costsvc-fragment"
#: The estimate form's controls (besides ``q``, which only narrows the program list); a
#: GFE form carries them as hidden fields, plus the patient's name and date of birth.
ESTIMATE_FIELDS = ("program_id", "level_of_care", "plan_id", *HOUSEHOLD, "episode.weeks", "episode.days")
PATIENT_LABELS = {"patient.name": "Full name", "patient.date_of_birth": "Date of birth"}
NO_STORE = {"Cache-Control": "no-store"}


def _fragment(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "1"


def _page(request: Request[Any, Any, Any], catalog: Catalog, outcome: Outcome | None, *,
          q: str = "", gfe: dict[str, Any] | None = None, fragment: str = "_estimate.html",
          headers: dict[str, str] | None = None) -> Template:
    values = outcome.values if outcome else {}
    context = {
        "values": values, "outcome": outcome, "q": q, "gfe": gfe, "levels": level_facts(),
        "options": form_options(catalog, q), "compare_value": COMPARE, "patient_labels": PATIENT_LABELS,
    }
    failed = (outcome is not None and bool(outcome.errors)) or bool(gfe and gfe.get("errors"))
    name = fragment if _fragment(request) else "cost.html"
    return Template(name, context=context, status_code=422 if failed else 200,
                    headers={"Vary": "X-Costsvc-Fragment", **(headers or {})})


def _values(source: Any) -> dict[str, str]:
    return {name: source.get(name, "").strip() for name in ESTIMATE_FIELDS if source.get(name, "").strip()}


class CostPages(Controller):
    include_in_schema = False

    @get("/", sync_to_thread=False)
    def cost_page(self, request: Request) -> Template:
        catalog = request.app.state.catalog.current
        query = request.query_params
        q = query.get("q", "").strip()
        values = _values(query)
        # "Find" narrows the program list without pricing; an empty form is just the form.
        if query.get("find") is not None or not values:
            return _page(request, catalog, Outcome(values=values) if values else None, q=q)
        return _page(request, catalog, price_form(catalog, values, dt.date.today()), q=q)

    @post("/gfe", status_code=200)
    async def request_gfe(self, request: Request) -> Template:
        """A self-pay GFE for the estimate the form carries: price and store it, then issue the GFE."""
        state = request.app.state
        catalog = state.catalog.current
        form = await request.form()
        values = _values(form)
        patient = {"patient.name": form.get("patient.name", "").strip(),
                   "patient.date_of_birth": form.get("patient.date_of_birth", "").strip()}
        outcome = price_form(catalog, values, dt.date.today(), self_pay=True)
        gfe: dict[str, Any] = {"values": patient, "errors": {}}
        if not outcome.ok or outcome.compare:
            # The hidden fields no longer make an estimate: someone changed them.
            why = ("This request no longer matches an estimate: "
                   + " ".join(outcome.errors.values() or ["choose one level of care."])
                   + " Price it again, then ask for the Good Faith Estimate.")
            gfe["errors"][""] = why
            # Without script the whole page comes back: the form then says it, beside the fields.
            outcome.errors[""] = why
            return _page(request, catalog, outcome, gfe=gfe, fragment="_gfe.html", headers=NO_STORE)
        dob = _date(patient["patient.date_of_birth"])
        if not patient["patient.name"]:
            gfe["errors"]["patient.name"] = "Enter the name of the person who will be treated."
        if dob is None:
            gfe["errors"]["patient.date_of_birth"] = "Date of birth must be a date, like 1990-04-30."
        if gfe["errors"]:
            return _page(request, catalog, outcome, gfe=gfe, fragment="_gfe.html", headers=NO_STORE)
        priced = outcome.priced[0]
        await state.estimate_writer.store([priced])
        household = outcome.request.household if outcome.request else None
        command = documents.IssueGfe(estimate_id=str(priced.estimate_id), name=patient["patient.name"],
                                     date_of_birth=dob, household=household)
        try:
            content = await documents.issue_gfe(state.pool, catalog, state.phi_vault, command,
                                                now=dt.datetime.now(dt.UTC).replace(microsecond=0))
        except ServiceError as exc:
            for item in getattr(exc, "errors", None) or []:
                label = PATIENT_LABELS.get(item.field)
                gfe["errors"][item.field if label else ""] = sentence(label, item.message) if label else item.message
            if not gfe["errors"]:
                gfe["errors"][""] = exc.detail
            return _page(request, catalog, outcome, gfe=gfe, fragment="_gfe.html", headers=NO_STORE)
        gfe["issued"] = {"links": links(content.gfe_id), "total": str(content.total_expected_charges),
                         "valid_until": content.valid_until.isoformat()}
        return _page(request, catalog, outcome, gfe=gfe, fragment="_gfe.html", headers=NO_STORE)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None
