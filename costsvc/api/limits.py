"""Limits at the edge: the per-client rate limit of the public routes, and CORS.

The rate limit is Litestar's ``RateLimitMiddleware`` (a fixed window per client and
minute, in the app's memory store: **per API process**), keyed by
``clients.client_address`` so that ``X-Forwarded-For`` counts only from trusted
proxies.  Routes behind an API key (staff, admin) and the probes (``/health``,
``/ready``, ``/metrics``) are not limited: a key is already a budget someone answers
for, and a load balancer's probes must never be refused.  A refused request is a
``429`` problem with ``Retry-After`` (``problems.handle_http``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request
from litestar.config.cors import CORSConfig
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.memory import MemoryStore

from costsvc.api.clients import Network, client_address
from costsvc.settings import Settings

UNLIMITED_PATHS = frozenset({"/health", "/ready", "/metrics"})
RATE_LIMIT_STORE = "rate_limit"
_SWEEP_SECONDS = 60.0  # the memory store keeps expired windows until asked to drop them


def is_limited(request: Request[Any, Any, Any]) -> bool:
    """A public route (no guard on any layer; Litestar caches them) other than the probes."""
    handler = request.route_handler
    return not handler.resolve_guards() and request.scope["path"] not in UNLIMITED_PATHS


def rate_limit_config(settings: Settings, trusted: tuple[Network, ...]) -> RateLimitConfig | None:
    """The public routes' limit, or None when ``COSTSVC_RATE_LIMIT_PER_MINUTE`` is 0."""
    if settings.rate_limit_per_minute <= 0:
        return None
    return RateLimitConfig(
        rate_limit=("minute", settings.rate_limit_per_minute),
        identifier_for_request=lambda request: client_address(request.scope, trusted),
        check_throttle_handler=is_limited,
        store=RATE_LIMIT_STORE,
    )


@contextlib.asynccontextmanager
async def sweep_rate_limit_windows(app: Litestar) -> AsyncIterator[None]:
    """Drop the windows of clients gone quiet, so that many clients do not grow the process."""
    store = app.stores.get(RATE_LIMIT_STORE)

    async def sweep() -> None:
        while True:
            await asyncio.sleep(_SWEEP_SECONDS)
            if isinstance(store, MemoryStore):
                await store.delete_expired()

    task = asyncio.create_task(sweep())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS for the configured origins only (the locator's); unset: no cross-origin browser calls."""
    origins = [o.strip().rstrip("/") for o in (settings.cors_origins or "").split(",") if o.strip()]
    if not origins:
        return None
    return CORSConfig(allow_origins=origins, allow_methods=["GET", "POST"],
                      allow_headers=["Authorization", "Content-Type", "Accept", "X-Request-ID"],
                      expose_headers=["Location", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
                                      "RateLimit-Reset", "RateLimit-Policy", "X-Request-ID"],
                      max_age=600)


def document_rate_limit(app: Litestar) -> None:
    """Add the 429 answer to every limited operation of the served OpenAPI document."""
    document = app.plugins.get("OpenAPIPlugin").provide_openapi_schema()
    too_many = {
        "description": "Too many requests from this client (COSTSVC_RATE_LIMIT_PER_MINUTE)",
        "headers": {"Retry-After": {"description": "Seconds until the client's window resets",
                                    "schema": {"type": "integer"}}},
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for route in app.routes:
        if route.path in UNLIMITED_PATHS:
            continue
        for handler in getattr(route, "route_handlers", ()):
            if handler.resolve_guards() or not handler.resolve_include_in_schema():
                continue
            item = document.get("paths", {}).get(route.path_format or route.path, {})
            for method in handler.http_methods:
                operation = item.get(method.lower())
                if isinstance(operation, dict):
                    operation.setdefault("responses", {})["429"] = too_many
