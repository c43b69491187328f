"""Estimate endpoints: thin handlers over ``costsvc.services.estimates``.

Bodies are checked by ``costsvc.api.body`` before a handler runs (``opt["body_type"]``);
estimates are returned as the bytes the service encoded, and documented by the
``Estimate`` schema.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Operation, Parameter, Schema
from litestar.params import FromPath, JSONBody

from costsvc.api.problems import (
    BODY_STATUSES,
    NotFound,
    Problem,
    domain_problem,
    problem_responses,
    service_problem,
)
from costsvc.api.schemas import (
    BatchRequest,
    BatchResults,
    CompareRequest,
    Comparison,
    Estimate,
    EstimateRequest,
)
from costsvc.domain.episode import episode_for_level
from costsvc.domain.errors import DomainError
from costsvc.services import estimates as service
from costsvc.services.errors import InvalidInput, ServiceError

JSON = "application/json"
INCLUDE_VALUES = ("claims",)


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


class EstimateController(Controller):
    path = "/v1/estimates"
    tags = ["estimates"]

    @post(status_code=201, opt={"body_type": EstimateRequest}, summary="Price one episode",
          operation_class=EstimateOperation,
          responses={201: ResponseSpec(Estimate, description="The estimate, stored (its URL in Location)",
                                       generate_examples=False),
                     **problem_responses(*BODY_STATUSES, 404)})
    async def create_estimate(
        self,
        request: Request,
        # Plain annotation on purpose: a Body(...) marker here cost ~15 % of throughput in our
        # bench (docs/PERFORMANCE.md). Litestar 3 will require a marker: re-measure then.
        data: EstimateRequest,
    ) -> Response[bytes]:
        """`?include=claims` adds the claim-by-claim detail."""
        # State and query parameters are read from the request rather than injected:
        # Litestar's injection built a State and parsed the query on every call, a
        # third of this endpoint's cost.
        state = request.app.state
        include = _include(request)
        priced = service.price(
            state.catalog.current, program_id=data.program_id, level_of_care=data.level_of_care,
            coverage=data.coverage, episode=data.episode, household=data.household,
            payment_plan=data.payment_plan, today=dt.date.today(), include_claims=include == "claims",
        )
        await state.estimate_writer.store([priced])
        return Response(priced.body, status_code=201, media_type=JSON,
                        headers={"Location": f"/v1/estimates/{priced.estimate_id}"})

    @get("/{estimate_id:uuid}", summary="A stored estimate",
         responses={200: ResponseSpec(Estimate, description="The estimate as it was returned when created",
                                      generate_examples=False),
                    **problem_responses(404, 405, 422, s405="GET of /v1/estimates/batch or /compare: POST only.")})
    async def get_estimate(self, request: Request, estimate_id: FromPath[uuid.UUID]) -> Response[bytes]:
        body = await service.fetch(request.app.state.pool, estimate_id)
        if body is None:
            raise NotFound(f"no estimate '{estimate_id}'", field="estimate_id")
        return Response(body, media_type=JSON)

    @post("/batch", status_code=200, opt={"body_type": BatchRequest}, summary="Price many programs at once",
          responses={200: ResponseSpec(BatchResults, description="One result per item, in item order",
                                       generate_examples=False),
                     **problem_responses(*BODY_STATUSES)})
    async def batch(self, request: Request, data: JSONBody[BatchRequest]) -> Response[bytes]:
        state = request.app.state
        catalog = state.catalog.current
        today = dt.date.today()
        results: list[Any] = []
        stored: list[service.Priced] = []
        for index, item in enumerate(data.items):
            instance = f"#/items/{index}"  # a JSON Pointer into this request's body
            try:
                priced = service.price(
                    catalog, program_id=item.program_id, level_of_care=item.level_of_care,
                    coverage=data.coverage, episode=data.episode, household=data.household,
                    payment_plan=data.payment_plan, today=today,
                )
            except (ServiceError, DomainError) as exc:
                results.append({"error": _item_problem(exc, instance)})
            else:
                stored.append(priced)
                results.append(msgspec.Raw(priced.body))
        await state.estimate_writer.store(stored)
        return Response(msgspec.json.encode({"results": results}), media_type=JSON)

    @post("/compare", status_code=200, opt={"body_type": CompareRequest},
          summary="One estimate per level the program offers, cheapest first",
          responses={200: ResponseSpec(Comparison, description="The program's levels, cheapest first",
                                       generate_examples=False),
                     **problem_responses(*BODY_STATUSES, 404)})
    async def compare(self, request: Request, data: JSONBody[CompareRequest]) -> Response[bytes]:
        state = request.app.state
        catalog = state.catalog.current
        program = catalog.programs.get(data.program_id)
        if program is None:
            raise NotFound(f"unknown program '{data.program_id}'", field="program_id")
        today = dt.date.today()
        priced = [
            service.price(catalog, program_id=data.program_id, level_of_care=level, coverage=data.coverage,
                          episode=episode_for_level(data.episode, level) if data.episode else None, household=data.household,
                          payment_plan=data.payment_plan, today=today)
            for level in program.levels
        ]
        priced.sort(key=lambda p: (p.priced.totals.patient_pays, p.level_of_care))
        await state.estimate_writer.store(priced)
        body = msgspec.json.encode({"program_id": data.program_id,
                                    "estimates": [msgspec.Raw(p.body) for p in priced]})
        return Response(body, media_type=JSON)


def _item_problem(exc: ServiceError | DomainError, instance: str) -> Problem:
    if isinstance(exc, DomainError):
        return domain_problem(exc, instance)
    return service_problem(exc, instance)
