"""Estimate endpoints: thin handlers over ``costsvc.services.estimates``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from costsvc.api.problems import NotFound, domain_problem, invalid_problem, not_found_problem
from costsvc.api.schemas import BatchRequest, CompareRequest, EstimateRequest
from costsvc.api.validation import RequestInvalid
from costsvc.domain.episode import episode_for_level
from costsvc.domain.errors import DomainError
from costsvc.services import estimates as service

JSON = "application/json"


class EstimateController(Controller):
    path = "/v1/estimates"
    tags = ["estimates"]

    @post(status_code=201, opt={"body_type": EstimateRequest}, summary="Price one episode")
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
        include = request.query_params.get("include")
        priced = service.price(
            state.catalog.current, program_id=data.program_id, level_of_care=data.level_of_care,
            coverage=data.coverage, episode=data.episode, household=data.household,
            payment_plan=data.payment_plan, today=dt.date.today(), include_claims=include == "claims",
        )
        await state.estimate_writer.store([priced])
        return Response(priced.body, status_code=201, media_type=JSON,
                        headers={"Location": f"/v1/estimates/{priced.estimate_id}"})

    @get("/{estimate_id:str}", summary="A stored estimate")
    async def get_estimate(self, request: Request, estimate_id: FromPath[str]) -> Response[bytes]:
        state = request.app.state
        try:
            key = uuid.UUID(estimate_id)
        except ValueError:
            raise NotFound(f"no estimate '{estimate_id}'", field="estimate_id") from None
        body = await service.fetch(state.pool, key)
        if body is None:
            raise NotFound(f"no estimate '{estimate_id}'", field="estimate_id")
        return Response(body, media_type=JSON)

    @post("/batch", status_code=200, opt={"body_type": BatchRequest}, summary="Price many programs at once")
    async def batch(self, request: Request, data: JSONBody[BatchRequest]) -> Response[bytes]:
        state = request.app.state
        catalog = state.catalog.current
        today = dt.date.today()
        results: list[Any] = []
        stored: list[service.Priced] = []
        for index, item in enumerate(data.items):
            instance = f"/v1/estimates/batch#items[{index}]"
            try:
                priced = service.price(
                    catalog, program_id=item.program_id, level_of_care=item.level_of_care,
                    coverage=data.coverage, episode=data.episode, household=data.household,
                    payment_plan=data.payment_plan, today=today,
                )
            except NotFound as exc:
                results.append({"error": not_found_problem(exc, instance)})
            except RequestInvalid as exc:
                results.append({"error": invalid_problem(exc.errors, instance)})
            except DomainError as exc:
                results.append({"error": domain_problem(exc, instance)})
            else:
                stored.append(priced)
                results.append(msgspec.Raw(priced.body))
        await state.estimate_writer.store(stored)
        return Response(msgspec.json.encode({"results": results}), media_type=JSON)

    @post("/compare", status_code=200, opt={"body_type": CompareRequest},
          summary="One estimate per level the program offers, cheapest first")
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
        priced.sort(key=lambda p: (p.patient_pays, p.level_of_care))
        await state.estimate_writer.store(priced)
        body = msgspec.json.encode({"program_id": data.program_id,
                                    "estimates": [msgspec.Raw(p.body) for p in priced]})
        return Response(body, media_type=JSON)
