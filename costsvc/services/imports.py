"""Import use cases: submit a file, follow an import, activate a version, and
revive imports whose job was lost.

Whoever submits (the API, the CLI, the refresh), an import is recorded in its own
committed transaction by ``costsvc.staging.pipeline.create_import`` and only then
handed to the job system through an ``ImportQueue`` (the Celery adapter in
``jobs.tasks``, given by the composition root), so a worker never receives an
import id it cannot find.

An import is **stuck** when nobody holds its per-import lock and (``queued`` only)
it has waited longer than ``stale_import_seconds``: its message was lost (the API
died between commit and publish, an eager run died with its process).  The sweep
(``requeue_stale_imports``) re-enqueues it from the file recorded on it, or records
it ``failed`` when that file is gone or changed; a new upload of the same file
revives it with the new copy (``ImportService.submit``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

import asyncpg
import msgspec

from costsvc.db.queries import Q
from costsvc.observe import metrics
from costsvc.outages import Dependency
from costsvc.services.errors import Conflict, FieldProblem, Forbidden, InvalidInput, NotFound, Unavailable
from costsvc.settings import Settings
from costsvc.staging.base import ImportOptions, Loader
from costsvc.staging.pipeline import activate as activate_version
from costsvc.staging.pipeline import create_import, sha256_of
from tariffs.options import normalize_payer_names

log = logging.getLogger(__name__)

ImportStatusName = Literal["queued", "running", "succeeded", "rejected", "failed"]


class EnqueueFailed(Exception):
    """The broker did not accept the task message."""


class ImportQueue(Protocol):
    """Where a committed import goes to be run."""

    @property
    def eager(self) -> bool:
        """True when imports run in this process (no broker)."""
        ...

    async def enqueue(self, import_id: uuid.UUID, path: str) -> None:
        """Hand the import to a worker (eager: run it now, off the event loop).  Raises EnqueueFailed."""
        ...

    def runner(self, import_id: uuid.UUID, path: str) -> Callable[[], Awaitable[Any]]:
        """A coroutine function that runs the import in this process (eager mode, after a response)."""
        ...


# ----------------------------------------------------------------------------- commands and read models


class SubmitImport(msgspec.Struct, forbid_unknown_fields=True):
    """The fields of an import request (JSON body, or multipart fields beside ``file``)."""

    kind: str
    source_path: str | None = None
    allow_partial: bool = False
    payer_id: str | None = None
    program_id: str | None = None
    payer_names: dict[str, str] | None = None

    def options(self) -> ImportOptions:
        return ImportOptions(allow_partial=self.allow_partial, payer_id=self.payer_id, program_id=self.program_id,
                             payer_names=normalize_payer_names(self.payer_names))  # fmt: skip


class ReceivedFile(msgspec.Struct, frozen=True):
    """An uploaded file already on disk (in the uploads' incoming folder) and hashed."""

    path: Path
    filename: str
    sha256: str


class VersionOut(msgspec.Struct):
    version_id: int
    created_at: dt.datetime | None
    activated_at: dt.datetime | None
    current: bool  # the version estimates read for at least one of its keys


class ErrorOut(msgspec.Struct):
    seq: int
    file: str
    line: int | None
    column: str | None
    message: str


class ErrorPage(msgspec.Struct):
    total: int  # errors stored (the first 10,000); rows_rejected counts them all
    offset: int
    limit: int
    items: list[ErrorOut]


class ImportOut(msgspec.Struct):
    import_id: uuid.UUID
    kind: str
    source: str
    sha256: str
    options: dict[str, Any]
    status: str
    started_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    message: str | None = None
    version: VersionOut | None = None  # the version the import created
    deduplicated: bool = False  # POST only: the same file was imported or queued already


class ImportDetail(ImportOut):
    errors: ErrorPage | None = None  # its row errors, a page at a time


class ImportPage(msgspec.Struct):
    total: int
    offset: int
    limit: int
    imports: list[ImportOut]


def _import_out(row: Any, out: type[ImportOut] = ImportOut, **extra: Any) -> Any:
    version = None
    if row["version_id"] is not None:
        version = VersionOut(
            row["version_id"], row["version_created_at"], row["version_activated_at"], bool(row["version_current"])
        )
    return out(
        import_id=row["import_id"], kind=row["kind"], source=row["source"], sha256=row["sha256"],
        options=row["options"] or {}, status=row["status"], started_by=row["started_by"],
        created_at=row["created_at"], started_at=row["started_at"], finished_at=row["finished_at"],
        rows_read=row["rows_read"], rows_accepted=row["rows_accepted"], rows_rejected=row["rows_rejected"],
        message=row["message"], version=version, **extra,
    )  # fmt: skip


class Submitted(msgspec.Struct, frozen=True):
    """The answer to a submission: the import, whether something was enqueued, and
    (eager mode) what to run once the answer is sent."""

    import_: ImportOut
    enqueued: bool
    run_after_response: Callable[[], Awaitable[Any]] | None = None


def resolve_source_path(settings: Settings, source_path: str) -> Path:
    """The real path of a server-side source, which must lie under the import root
    (after resolving ``..`` and symlinks)."""
    if not settings.import_root:
        raise Forbidden("server-side imports are disabled: COSTSVC_IMPORT_ROOT is not set", field="source_path")
    root = Path(settings.import_root).resolve()
    try:
        candidate = (root / source_path).resolve()
        if not candidate.is_relative_to(root):
            raise Forbidden("source_path must be a file under the import root", field="source_path")
        is_file = candidate.is_file()
    except (OSError, RuntimeError, ValueError) as exc:  # too long, symlink loop, NUL byte
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise InvalidInput.one("source_path", f"is not a usable path ({reason})") from None
    if not is_file:
        raise InvalidInput.one("source_path", "no such file under the import root")
    return candidate


def discard_upload(settings: Settings, path: str | Path) -> bool:
    """Remove the upload folder of an import that will never run again (rejected, or
    failed for good), unless ``keep_failed_uploads``.  Only files under
    ``<data_dir>/uploads`` are the service's own: a server-side source is left alone."""
    if settings.keep_failed_uploads:
        return False
    uploads = (Path(settings.data_dir) / "uploads").resolve()
    folder = Path(path).resolve().parent
    if folder.parent != uploads or folder.name.startswith("."):
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


class ImportService:
    """The import use cases over one pool, with the kinds (``loaders``) and the queue
    the composition root chose."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, loaders: Mapping[str, Loader], queue: ImportQueue,
                 *, broker_outage: Dependency | None = None):
        self.pool = pool
        self.settings = settings
        self.loaders = loaders
        self.queue = queue
        self.broker_outage = broker_outage  # where a broker refusing imports is reported

    @property
    def uploads(self) -> Path:
        return Path(self.settings.data_dir) / "uploads"

    def submission_problems(self, kind: object, source_path: object, *, has_file: bool) -> list[FieldProblem]:
        """What is wrong with a submission beyond its schema (the caller reports both at once)."""
        errors: list[FieldProblem] = []
        if isinstance(kind, str) and kind not in self.loaders:
            errors.append(FieldProblem("kind", f"must be one of {', '.join(sorted(self.loaders))}"))
        if has_file and source_path:
            errors.append(FieldProblem("source_path", "send either a file or a source_path, not both"))
        if not has_file and not source_path:
            errors.append(FieldProblem("file", "send a file (multipart part 'file') or a source_path on the server"))
        return errors

    async def submit(self, cmd: SubmitImport, upload: ReceivedFile | None, *, started_by: str) -> Submitted:
        """Record the import (deduplicated on kind + content + scope), then enqueue it."""
        errors = self.submission_problems(cmd.kind, cmd.source_path, has_file=upload is not None)
        if errors:
            raise InvalidInput(errors)
        new_id = uuid.uuid4()
        stored: Path | None = None  # the upload's folder, <data_dir>/uploads/<new_id>
        if upload is not None:
            # In place before the import is recorded: the row names a file that exists
            # (a lost job is re-enqueued from it).
            stored = self.uploads / str(new_id)
            path = stored / upload.filename
            try:
                stored.mkdir(parents=True, exist_ok=True)
                os.replace(upload.path, path)  # same file system: atomic
            except BaseException:
                upload.path.unlink(missing_ok=True)
                raise
            source, digest = upload.filename, upload.sha256
        else:
            assert cmd.source_path is not None
            path = resolve_source_path(self.settings, cmd.source_path)
            source, digest = str(path), await asyncio.to_thread(sha256_of, path)

        def adopt(existing_id: uuid.UUID) -> Path:
            """A stuck earlier import of this same file (kind, SHA-256, scope) runs from this copy."""
            if stored is None:
                return path  # the server-side source, just hashed
            target = self.uploads / str(existing_id) / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            return target

        created, revived = False, None
        try:
            async with self.pool.acquire() as conn:
                import_id, status, created = await create_import(
                    conn, cmd.kind, path, loaders=self.loaders, options=cmd.options(), source=source,
                    started_by=started_by, sha256=digest, import_id=new_id,
                )  # fmt: skip
                if not created and status in ("queued", "running"):
                    # Deduplicated to an import still to run: if its job was lost, run it now, not never.
                    revived = await revive_if_stuck(
                        conn, import_id, adopt=adopt, stale_after=self.settings.stale_import_seconds
                    )
        finally:
            if stored is not None and not created:
                # The same file is imported or on its way already (or this copy was adopted).
                shutil.rmtree(stored, ignore_errors=True)

        run_path = str(path) if created else revived
        after = None
        if run_path is not None:  # the import is committed: only now may a worker hear of it
            if self.queue.eager:
                after = self.queue.runner(import_id, run_path)
            else:
                try:
                    await self.queue.enqueue(import_id, run_path)
                except EnqueueFailed as exc:
                    async with self.pool.acquire() as conn:
                        await conn.execute(Q.jobs_mark_import_failed, import_id, str(exc))
                    discard_upload(self.settings, run_path)
                    metrics.import_refused(cmd.kind)
                    # The import's own line (an operator looks for that import), without a
                    # traceback; the broker's outage is told apart, once per interval.
                    cause = exc.__cause__
                    log.warning("import %s refused by the job broker; recorded failed", import_id,
                                extra={"import_id": str(import_id), "kind": cmd.kind,
                                       "reason": type(cause).__name__ if cause else "EnqueueFailed"})
                    if self.broker_outage is not None:
                        self.broker_outage.failed(exc)
                    raise Unavailable(
                        f"{exc}. The import {import_id} was recorded as failed; send the file again later."
                    ) from exc
                if self.broker_outage is not None:
                    self.broker_outage.ok()
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(Q.imports_api_get, import_id)
        return Submitted(_import_out(row, deduplicated=not created), run_path is not None, after)

    async def list(self, kind: str | None, status: str | None, limit: int, offset: int) -> ImportPage:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(Q.imports_api_list, kind, status, limit, offset)
            total = await conn.fetchval(Q.imports_api_count, kind, status)
        return ImportPage(total=total, offset=offset, limit=limit, imports=[_import_out(r) for r in rows])

    async def get(self, import_id: uuid.UUID, errors_offset: int, errors_limit: int) -> ImportDetail:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(Q.imports_api_get, import_id)
            if row is None:
                raise NotFound(f"no import {import_id}", field="import_id")
            errors = await conn.fetch(Q.imports_api_errors, import_id, errors_limit, errors_offset)
            total = await conn.fetchval(Q.imports_api_error_count, import_id)
        page = ErrorPage(
            total=total, offset=errors_offset, limit=errors_limit,
            items=[ErrorOut(e["seq"], e["file"], e["line"], e["column"], e["message"]) for e in errors],
        )  # fmt: skip
        return _import_out(row, ImportDetail, errors=page)

    async def activate(self, import_id: uuid.UUID) -> ImportOut:
        """Make the version this import created current again (roll back or forward)."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(Q.imports_api_get, import_id)
            if row is None:
                raise NotFound(f"no import {import_id}", field="import_id")
            if row["version_id"] is None:
                raise NoVersion(f"import {import_id} is {row['status']}: it created no version to activate")
            await activate_version(conn, row["version_id"])
            row = await conn.fetchrow(Q.imports_api_get, import_id)
        return _import_out(row)


class NoVersion(Conflict):
    code = "no-version"


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
    queue: ImportQueue,
    settings: Settings,
    stale_after: float | None = None,
    max_requeues: int | None = None,
    limit: int = 1000,
) -> SweepReport:
    """Re-enqueue every stuck import (or record it ``failed``); one sweep at a time.

    Eager mode runs each re-enqueued import here, one after the other."""
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
                if row["path"]:
                    discard_upload(settings, row["path"])  # failed for good: it never runs again
                report.failed.append({"import_id": str(import_id), "message": detail})
            elif outcome == "requeued":
                assert detail is not None
                try:
                    await queue.enqueue(import_id, detail)
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
    stale_after: float,
) -> str | None:
    """When ``import_id`` (found by the dedupe for a new copy of the same file) is stuck,
    mark it ``queued`` again with that copy (``adopt`` puts it in place and returns its
    path) and return the path to enqueue; None when the import is alive (or moved on).

    A person sent the file again: the requeue limit does not apply."""
    rows = await conn.fetch(Q.jobs_stale_imports, stale_after, import_id, 1)
    if not rows:
        return None
    outcome, path = await _revive(conn, rows[0], stale_after=stale_after, max_requeues=None, adopt=adopt)
    if outcome == "requeued":
        log.info("stuck import %s re-enqueued for a new copy of its file at %s", import_id, path)
        return path
    return None
