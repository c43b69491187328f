"""Liveness and readiness probes."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

from costsvc.api.problems import problem, problem_response


@get("/health", tags=["operations"], summary="The process is alive", cache=False)
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", tags=["operations"], summary="The database is reachable and tariffs are loaded")
async def ready(state: State) -> Response[bytes] | dict[str, object]:
    try:
        async with state.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1", timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return problem_response(problem(503, f"database unreachable: {type(exc).__name__}"))
    catalog = state.catalog.current
    return {"status": "ready", "programs": len(catalog.programs), "plans": len(catalog.plans)}
