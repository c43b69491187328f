"""The import pipeline: one path for every tariff file, whoever starts it.

``costsvc import`` (CLI), the import API and the Celery tasks all call
``create_import`` then ``run_import``.  A run:

1. records the import (kind, source, SHA-256, options, who started it);
2. parses and validates the file (``costsvc.staging.loaders``: the pure parsers of ``tariffs`` feeding COPY);
3. in ONE transaction creates a tariff version, stages its rows, activates it and
   sends ``NOTIFY tariffs_changed`` (delivered on commit) — so estimates never
   see a half-imported tariff, and a run that dies anywhere leaves nothing;
4. records the outcome, with row errors (file, line, column, message).

A file with row errors is rejected whole unless ``allow_partial``.  The same
kind + SHA-256 + scope (payer/program options) is deduplicated under an advisory
lock: two uploads of one file at the same moment make one import.  ``run_import``
is idempotent: a succeeded import is not run again, and a per-import advisory
lock keeps two workers from running the same import at once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import asyncpg
import msgspec

from costsvc.db.queries import Q
from costsvc.observe import metrics
from costsvc.staging.base import (
    MAX_STORED_ERRORS,
    NO_OPTIONS,
    ImportBusy,
    ImportNotFound,
    ImportOptions,
    ImportOutcome,
    Loader,
    StageContext,
)
from tariffs.records import FileRejected, RowError

log = logging.getLogger(__name__)

def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def dedupe_key(kind: str, sha256: str, options: ImportOptions) -> str:
    """What makes two imports the same: the kind, the content, and every option that
    changes what the import stages (``allow_partial`` does not: it only decides
    whether a file with bad rows is staged at all, and a rejected file is not live)."""
    scope = msgspec.json.encode(msgspec.structs.replace(options, allow_partial=False), order="sorted").decode()
    return f"{kind}:{sha256}:{scope}"


async def create_import(
    conn: asyncpg.Connection,
    kind: str,
    path: str | os.PathLike[str],
    *,
    loaders: Mapping[str, Loader],
    options: ImportOptions = NO_OPTIONS,
    source: str | None = None,
    started_by: str = "cli",
    sha256: str | None = None,
    import_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, str, bool]:
    """Record an import of ``path``; return (import_id, status, created).

    ``created`` is False when the same file (kind, SHA-256, scope) was already
    imported or is queued/running: the existing import is returned instead —
    even one whose run died (the CLI and the refresh then run it themselves; the
    API re-enqueues it: ``costsvc.services.imports``).  ``path`` (absolute) is
    recorded as the file the job reads, so that a lost job can be enqueued again;
    ``import_id`` lets the caller store the file under the id before recording it.
    """
    if kind not in loaders:
        raise ValueError(f"unknown import kind {kind!r}; expected one of {', '.join(sorted(loaders))}")
    path = Path(path)
    digest = sha256 or sha256_of(path)
    key = dedupe_key(kind, digest, options)
    async with conn.transaction():
        await conn.execute(Q.lock_dedupe_key, key)
        existing = await conn.fetchrow(Q.find_live_import, key)
        if existing is not None:
            return existing["import_id"], existing["status"], False
        import_id = import_id or uuid.uuid4()
        await conn.execute(
            Q.insert_import, import_id, kind, source or path.name, digest, key,
            msgspec.to_builtins(options), started_by, str(path.absolute()),
        )
    return import_id, "queued", True


async def get_outcome(conn: asyncpg.Connection, import_id: uuid.UUID, *, deduplicated: bool = False) -> ImportOutcome:
    row = await conn.fetchrow(Q.get_import, import_id)
    if row is None:
        raise ImportNotFound(str(import_id))
    errors = [
        RowError(r["file"], r["line"], r["column"], r["message"])
        for r in await conn.fetch(Q.import_errors_head, import_id, 100)
    ]
    return ImportOutcome(
        import_id=row["import_id"], kind=row["kind"], status=row["status"], deduplicated=deduplicated,
        version_id=row["version_id"], rows_read=row["rows_read"], rows_accepted=row["rows_accepted"],
        rows_rejected=row["rows_rejected"], errors=errors, message=row["message"],
    )


class _Rejected(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


async def _record_errors(conn: asyncpg.Connection, import_id: uuid.UUID, errors: list[RowError]) -> None:
    await conn.execute(Q.delete_import_errors, import_id)
    if errors:
        await conn.execute(
            Q.insert_import_errors, import_id,
            list(range(1, len(errors) + 1)), [e.file for e in errors], [e.line for e in errors],
            [e.column for e in errors], [e.message for e in errors],
        )


async def run_import(
    conn: asyncpg.Connection, import_id: uuid.UUID, path: str | os.PathLike[str], *, loaders: Mapping[str, Loader]
) -> ImportOutcome:
    """Validate, stage and activate one recorded import.  Safe to call again."""
    row = await conn.fetchrow(Q.get_import, import_id)
    if row is None:
        raise ImportNotFound(str(import_id))
    if row["status"] in ("succeeded", "rejected"):
        return await get_outcome(conn, import_id, deduplicated=True)
    if not await conn.fetchval(Q.try_lock_import, import_id):
        raise ImportBusy(str(import_id))
    started = time.perf_counter()
    try:
        outcome = await _run_locked(conn, row, Path(path), loaders[row["kind"]])
    except BaseException:
        metrics.import_finished(row["kind"], "error", time.perf_counter() - started, read=0, accepted=0, rejected=0)
        raise
    finally:
        await conn.fetchval(Q.unlock_import, import_id)
    metrics.import_finished(row["kind"], outcome.status, time.perf_counter() - started, read=outcome.rows_read,
                            accepted=outcome.rows_accepted, rejected=outcome.rows_rejected)
    return outcome


async def _run_locked(conn: asyncpg.Connection, row: asyncpg.Record, path: Path, loader: Loader) -> ImportOutcome:
    import_id = row["import_id"]
    options = msgspec.convert(row["options"] or {}, ImportOptions)
    display_name = row["source"]
    await conn.execute(Q.mark_import_running, import_id)
    ctx: StageContext | None = None
    try:
        prepared = await loader.prepare(path, display_name, options)
        async with conn.transaction():
            version_id = await conn.fetchval(Q.insert_version, row["kind"], import_id)
            ctx = StageContext(conn, version_id, path, display_name, options)
            await loader.stage(ctx, prepared)
            if ctx.error_count and not options.allow_partial:
                raise _Rejected(f"{ctx.error_count} row error(s); nothing imported (use allow_partial to import the good rows)")
            if ctx.rows_accepted == 0 and loader.requires_rows:
                raise _Rejected("the file has no importable rows")
            await ctx.write_keys()
            await conn.fetchval(Q.activate_version, version_id)
            await conn.execute(Q.notify_tariffs_changed, str(version_id))
            await _record_errors(conn, import_id, ctx.errors)
            rejected = ctx.error_count
            await conn.execute(
                Q.finish_import, import_id, "succeeded", ctx.rows_read, ctx.rows_accepted, rejected, version_id,
                "; ".join([f"activated version {version_id}", *([f"{rejected} row(s) skipped"] if rejected else []),
                           *ctx.notes]),
            )
    except (FileRejected, _Rejected) as exc:
        if isinstance(exc, FileRejected):
            errors, message = exc.errors, str(exc)
            read = ctx.rows_read if ctx else 0
            if ctx is not None:
                errors = ctx.errors + errors
        else:
            assert ctx is not None
            errors, message, read = ctx.errors, exc.message, ctx.rows_read
        rejected_rows = ctx.error_count if ctx is not None else len(errors)
        async with conn.transaction():
            await _record_errors(conn, import_id, errors[:MAX_STORED_ERRORS])
            await conn.execute(Q.finish_import, import_id, "rejected", read, 0, rejected_rows, None, message)
        log.info("import %s rejected: %s", import_id, message)
    return await get_outcome(conn, import_id)


async def activate(conn: asyncpg.Connection, version_id: int) -> bool:
    """Make a stored version current again (rollback or roll forward)."""
    async with conn.transaction():
        found = await conn.fetchval(Q.activate_version, version_id)
        if found is None:
            return False
        await conn.execute(Q.notify_tariffs_changed, str(version_id))
    return True


async def import_file(
    conn: asyncpg.Connection,
    kind: str,
    path: str | os.PathLike[str],
    *,
    loaders: Mapping[str, Loader],
    options: ImportOptions = NO_OPTIONS,
    source: str | None = None,
    started_by: str = "cli",
) -> ImportOutcome:
    """Create and run an import in this process (the CLI and eager mode)."""
    import_id, status, created = await create_import(
        conn, kind, path, loaders=loaders, options=options, source=source, started_by=started_by
    )
    if not created and status == "succeeded":
        return await get_outcome(conn, import_id, deduplicated=True)
    return await run_import(conn, import_id, path, loaders=loaders)
