"""The application factory: the composition root of the HTTP service.

It wires the concrete pieces together — the asyncpg pool and the tariff catalog
(owned by the lifespan), the import kinds and the Celery queue the import service
uses — so that nothing below it imports them itself."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig

from costsvc.api.body import check_request
from costsvc.api.documents import DocumentController, warm_documents
from costsvc.api.estimates import EstimateController
from costsvc.api.fast_estimate import EstimateFastPath
from costsvc.api.health import health, ready
from costsvc.api.imports import ImportController
from costsvc.api.openapi import complete_document, docs_static_router, openapi_config
from costsvc.api.problems import EXCEPTION_HANDLERS
from costsvc.api.reference import ReferenceController
from costsvc.api.verifications import AuditController, VerificationController
from costsvc.auth import KeyCache, RevocationListener
from costsvc.catalog import CatalogHolder
from costsvc.db.migrate import migrate
from costsvc.db.pool import create_pool, resolve_database_url
from costsvc.phi import vault_from_settings
from costsvc.services.estimates import EstimateWriter
from costsvc.services.imports import ImportService
from costsvc.settings import Settings, get_settings
from costsvc.staging.loaders import LOADERS
from jobs.tasks import CeleryImportQueue

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> Litestar:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        pool = await create_pool(url, min_size=settings.pool_min, max_size=settings.pool_max)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)  # a no-op when `costsvc serve` already migrated
            catalog = CatalogHolder(pool, url)
            await catalog.start()
            revocations = RevocationListener(url, KeyCache())
            await revocations.start()
            app.state.api_key_cache = revocations.cache
            app.state.key_revocations = revocations
            embedded = database_url is None and settings.database_url is None
            app.state.phi_vault = vault_from_settings(settings, embedded=embedded)  # None: PHI refused
            app.state.pool = pool
            app.state.estimate_writer = writer = EstimateWriter(url)
            app.state.catalog = catalog
            app.state.database_url = url
            app.state.settings = settings
            app.state.imports = ImportService(pool, settings, LOADERS, CeleryImportQueue(database_url=url, settings=settings))
            try:
                yield
            finally:
                await catalog.stop()
                await revocations.stop()
                await writer.close()
        finally:
            await pool.close()

    app = Litestar(
        route_handlers=[health, ready, EstimateController, ReferenceController, ImportController,
                        VerificationController, AuditController, DocumentController, *docs_static_router()],
        lifespan=[lifespan],
        on_startup=[warm_documents],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_request=check_request,
        request_max_body_size=settings.max_body_bytes,
        cors_config=CORSConfig(allow_origins=["*"], allow_methods=["GET", "POST"]),
        openapi_config=openapi_config(),
        debug=False,
    )
    complete_document(app)
    # In front of Litestar's middleware: a valid POST /v1/estimates skips the framework's
    # request cycle; everything else goes through it unchanged (api/fast_estimate.py).
    app.asgi_handler = EstimateFastPath(app.asgi_handler, app, settings.max_body_bytes)
    return app
