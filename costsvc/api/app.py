"""The application factory: the composition root of the HTTP service.

It wires the concrete pieces together — the asyncpg pool and the tariff catalog
(owned by the lifespan), the import kinds and the Celery queue the import service
uses — so that nothing below it imports them itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from costsvc.api.body import check_request
from costsvc.api.clients import parse_trusted
from costsvc.api.documents import DocumentController, warm_documents
from costsvc.api.estimates import EstimateController
from costsvc.api.health import health, ready
from costsvc.api.imports import ImportController
from costsvc.api.limits import cors_config, document_rate_limit, rate_limit_config, sweep_rate_limit_windows
from costsvc.api.openapi import complete_document, docs_static_router, openapi_config
from costsvc.api.pages import PAGE_HANDLERS, on_unrouted, template_config
from costsvc.api.policies import PolicyController
from costsvc.api.problems import EXCEPTION_HANDLERS, handle_http
from costsvc.api.reference import ReferenceController
from costsvc.api.telemetry import RequestTelemetry, metrics_endpoint, sample_pool_every
from costsvc.api.verifications import AuditController, VerificationController
from costsvc.auth import KeyCache, RevocationListener
from costsvc.catalog import CatalogHolder
from costsvc.db.migrate import migrate
from costsvc.db.pool import Timeouts, create_pool, resolve_database_url
from costsvc.observe import logs, metrics
from costsvc.outages import Outages
from costsvc.phi import vault_from_settings
from costsvc.services.estimates import EstimateWriter
from costsvc.services.imports import ImportService
from costsvc.settings import Settings, get_settings
from costsvc.staging.loaders import LOADERS
from jobs.tasks import CeleryImportQueue

log = logging.getLogger(__name__)


def _http_error(request: Request, exc: HTTPException) -> Response:
    """An HTTP error the routes did not handle: a page under the staff console, else problem details."""
    return on_unrouted(request, exc) or handle_http(request, exc)


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> Litestar:
    settings = settings or get_settings()
    trusted = parse_trusted(settings.trusted_proxies)
    rate_limit = rate_limit_config(settings, trusted)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        timeouts = Timeouts.of(settings)
        pool = await create_pool(url, min_size=settings.pool_min, max_size=settings.pool_max, timeouts=timeouts)
        app.state.outages = outages = Outages(settings.outage_log_interval)
        database = outages.watch("database", lambda: pool.fetchval("SELECT 1"), probe_timeout=timeouts.statement)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)  # a no-op when `costsvc serve` already migrated
            catalog = CatalogHolder(pool, url, connect_timeout=timeouts.connect, outage=database,
                                    memo_bytes=settings.pricing_memo_bytes)
            await catalog.start()
            revocations = RevocationListener(url, KeyCache(), connect_timeout=timeouts.connect, outage=database)
            await revocations.start()
            app.state.api_key_cache = revocations.cache
            app.state.key_revocations = revocations
            embedded = database_url is None and settings.database_url is None
            app.state.phi_vault = vault_from_settings(settings, embedded=embedded)  # None: PHI refused
            app.state.pool = pool
            app.state.estimate_writer = writer = EstimateWriter(
                url, timeout=settings.estimate_store_timeout, connect_timeout=timeouts.connect, outage=database)
            app.state.catalog = catalog
            app.state.database_url = url
            app.state.settings = settings
            queue = CeleryImportQueue(database_url=url, settings=settings)
            broker = outages.watch("broker", queue.probe) if not queue.eager else None
            app.state.imports = ImportService(pool, settings, LOADERS, queue, broker_outage=broker)
            app.state.queue_depth = None if queue.eager else queue.depth
            sampler = asyncio.create_task(sample_pool_every(pool), name="pool-metrics")
            try:
                yield
            finally:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
                metrics.process_exited()
                await catalog.stop()
                await revocations.stop()
                await writer.close()
        finally:
            outages.close()
            await pool.close()

    app = Litestar(
        route_handlers=[health, ready, metrics_endpoint, EstimateController, ReferenceController, PolicyController,
                        ImportController, VerificationController, AuditController, DocumentController, *docs_static_router(),
                        *PAGE_HANDLERS],
        lifespan=[lifespan, sweep_rate_limit_windows] if rate_limit else [lifespan],
        state=State({"trusted_proxies": trusted}),
        middleware=[rate_limit.middleware] if rate_limit else [],
        on_startup=[warm_documents],
        exception_handlers={**EXCEPTION_HANDLERS, HTTPException: _http_error},  # type: ignore[arg-type]
        before_request=check_request,
        request_max_body_size=settings.max_body_bytes,
        cors_config=cors_config(settings),
        openapi_config=openapi_config(),
        logging_config=None,  # the process's logging is costsvc.observe.logs (serve_app, the CLI)
        template_config=template_config(),
        debug=False,
    )
    complete_document(app, import_kinds=sorted(LOADERS))
    if rate_limit:
        document_rate_limit(app)
    # Outside the router, as Litestar's own OpenTelemetry plugin wraps it: every request,
    # routed or not, gets its id, its access line and its metrics.
    app.asgi_handler = RequestTelemetry(app.asgi_handler, trusted)
    return app


def serve_app() -> Litestar:
    """The factory the servers run in each worker process (``costsvc serve``): the
    process's logging configured from the settings, then the app."""
    settings = get_settings()
    logs.configure(settings)
    return create_app(settings)
