"""Request ids, access lines and HTTP metrics for every request; ``GET /metrics``.

``RequestTelemetry`` wraps the whole Litestar application (outside its router, so a
404 or 405 is seen too).  For each request it

- takes the id from ``X-Request-ID`` when the peer is a trusted proxy
  (``COSTSVC_TRUSTED_PROXIES``) and the id is a plain token, else makes a new one
  (128 random bits in hex), returns it in ``X-Request-ID`` and binds it to every log line of the
  request (``costsvc.observe.logs.bind``); problem details carry it as ``request_id``;
- after the response, counts it and observes its latency by method and **route
  template** (``/v1/estimates/{estimate_id}``: never the raw path, which can carry
  an id) and writes one access line: method, route template, status, duration.  The
  client's address, the query string, headers and bodies are never logged.

``GET /metrics`` (Prometheus text) needs ``Authorization: Bearer <COSTSVC_METRICS_TOKEN>``;
without a token configured it is not served at all (404).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotAuthorizedException, NotFoundException

from costsvc.api.clients import Network, is_trusted_peer
from costsvc.observe import logs, metrics
from costsvc.randomness import RandomDraws

access = logging.getLogger("costsvc.access")
log = logging.getLogger(__name__)

#: The route label of a request no route matched (404, 405): a bounded label for any path.
UNMATCHED = "(unmatched)"
#: Probes and scrapes: their access lines are DEBUG while they succeed.
_PROBES = frozenset({"/health", "/ready", "/metrics"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: An id a proxy may hand us: a token of 1–128 safe characters (it lands in every log line).
_GOOD_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}").fullmatch
#: A new request id: 128 random bits in hex, as a UUID4's, without building the UUID.
_REQUEST_ID_RANDOMNESS = RandomDraws(16)


class RequestTelemetry:
    """The ASGI wrapper described in the module docstring."""

    def __init__(self, app: Any, trusted: tuple[Network, ...]):
        self.app = app
        self.trusted = trusted
        self._peers: dict[str, bool] = {}  # peer address -> trusted

    def request_id(self, scope: dict[str, Any]) -> str:
        if self.trusted:
            for name, value in scope["headers"]:
                if name == b"x-request-id":
                    client = scope.get("client")
                    if _GOOD_ID(value) and client and self._trusted(client[0]):
                        return value.decode()
                    break
        return _REQUEST_ID_RANDOMNESS.draw().hex()

    def _trusted(self, host: str) -> bool:
        known = self._peers.get(host)
        if known is None:
            if len(self._peers) > 1024:  # peers are few (the proxies); don't grow on a scan
                self._peers.clear()
            known = self._peers[host] = is_trusted_peer(host, self.trusted)
        return known

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = self.request_id(scope)
        header = (b"x-request-id", request_id.encode())
        token = logs.bind(request_id=request_id)
        status = 500  # unless a response starts

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("path_template", UNMATCHED) if "route_handler" in scope else UNMATCHED
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            metrics.http_request(method, route, status, seconds)
            level = logging.DEBUG if route in _PROBES and status < 400 else logging.INFO
            if access.isEnabledFor(level):
                ms = round(seconds * 1000, 2)
                access.log(level, "%s %s %s %.2f ms", method, route, status, ms,
                           extra={"method": method, "route": route, "status": status, "duration_ms": ms})
            logs.unbind(token)


# ----------------------------------------------------------------------------- GET /metrics

QueueDepth = Callable[[], Iterable[tuple[list[str], float]]]
SCRAPE_TIMEOUT = 2.0  # seconds for the broker's queue depth; a scrape never waits longer


def _authorize(request: Request[Any, Any, Any]) -> None:
    expected = request.app.state.settings.metrics_token
    if not expected:
        raise NotFoundException()  # not configured: as if the route did not exist
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(), expected.encode()):
        raise NotAuthorizedException(detail="GET /metrics needs Authorization: Bearer <COSTSVC_METRICS_TOKEN>.",
                                     headers={"WWW-Authenticate": 'Bearer realm="metrics"'})


async def _queue_depth(read: QueueDepth | None) -> list[tuple[list[str], float]]:
    if read is None:
        return []
    try:
        return list(await asyncio.wait_for(asyncio.to_thread(lambda: list(read())), SCRAPE_TIMEOUT))
    except Exception as exc:  # noqa: BLE001 - the broker is away: the scrape still answers
        log.warning("queue depth unavailable: %s", type(exc).__name__)
        return []


@get("/metrics", include_in_schema=False, cache=False)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    _authorize(request)
    state = request.app.state
    sample_pool(state.pool)
    depth = await _queue_depth(getattr(state, "queue_depth", None))
    queue = metrics.GaugeCollector("costsvc_job_queue_depth", "Import and refresh tasks waiting in the broker's queue.",
                                   ["queue"], lambda: depth)
    return Response(metrics.exposition(queue), media_type=metrics.CONTENT_TYPE)


def sample_pool(pool: Any) -> None:
    metrics.pool_use(pool.get_size(), pool.get_idle_size(), pool.get_max_size())


async def sample_pool_every(pool: Any, interval: float = 5.0) -> None:
    """Each process samples its own pool (a scrape reaches one process only)."""
    while True:
        sample_pool(pool)
        await asyncio.sleep(interval)
