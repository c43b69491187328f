"""Celery tasks: run one recorded import; refresh the configured tariff sources;
re-enqueue stuck imports.

Each task runs the async pipeline with ``asyncio.run`` on a fresh asyncpg
connection (a Celery pool process has no event loop or pool of its own).

Failures are sorted three ways:

* **the file is bad** — the pipeline records the import ``rejected`` with its row
  errors and returns normally: never retried;
* **the database is unavailable** (connection refused or lost, server starting or
  shutting down, too many connections, deadlock/serialization failure) — raised as
  :class:`DatabaseUnavailable` and retried with exponential backoff and jitter, at
  most ``COSTSVC_JOB_MAX_RETRIES`` times; nothing partial exists meanwhile because
  an import stages and activates in one transaction;
* **another process is running this import** (``ImportBusy``, e.g. a message
  delivered twice) — retried the same way; when the retries run out the task ends
  quietly, since the other run owns the import.

Anything else (a bug) fails the task and the import is recorded ``failed``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from celery import Celery, Task
from celery.utils.time import get_exponential_backoff_interval

from costsvc.db.pool import connect, resolve_database_url
from costsvc.db.queries import Q
from costsvc.services.imports import EnqueueFailed, discard_upload, requeue_stale_imports
from costsvc.settings import Settings, get_settings
from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import ImportBusy, ImportNotFound, run_import
from jobs.celery_app import REFRESH_TASK, REQUEUE_STALE_TASK, RUN_IMPORT_TASK, app
from jobs.refresh import refresh_sources

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECT_TIMEOUT = 30.0
#: Failures that mean "the database is not reachable right now".  While connecting,
#: any OSError counts too (DNS, refused, unreachable); during a run an OSError may
#: come from reading the file instead, so only these (or a closed connection) do.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08, incl. ConnectionDoesNotExistError
    asyncpg.exceptions.CannotConnectNowError,  # the server is starting up / in recovery
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization failure
)

#: The database the tasks use in this context.  Unset: ``DATABASE_URL`` (or the
#: embedded server).  ``CeleryImportQueue`` sets it for eager runs so that a task run
#: inside the API process uses the API's database.
database_url_override: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "costsvc_job_database_url", default=None
)
#: Likewise the settings of the API process that runs a task eagerly (its data folder).
settings_override: contextvars.ContextVar[Settings | None] = contextvars.ContextVar(
    "costsvc_job_settings", default=None
)


def job_settings() -> Settings:
    return settings_override.get() or get_settings()


class DatabaseUnavailable(Exception):
    """The database could not be reached or the connection was lost: retry later."""


def database_url() -> str:
    return database_url_override.get() or resolve_database_url(get_settings())


async def _connect() -> asyncpg.Connection:
    try:
        return await asyncio.wait_for(connect(database_url()), CONNECT_TIMEOUT)
    except (OSError, *TRANSIENT_ERRORS) as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {type(exc).__name__}: {exc}") from exc


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 10)
    except Exception:  # noqa: BLE001 - a broken connection is simply dropped
        conn.terminate()


def _classify(exc: BaseException, conn: asyncpg.Connection) -> BaseException:
    """A lost connection surfaces in many shapes (even as InterfaceError from a
    ``finally`` on the dead connection): judge by the connection, not the type."""
    if isinstance(exc, TRANSIENT_ERRORS) or conn.is_closed():
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, TRANSIENT_ERRORS):
            cause = cause.__context__
        shown = cause or exc
        return DatabaseUnavailable(f"lost the database during the import: {type(shown).__name__}: {shown}")
    return exc


async def _on_fresh_connection(fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run ``fn`` on a new connection; a lost database becomes :class:`DatabaseUnavailable`."""
    conn = await _connect()
    try:
        try:
            return await fn(conn)
        except (ImportBusy, ImportNotFound):
            raise
        except Exception as exc:
            classified = _classify(exc, conn)
            if classified is exc:
                raise
            raise classified from exc
    finally:
        await _close(conn)


