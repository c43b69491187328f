"""Liveness and readiness probes."""

from __future__ import annotations

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec

from costsvc.api.problems import problem, problem_response, problem_responses


class Health(msgspec.Struct):
    status: str


class Ready(msgspec.Struct):
    """The database answers and the tariff catalog is loaded."""

    status: str
    programs: int
    plans: int


@get("/health", tags=["operations"], summary="The process is alive", cache=False,
     responses=problem_responses(422))
async def health() -> Health:
    return Health("ok")


@get("/ready", tags=["operations"], summary="The database is reachable and tariffs are loaded",
     responses={200: ResponseSpec(Ready, description="Ready", generate_examples=False),
                **problem_responses(422, 503, s503="The database does not answer.")})
async def ready(state: State) -> Response[bytes]:
    try:
        async with state.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1", timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return problem_response(problem(503, f"database unreachable: {type(exc).__name__}", instance="/ready"),
                                {"Retry-After": "5"})
    catalog = state.catalog.current
    return Response(msgspec.json.encode(Ready("ready", len(catalog.programs), len(catalog.plans))),
                    media_type="application/json")
