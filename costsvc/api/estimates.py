"""Estimate endpoints: thin handlers over ``costsvc.services.estimates``.

Bodies are checked by ``costsvc.api.body`` before a handler runs (``opt["body_type"]``);
estimates are returned as the bytes the service encoded, and documented by the
``Estimate`` schema.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Operation, Parameter, Schema
from litestar.params import FromPath, JSONBody

from costsvc.api.clients import client_of
from costsvc.api.documents import FHIR, advanced_eob_response, not_acceptable, wants_fhir
from costsvc.api.problems import BODY_STATUSES, problem_for, problem_responses
from costsvc.api.schemas import BatchResults, Comparison, Estimate
from costsvc.auth import current_principal, role_satisfies
from costsvc.observe import metrics
from costsvc.services import estimates as service
from costsvc.services import verifications
from costsvc.services.errors import InvalidInput
from costsvc.services.requests import BatchRequest, CompareRequest, CoverageRequest, EstimateRequest

JSON = "application/json"
INCLUDE_VALUES = ("claims",)
T = TypeVar("T", EstimateRequest, BatchRequest, CompareRequest)


@dataclass
class EstimateOperation(Operation):
    """Documents ``?include=``, which the handler reads itself (see ``create_estimate``)."""

    def __post_init__(self) -> None:
        self.parameters = [*(self.parameters or []), Parameter(
            name="include", param_in="query", required=False,
            description="`claims` adds the claim-by-claim detail.",
            schema=Schema(type="string", enum=list(INCLUDE_VALUES)),  # type: ignore[arg-type]
        )]


def _include(request: Request[Any, Any, Any]) -> str | None:
    include = request.query_params.get("include")
    if include is not None and include not in INCLUDE_VALUES:
        raise InvalidInput.one("include", f"must be one of {', '.join(INCLUDE_VALUES)}")
    return include


async def verified_coverage(request: Request, coverage: CoverageRequest | None) -> CoverageRequest | None:
    """``coverage.verification_id`` resolved to the verification's benefits; it needs a
    staff or admin key (401 without one, 403 for another role)."""
    if coverage is None or coverage.verification_id is None:
        return coverage
    principal = await current_principal(request)
    if not role_satisfies(principal.role, "staff"):
        raise PermissionDeniedException(detail="Pricing from a verification needs a 'staff' or 'admin' key.")
    actor = verifications.Actor(principal.key_id, principal.name, client_of(request))
    return await verifications.resolve_coverage(request.app.state.pool, coverage, actor)


async def _with_verification(request: Request, data: T) -> T:
    """The request with ``coverage.verification_id`` resolved (unchanged without one)."""
    coverage = await verified_coverage(request, data.coverage)
    return data if coverage is data.coverage else msgspec.structs.replace(data, coverage=coverage)


_VERIFICATION_UNAVAILABLE = ("Pricing from a `verification_id` needs the database, which is unavailable; "
                             "`Retry-After` says when to retry.")


def _document(priced: service.Priced, stored: bool) -> msgspec.Raw:
    return msgspec.Raw(priced.body if stored else service.not_stored_document(priced.body))


class EstimateController(Controller):
    path = "/v1/estimates"
    tags = ["estimates"]

    @post(status_code=201, opt={"body_type": EstimateRequest, "small_body": True, "remember_body": True},
          summary="Price one episode",
          operation_class=EstimateOperation,
          responses={201: ResponseSpec(Estimate, description="The estimate, stored (its URL in Location)",
                                       generate_examples=False),
                     200: ResponseSpec(Estimate, generate_examples=False,
                                       description="The database is unavailable: the estimate, priced from the "
                                                   "tariffs in memory but not stored (`stored: false`, the "
                                                   "`not_stored` notice, no Location)"),
                     **problem_responses(*BODY_STATUSES, 401, 403, 404, 503, s503=_VERIFICATION_UNAVAILABLE)})
    async def create_estimate(
        self,
        request: Request,
        data: JSONBody[EstimateRequest],
    ) -> Response[bytes]:
        """`?include=claims` adds the claim-by-claim detail."""
        # State and query parameters are read from the request rather than injected:
        # Litestar's injection built a State and parsed the query on every call, a
        # third of this endpoint's cost.
        state = request.app.state
        include = _include(request)
        data = await _with_verification(request, data)
        priced = service.price(state.catalog.current, data, dt.date.today(), include_claims=include == "claims")
        if not await state.estimate_writer.store([priced]):
            metrics.degraded_answer("/v1/estimates")
            return Response(service.not_stored_document(priced.body), status_code=200, media_type=JSON)
        return Response(priced.body, status_code=201, media_type=JSON,
                        headers={"Location": f"/v1/estimates/{priced.estimate_id}"})

    @get("/{estimate_id:uuid}", summary="A stored estimate",
         responses={200: ResponseSpec(Estimate, description="The estimate as it was returned when created",
                                      generate_examples=False),
                    **problem_responses(404, 405, 406, 422, 503, s405="GET of /v1/estimates/batch or /compare: POST only.",
                                       s503="The database is unavailable; `Retry-After` says when to retry.")})
    async def get_estimate(self, request: Request, estimate_id: FromPath[uuid.UUID]) -> Response[bytes]:
        """`?format=fhir` or `Accept: application/fhir+json`: an insured estimate as an Advanced EOB."""
        if request.query_params.get("format") is not None or "accept" in request.headers:
            fhir = wants_fhir(request)
            if fhir is None:
                return not_acceptable(request, [JSON, FHIR])
            if fhir:
                return await advanced_eob_response(request, str(estimate_id))
        return Response(await service.fetch(request.app.state.pool, str(estimate_id)), media_type=JSON)

    @post("/batch", status_code=200, opt={"body_type": BatchRequest, "remember_body": True},
          summary="Price many programs at once",
          responses={200: ResponseSpec(BatchResults, generate_examples=False,
                                       description="One result per item, in item order (with the database "
                                                   "unavailable, each estimate `stored: false`)"),
                     **problem_responses(*BODY_STATUSES, 401, 403, 404, 503, s503=_VERIFICATION_UNAVAILABLE)})
    async def batch(self, request: Request, data: JSONBody[BatchRequest]) -> Response[bytes]:
        state = request.app.state
        data = await _with_verification(request, data)
        outcomes = service.price_batch(state.catalog.current, data, dt.date.today())
        stored = await state.estimate_writer.store([o for o in outcomes if isinstance(o, service.Priced)])
        if not stored:
            metrics.degraded_answer("/v1/estimates/batch")
        results: list[Any] = [
            {"error": problem_for(o, f"#/items/{index}")} if isinstance(o, Exception)  # a JSON Pointer into the body
            else _document(o, stored)
            for index, o in enumerate(outcomes)
        ]
        return Response(msgspec.json.encode({"results": results}), media_type=JSON)

    @post("/compare", status_code=200, opt={"body_type": CompareRequest, "small_body": True, "remember_body": True},
          summary="One estimate per level the program offers, cheapest first",
          responses={200: ResponseSpec(Comparison, generate_examples=False,
                                       description="The program's levels, cheapest first (with the database "
                                                   "unavailable, each estimate `stored: false`)"),
                     **problem_responses(*BODY_STATUSES, 401, 403, 404, 503, s503=_VERIFICATION_UNAVAILABLE)})
    async def compare(self, request: Request, data: JSONBody[CompareRequest]) -> Response[bytes]:
        state = request.app.state
        data = await _with_verification(request, data)
        priced = service.compare(state.catalog.current, data, dt.date.today())
        stored = await state.estimate_writer.store(priced)
        if not stored:
            metrics.degraded_answer("/v1/estimates/compare")
        body = msgspec.json.encode({"program_id": data.program_id,
                                    "estimates": [_document(p, stored) for p in priced]})
        return Response(body, media_type=JSON)