async def _run_import(conn: asyncpg.Connection, import_id: uuid.UUID, path: str) -> dict[str, Any]:
    if not Path(path).is_file():
        # The file the import was recorded with is gone (uploads folder not shared
        # with this worker, or deleted): retrying cannot help.
        await _mark_failed(conn, import_id, f"the file to import was not found by the worker: {path}")
        return {"import_id": str(import_id), "status": "failed", "message": "file not found"}
    outcome = await run_import(conn, import_id, path, loaders=LOADERS)
    if outcome.status == "rejected":
        discard_upload(job_settings(), path)  # a rejected file is never run again
    log.info(
        "import %s %s: read %s, accepted %s, rejected %s, version %s",
        import_id,
        outcome.status,
        outcome.rows_read,
        outcome.rows_accepted,
        outcome.rows_rejected,
        outcome.version_id,
    )
    return {
        "import_id": str(import_id),
        "status": outcome.status,
        "version_id": outcome.version_id,
        "rows_read": outcome.rows_read,
        "rows_accepted": outcome.rows_accepted,
        "rows_rejected": outcome.rows_rejected,
        "deduplicated": outcome.deduplicated,
    }


async def _mark_failed(conn: asyncpg.Connection, import_id: uuid.UUID, message: str) -> bool:
    """Record ``failed`` unless another process holds the import (it then owns it)."""
    if not await conn.fetchval(Q.try_lock_import, import_id):
        return False
    try:
        return await conn.fetchval(Q.jobs_mark_import_failed, import_id, message[:2000]) is not None
    finally:
        await conn.fetchval(Q.unlock_import, import_id)


async def _mark_failed_standalone(import_id: uuid.UUID, message: str) -> None:
    conn = await asyncio.wait_for(connect(database_url()), 10)
    try:
        await _mark_failed(conn, import_id, message)
    finally:
        await _close(conn)


def _backoff(task: Task) -> int:
    """Exponential, full jitter, capped: the policy of the app (``create_celery_app``)."""
    return get_exponential_backoff_interval(
        factor=max(1, round(task.app.conf.costsvc_retry_backoff)),
        retries=task.request.retries,
        maximum=task.app.conf.costsvc_retry_backoff_max,
        full_jitter=True,
    )


