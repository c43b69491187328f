"""Handing a recorded import to the job system, after its record is committed.

The caller (the import API) first records the import with
``costsvc.staging.pipeline.create_import`` — its own committed transaction — and only then
enqueues it, so a worker never receives an import id it cannot find.

* With a broker, :func:`enqueue_import` publishes the task message before the
  API answers; if the broker cannot take it, :class:`EnqueueFailed` is raised
  and the caller records the import ``failed`` (it would never run otherwise).
* In eager mode (no broker), the task runs in this process, in a worker thread so
  that the caller's event loop is never nested or blocked; the API schedules it to
  run after the response is sent (:func:`eager_runner`).

A message can still be lost — the API died between its commit and the publish, an
eager import died with its process, a task gave up while its record said
``running`` — and the import would stay ``queued``/``running`` for ever, with the
dedupe returning it for the same file.  Such an import is **stuck**: nobody holds
its per-import lock, and (``queued`` only) it has waited longer than
``COSTSVC_STALE_IMPORT_SECONDS`` (``sql/queries/jobs.sql: jobs_stale_imports``).

* :func:`requeue_stale_imports` (the beat task ``requeue_stale_imports_task``,
  ``costsvc requeue-stale``) re-enqueues every stuck import from the file recorded
  on it (``imports.path``), or records it ``failed`` when that file is gone or no
  longer has the recorded SHA-256.  One sweep at a time (an advisory lock); a
  duplicate enqueue is harmless anyway (``run_import`` is locked and idempotent).
* :func:`revive_if_stuck`: the import API, when a new upload of the same file is
  deduplicated to a stuck import, re-enqueues that import with the new copy.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import asyncpg
import msgspec
from celery import Celery

from costsvc.db.queries import Q
from costsvc.settings import get_settings
from costsvc.staging.pipeline import sha256_of
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


# ----------------------------------------------------------------------------- stuck imports


class SweepReport(msgspec.Struct):
    locked_out: bool = False  # another sweep held the lock: this one did nothing
    requeued: list[dict[str, str]] = []  # import_id, was (queued/running), path
    failed: list[dict[str, str]] = []  # import_id, message: could not be run again
    busy: list[str] = []  # a process took the import meanwhile: it owns it
    enqueue_failed: list[dict[str, str]] = []  # the broker refused: the next sweep tries again

    def summary(self) -> str:
        if self.locked_out:
            return "another sweep is running; skipped"
        return (
            f"{len(self.requeued)} stuck import(s) re-enqueued, {len(self.failed)} failed, "
            f"{len(self.busy)} busy, {len(self.enqueue_failed)} not accepted by the broker"
        )

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


Revival = Literal["requeued", "failed", "busy", "moved_on"]


async def _file_problem(row: asyncpg.Record) -> str | None:
    """Why the recorded file cannot be run again, or None when it is there, unchanged."""
    recorded = row["path"]
    if not recorded:
        return "the import's file was not recorded (an import from before migration 003); send the file again"
    path = Path(recorded)
    if not path.is_file():
        return f"the file to import is gone: {recorded}; send the file again"
    try:
        digest = await asyncio.to_thread(sha256_of, path)
    except OSError as exc:
        return f"the file to import cannot be read: {recorded}: {exc}; send the file again"
    if digest != row["sha256"]:
        # A source file replaced in place: this import's content no longer exists
        # (the refresh imports the new content as a new import).
        return f"the file to import changed since the import was recorded: {recorded}; send the file again"
    return None


async def _revive(
    conn: asyncpg.Connection,
    row: asyncpg.Record,
    *,
    stale_after: float,
    max_requeues: int | None,
    adopt: Callable[[uuid.UUID], Path] | None = None,
) -> tuple[Revival, str | None]:
    """Mark one stuck import (a ``jobs_stale_imports`` row) ``queued`` again and return
    ("requeued", path to enqueue), or record it ``failed`` → ("failed", message).

    ``adopt`` (a new copy of the same file, already hashed): called under the lock,
    returns where that copy now is; it replaces the recorded file.  The caller
    enqueues after this returns (the row is committed and the lock released)."""
    import_id = row["import_id"]
    problem: str | None = None
    if max_requeues is not None and row["requeue_count"] >= max_requeues:
        problem = (
            f"gave up: re-enqueued {row['requeue_count']} time(s) as a stuck import and it never finished "
            "(COSTSVC_STALE_IMPORT_MAX_REQUEUES); send the file again"
        )
    elif adopt is None:
        problem = await _file_problem(row)
    if not await conn.fetchval(Q.try_lock_import, import_id):
        return "busy", None  # a worker started it since: it owns the outcome
    try:
        if problem is not None:
            done = await conn.fetchval(Q.jobs_fail_stale_import, import_id, stale_after, problem[:2000])
            return ("failed", problem) if done is not None else ("moved_on", None)
        path = str(await asyncio.to_thread(adopt, import_id)) if adopt is not None else row["path"]
        message = f"re-enqueued: the import was {row['status']} but no process was running it"
        done = await conn.fetchval(Q.jobs_requeue_stale_import, import_id, stale_after, path, message)
        return ("requeued", path) if done is not None else ("moved_on", None)
    finally:
        await conn.fetchval(Q.unlock_import, import_id)


async def requeue_stale_imports(
    conn: asyncpg.Connection,
    *,
    app: Celery | None = None,
    database_url: str | None = None,
    stale_after: float | None = None,
    max_requeues: int | None = None,
    limit: int = 1000,
) -> SweepReport:
    """Re-enqueue every stuck import (or record it ``failed``); one sweep at a time.

    Eager mode runs each re-enqueued import here, one after the other."""
    settings = get_settings()
    stale_after = settings.stale_import_seconds if stale_after is None else stale_after
    max_requeues = settings.stale_import_max_requeues if max_requeues is None else max_requeues
    report = SweepReport()
    if not await conn.fetchval(Q.jobs_try_lock_sweep):
        report.locked_out = True
        return report
    try:
        for row in await conn.fetch(Q.jobs_stale_imports, stale_after, None, limit):
            import_id = row["import_id"]
            outcome, detail = await _revive(conn, row, stale_after=stale_after, max_requeues=max_requeues)
            if outcome == "busy":
                report.busy.append(str(import_id))
            elif outcome == "failed":
                assert detail is not None
                log.warning("stuck import %s recorded failed: %s", import_id, detail)
                report.failed.append({"import_id": str(import_id), "message": detail})
            elif outcome == "requeued":
                assert detail is not None
                try:
                    await enqueue_import(import_id, detail, app=app, database_url=database_url)
                except EnqueueFailed as exc:
                    log.warning("stuck import %s: %s", import_id, exc)
                    report.enqueue_failed.append({"import_id": str(import_id), "error": str(exc)})
                    continue
                log.info("stuck import %s (%s) re-enqueued from %s", import_id, row["status"], detail)
                report.requeued.append({"import_id": str(import_id), "was": row["status"], "path": detail})
    finally:
        if not conn.is_closed():
            await conn.fetchval(Q.jobs_unlock_sweep)
    return report


async def revive_if_stuck(
    conn: asyncpg.Connection,
    import_id: uuid.UUID,
    *,
    adopt: Callable[[uuid.UUID], Path],
    stale_after: float | None = None,
) -> str | None:
    """When ``import_id`` (found by the dedupe for a new copy of the same file) is stuck,
    mark it ``queued`` again with that copy (``adopt`` puts it in place and returns its
    path) and return the path to enqueue; None when the import is alive (or moved on).

    A person sent the file again: the requeue limit does not apply."""
    if stale_after is None:
        stale_after = get_settings().stale_import_seconds
    rows = await conn.fetch(Q.jobs_stale_imports, stale_after, import_id, 1)
    if not rows:
        return None
    outcome, path = await _revive(conn, rows[0], stale_after=stale_after, max_requeues=None, adopt=adopt)
    if outcome == "requeued":
        log.info("stuck import %s re-enqueued for a new copy of its file at %s", import_id, path)
        return path
    return None
