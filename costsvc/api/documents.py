"""Good Faith Estimate and Advanced EOB endpoints: thin handlers over
``costsvc.services.documents``; the renderings are ``costsvc.documents``.

- ``POST /v1/estimates/{estimate_id}/gfe``: issue a GFE (anyone who has the estimate id);
- ``GET /v1/gfe/{gfe_id}``: the GFE as HTML, PDF or FHIR, by ``?format=`` or ``Accept``
  (no key: the person downloads their own; the random id is the secret);
- ``GET /v1/gfe?from=&to=``: staff list GFEs by issue date (no PHI in the list);
- ``advanced_eob_response``: ``GET /v1/estimates/{id}`` as FHIR (called by the estimate route).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Parameter, Schema
from litestar.params import FromPath, JSONBody

from costsvc.api.problems import (
    BODY_STATUSES,
    PROBLEM_JSON,
    handle_service_error,
    invalid_problem,
    problem,
    problem_response,
    problem_responses,
)
from costsvc.auth import require_role
from costsvc.documents import fhir
from costsvc.documents.fonts import font_files
from costsvc.documents.html import render_html
from costsvc.documents.pdf import render_pdf
from costsvc.domain.gfe import GfeView
from costsvc.domain.model import Household, InputStruct, Money
from costsvc.phi import PhiVault
from costsvc.services import documents as service
from costsvc.services.errors import Conflict, FieldProblem, ServiceError

HTML = "text/html"
PDF = "application/pdf"
FHIR = fhir.FHIR_JSON
JSON = "application/json"
FORMATS = {"html": HTML, "pdf": PDF, "fhir": FHIR}
# The person's document: never cached by a shared cache, never indexed.
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex, nofollow", "Vary": "Accept"}


class GfePatient(InputStruct):
    name: str
    date_of_birth: dt.date


class GfeRequest(InputStruct):
    patient: GfePatient
    diagnosis_codes: list[str] | None = msgspec.field(default=None)
    scheduled_date: dt.date | None = None
    requested_by: Literal["patient", "provider"] = "patient"
    # When the service was scheduled or the GFE requested (default today): the deadline counts from it.
    requested_on: dt.date | None = None
    # Optional: place this household on the sliding scale instead of the estimate's own placement.
    household: Household | None = None


class GfeLinks(msgspec.Struct):
    html: str
    pdf: str
    fhir: str


class GfeDeadlineOut(msgspec.Struct):
    basis: str
    business_days: int | None
    due_by: dt.date | None
    met: bool
    explanation: str


class GfeIssued(msgspec.Struct):
    gfe_id: str
    estimate_id: str
    issued_on: dt.date
    valid_until: dt.date
    total_expected_charges: Money
    deadline: GfeDeadlineOut
    sliding_scale_tier: str | None
    links: GfeLinks


def links(gfe_id: str) -> GfeLinks:
    base = f"/v1/gfe/{gfe_id}"
    return GfeLinks(html=f"{base}?format=html", pdf=f"{base}?format=pdf", fhir=f"{base}?format=fhir")


_encoder = msgspec.json.Encoder(decimal_format="string")


def not_acceptable(request: Request[Any, Any, Any], offered: list[str], detail: str | None = None) -> Response[bytes]:
    p = problem(406, detail or f"This resource is available as {', '.join(offered)}; ask for one with Accept "
                "or ?format=.", type_="not-acceptable", instance=request.url.path, title="Not acceptable")
    return Response(msgspec.json.encode(p), status_code=406, media_type=PROBLEM_JSON)


def negotiate(request: Request[Any, Any, Any], offered: dict[str, str], default: str) -> str | None:
    """The media type to answer with: ``?format=`` first, then ``Accept`` (q-values and
    wildcards honoured), ``default`` without either; None when nothing offered fits."""
    wanted = request.query_params.get("format")
    if wanted is not None:
        return offered.get(wanted.lower())
    header = request.headers.get("accept")
    if not header or not header.strip():
        return default
    types = list(offered.values())
    if default in types:  # a wildcard picks the default first
        types.remove(default)
        types.insert(0, default)
    return request.accept.best_match(types)


def phi_vault(request: Request[Any, Any, Any]) -> PhiVault | None:
    """The vault the app factory configured (None: no PHI key, PHI refused)."""
    return request.app.state.phi_vault


@dataclass
class GfeRenderingOperation(Operation):
    """The three renderings of ``GET /v1/gfe/{id}``, which the handler chooses itself."""

    def __post_init__(self) -> None:
        self.parameters = [*(self.parameters or []), Parameter(
            name="format", param_in="query", required=False, description="Instead of `Accept`.",
            schema=Schema(type=OpenAPIType.STRING, enum=sorted(FORMATS)),
        )]
        self.responses = {**(self.responses or {}), "200": OpenAPIResponse(
            description="The GFE: a print-ready page, a PDF, or a Da Vinci PCT GFE Bundle",
            content={
                HTML: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
                PDF: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format="binary")),
                FHIR: OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT)),
            },
        )}


class DocumentController(Controller):
    path = "/v1"
    tags = ["documents"]

    @post("/estimates/{estimate_id:str}/gfe", status_code=201, opt={"body_type": GfeRequest, "small_body": True},
          summary="Issue a Good Faith Estimate (No Surprises Act) from a stored estimate",
          responses={201: ResponseSpec(GfeIssued, description="The GFE and the links to its renderings",
                                       generate_examples=False),
                     **problem_responses(*BODY_STATUSES, 404, 503)})
    async def issue_gfe(self, request: Request, estimate_id: FromPath[str],
                        data: JSONBody[GfeRequest]) -> Response[bytes]:
        """Re-prices the estimate as self-pay; stores the patient's name, date of birth and
        diagnosis codes encrypted.  201 with the links to the three renderings."""
        state = request.app.state
        codes = data.diagnosis_codes or []
        command = service.IssueGfe(
            estimate_id=estimate_id, name=data.patient.name, date_of_birth=data.patient.date_of_birth,
            diagnosis_codes=codes, scheduled_date=data.scheduled_date, requested_by=data.requested_by,
            requested_on=data.requested_on, household=data.household,
        )
        content = await service.issue_gfe(state.pool, state.catalog.current, phi_vault(request), command,
                                          now=dt.datetime.now(dt.UTC).replace(microsecond=0))
        d = content.deadline
        body = GfeIssued(
            gfe_id=content.gfe_id, estimate_id=content.estimate_id, issued_on=content.issued_on,
            valid_until=content.valid_until, total_expected_charges=content.total_expected_charges,
            deadline=GfeDeadlineOut(d.basis, d.business_days, d.due_by, d.met, d.explanation),
            sliding_scale_tier=content.sliding.tier if content.sliding else None, links=links(content.gfe_id),
        )
        return Response(_encoder.encode(body), status_code=201, media_type=JSON,
                        headers={"Location": f"/v1/gfe/{content.gfe_id}", "Cache-Control": "no-store"})

    @get("/gfe/{gfe_id:str}", summary="A Good Faith Estimate as HTML, PDF or FHIR (by Accept or ?format=)",
         operation_class=GfeRenderingOperation, responses=problem_responses(404, 406, 422, 503))
    async def read_gfe(self, request: Request, gfe_id: FromPath[str]) -> Response[bytes]:
        media_type = negotiate(request, FORMATS, HTML)
        if media_type is None:
            return not_acceptable(request, list(FORMATS.values()))
        view = await service.read_gfe(request.app.state.pool, phi_vault(request), gfe_id)
        body, headers = await render(view, media_type)
        return Response(body, media_type=media_type, headers={**PRIVATE, **headers})

    @get("/gfe", guards=[require_role("staff")], summary="Good Faith Estimates issued in a date range (staff)",
         security=[{"apiKey": []}],
         responses={200: ResponseSpec(service.GfePage, description="GFEs issued in the range, without PHI",
                                      generate_examples=False),
                    **problem_responses(401, 403, 422)})
    async def list_gfes(self, request: Request) -> Response[bytes]:
        """``from`` and ``to`` (ISO dates, inclusive; default today), ``limit`` (1-500, default
        100), ``cursor`` (the previous page's ``next_cursor``).  No PHI: names are not listed."""
        query = request.query_params
        errors: list[FieldProblem] = []
        today = dt.date.today()

        def day(name: str) -> dt.date:
            text = query.get(name)
            if not text:
                return today
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                errors.append(FieldProblem(name, "must be an ISO date (YYYY-MM-DD)"))
                return today

        issued_from, issued_to = day("from"), day("to")
        limit = 100
        if query.get("limit"):
            try:
                limit = int(query["limit"])
            except ValueError:
                errors.append(FieldProblem("limit", "must be an integer"))
        if errors:
            return problem_response(invalid_problem(errors, request.url.path))
        page = await service.list_gfes(request.app.state.pool, issued_from=issued_from, issued_to=issued_to,
                                       limit=limit, cursor=query.get("cursor"))
        out = {"gfes": [{**msgspec.to_builtins(g), "links": links(g.gfe_id)} for g in page.gfes],
               "next_cursor": page.next_cursor}
        return Response(_encoder.encode(out), media_type=JSON, headers={"Cache-Control": "no-store"})


async def render(view: GfeView, media_type: str) -> tuple[bytes, dict[str, str]]:
    if media_type == PDF:
        # fpdf2 is CPU-bound (tens of milliseconds): off the event loop.
        body = await asyncio.to_thread(render_pdf, view)
        return body, {"Content-Disposition": f'inline; filename="good-faith-estimate-{view.content.gfe_id}.pdf"'}
    if media_type == FHIR:
        return fhir.encode(fhir.gfe_bundle(view)), {}
    return render_html(view).encode("utf-8"), {}


def warm_documents(_app: Any) -> None:
    """On start-up: prepare the PDF fonts on a background thread (seconds, once per machine:
    costsvc/documents/fonts.py), so the first PDF a person asks for is not the slow one."""
    threading.Thread(target=font_files, name="costsvc-fonts", daemon=True).start()


def wants_fhir(request: Request[Any, Any, Any]) -> bool | None:
    """For ``GET /v1/estimates/{id}``: True for FHIR, False for the JSON document, None for
    a format nobody serves.  Without ``?format=`` or ``Accept`` the answer is the JSON."""
    chosen = negotiate(request, {"json": JSON, "fhir": FHIR}, JSON)
    if chosen is None:
        return None
    return chosen == FHIR


async def advanced_eob_response(request: Request[Any, Any, Any], estimate_id: str) -> Response[bytes]:
    state = request.app.state
    try:
        bundle = await service.advanced_eob(state.pool, state.catalog.current, estimate_id)
    except Conflict as exc:
        return not_acceptable(request, [JSON], exc.detail)
    except ServiceError as exc:
        return handle_service_error(request, exc)
    return Response(fhir.encode(bundle), media_type=FHIR, headers={"Vary": "Accept"})