class RetriedTask(Task):
    """Retried with backoff while the database is away, at most ``max_retries`` times
    (the app's ``task_annotations`` set it from the settings); then it fails."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except DatabaseUnavailable as exc:
            raise self.retry(exc=exc, countdown=_backoff(self)) from None


class ImportTask(RetriedTask):
    """Records the import ``failed`` when the task fails for good."""

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        import_id = args[0] if args else (kwargs or {}).get("import_id")
        if not import_id:
            return
        message = f"the import job failed after {self.request.retries} retries: {type(exc).__name__}: {exc}"
        try:
            asyncio.run(_mark_failed_standalone(uuid.UUID(str(import_id)), message))
        except Exception:  # the database may be the reason we failed
            log.warning("could not record import %s as failed", import_id, exc_info=True)
            return  # not recorded failed: the sweep may still run it from its file
        path = args[1] if len(args) > 1 else (kwargs or {}).get("path")
        if path:
            discard_upload(job_settings(), path)


@app.task(
    bind=True,
    base=ImportTask,
    name=RUN_IMPORT_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
)
def run_import_task(self: Task, import_id: str, path: str) -> dict[str, Any]:
    """Validate, stage and activate the recorded import ``import_id`` from ``path``."""
    try:
        return asyncio.run(
            _on_fresh_connection(lambda conn: _run_import(conn, uuid.UUID(str(import_id)), path))
        )
    except ImportNotFound:
        # Not in this database: nothing to do, and retrying cannot change that.
        log.error("import %s does not exist in this database; dropping the task", import_id)
        return {"import_id": str(import_id), "status": "not_found"}
    except ImportBusy as exc:
        if self.request.retries >= self.max_retries:
            log.warning("import %s is still being run by another process; leaving it to it", import_id)
            return {"import_id": str(import_id), "status": "busy"}
        raise self.retry(exc=exc, countdown=_backoff(self)) from None


# The scheduled sweeps: at-least-once, retried (with backoff) only while the database is away.
_SCHEDULED_TASK_OPTIONS: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True, "base": RetriedTask}


@app.task(bind=True, name=REFRESH_TASK, **_SCHEDULED_TASK_OPTIONS)
def refresh_sources_task(self: Task, sources_file: str | None = None) -> dict[str, Any]:
    """Import the new or changed files of the configured tariff sources (one run at a time)."""
    sources = sources_file or get_settings().tariff_sources
    if not sources:
        log.info("no tariff sources configured (COSTSVC_TARIFF_SOURCES); nothing to refresh")
        return {"status": "no_sources"}

    report = asyncio.run(_on_fresh_connection(lambda conn: refresh_sources(conn, sources)))
    log.info("tariff refresh: %s", report.summary())
    return report.to_dict()


@app.task(bind=True, name=REQUEUE_STALE_TASK, **_SCHEDULED_TASK_OPTIONS)
def requeue_stale_imports_task(self: Task) -> dict[str, Any]:
    """Re-enqueue the imports recorded queued/running that nobody is running (one sweep at a
    time; ``costsvc.services.imports.requeue_stale_imports``).  Eager: runs them in this process."""
    queue = CeleryImportQueue(app, database_url=database_url())
    report = asyncio.run(
        _on_fresh_connection(lambda conn: requeue_stale_imports(conn, queue=queue, settings=get_settings()))
    )
    log.info("stale-import sweep: %s", report.summary())
    return report.to_dict()


# ----------------------------------------------------------------------------- the queue


class CeleryImportQueue:
    """The ``ImportQueue`` of the import service, on a Celery app.

    With a broker the task message is published before the caller answers; if the
    broker cannot take it, ``EnqueueFailed``.  In eager mode (no broker) the task
    runs in this process, in a worker thread so that the caller's event loop is never
    nested or blocked, on ``database_url`` (the API's database)."""

    def __init__(self, celery: Celery | None = None, *, database_url: str | None = None,
                 settings: Settings | None = None):
        self.celery = celery or app
        self.database_url = database_url
        self.settings = settings

    @property
    def eager(self) -> bool:
        return is_eager(self.celery)

    async def enqueue(self, import_id: uuid.UUID, path: str) -> None:
        if self.eager:
            await self._run_eager(import_id, path)
            return
        await asyncio.to_thread(self._send, str(import_id), str(path))

    def runner(self, import_id: uuid.UUID, path: str) -> Callable[[], Awaitable[Any]]:
        async def run() -> None:
            await self._run_eager(import_id, path)

        return run

    async def _run_eager(self, import_id: uuid.UUID, path: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self._apply, str(import_id), str(path))

    def _apply(self, import_id: str, path: str) -> dict[str, Any] | None:
        database_url_override.set(self.database_url)
        settings_override.set(self.settings)
        result = run_import_task.apply(args=[import_id, path])
        if result.failed():
            log.error("eager import %s failed: %s", import_id, result.result)
            return None
        return result.result

    async def probe(self) -> None:
        """Raises unless the broker accepts a connection now (the outage reporter's check)."""
        def check() -> None:
            with self.celery.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)

        await asyncio.to_thread(check)

    def _send(self, import_id: str, path: str) -> None:
        try:
            self.celery.send_task(
                RUN_IMPORT_TASK,
                args=[import_id, path],
                retry=True,
                retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0},
            )
        except Exception as exc:  # kombu raises OperationalError and friends
            raise EnqueueFailed(f"the job broker did not accept the import: {type(exc).__name__}: {exc}") from exc


    def depth(self) -> list[tuple[list[str], float]]:
        """Messages waiting in the task queue (``costsvc_job_queue_depth``): a passive
        declare, which Redis and RabbitMQ both answer with the count.  Blocking: call
        it off the event loop, with a timeout."""
        queue = self.celery.conf.task_default_queue
        with self.celery.connection_for_read(connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
            try:
                declared = conn.default_channel.queue_declare(queue=queue, passive=True)
            except conn.channel_errors:  # RabbitMQ: the queue does not exist yet
                return [([queue], 0.0)]
            return [([queue], float(declared.message_count))]


def is_eager(celery: Celery | None = None) -> bool:
    return bool((celery or app).conf.task_always_eager)
