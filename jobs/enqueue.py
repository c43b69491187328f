"""Handing a recorded import to the job system, after its record is committed.

The caller (the import API) first records the import with
``tariffs.pipeline.create_import`` — its own committed transaction — and only then
enqueues it, so a worker never receives an import id it cannot find.

* With a broker, :func:`enqueue_import` publishes the task message before the
  API answers; if the broker cannot take it, :class:`EnqueueFailed` is raised
  and the caller records the import ``failed`` (it would never run otherwise).
* In eager mode (no broker), the task runs in this process, in a worker thread so
  that the caller's event loop is never nested or blocked; the API schedules it to
  run after the response is sent (:func:`eager_runner`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from celery import Celery

from jobs.celery_app import RUN_IMPORT_TASK
from jobs.celery_app import app as default_app

log = logging.getLogger(__name__)


class EnqueueFailed(Exception):
    """The broker did not accept the task message."""


def is_eager(app: Celery | None = None) -> bool:
    return bool((app or default_app).conf.task_always_eager)


def _run_eager(import_id: str, path: str, database_url: str | None) -> dict[str, Any] | None:
    from jobs.tasks import database_url_override, run_import_task

    database_url_override.set(database_url)
    result = run_import_task.apply(args=[import_id, path])
    if result.failed():
        log.error("eager import %s failed: %s", import_id, result.result)
        return None
    return result.result


async def run_eager(
    import_id: uuid.UUID, path: str, *, database_url: str | None = None
) -> dict[str, Any] | None:
    """Run the import task in this process (eager mode), off the event loop."""
    return await asyncio.to_thread(_run_eager, str(import_id), str(path), database_url)


def eager_runner(
    import_id: uuid.UUID, path: str, *, database_url: str | None = None
) -> Callable[[], Awaitable[Any]]:
    """A coroutine function running the import eagerly (for a response's background task)."""

    async def run() -> None:
        await run_eager(import_id, path, database_url=database_url)

    return run


def _send(app: Celery, import_id: str, path: str) -> None:
    try:
        app.send_task(
            RUN_IMPORT_TASK,
            args=[import_id, path],
            retry=True,
            retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0},
        )
    except Exception as exc:  # kombu raises OperationalError and friends
        raise EnqueueFailed(f"the job broker did not accept the import: {type(exc).__name__}: {exc}") from exc


async def enqueue_import(
    import_id: uuid.UUID, path: str, *, app: Celery | None = None, database_url: str | None = None
) -> None:
    """Enqueue ``run_import_task(import_id, path)`` for a committed import record.

    Eager mode runs it now (in a thread) and returns when it is done."""
    app = app or default_app
    if is_eager(app):
        await run_eager(import_id, path, database_url=database_url)
        return
    await asyncio.to_thread(_send, app, str(import_id), str(path))
