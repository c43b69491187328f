"""Scheduled refresh: import the new or changed files of the configured tariff sources.

The sources file (``COSTSVC_TARIFF_SOURCES``) is TOML, one ``[[source]]`` table per
source, imported in the order listed (a coverage table before the negotiated
rates that name its payers)::

    [[source]]
    kind = "fee_schedule"
    folder = "fees"                  # every file directly in the folder, by name
    [[source]]
    kind = "tic_in_network"
    glob = "/srv/payers/acme/*.json.gz"   # or a glob (``**`` recurses)
    payer_id = "acme"
    [[source]]
    kind = "hpt_standard_charges"
    path = "hospital/standard-charges.csv"  # or one file
    program_id = "harbor-community-counseling"
    payer_names = { "Acme Health" = "acme" }
    allow_partial = true

Relative paths are relative to the sources file.  A source names exactly one of
``folder``, ``glob`` or ``path``; its other keys are the import's options
(``costsvc.staging.pipeline.ImportOptions``).

A file is imported when its kind + SHA-256 + scope is new (``costsvc.staging.pipeline``'s
dedupe key); its SHA-256 is computed again only when its size or modification time
changed since it was last hashed (``file_digest``).  An unchanged file is skipped, and so is a file already rejected with
the same options (it would be rejected again; fix it or change it).  The whole run
holds a PostgreSQL advisory lock: a second scheduler or an overlapping run finds
it taken and returns at once, and the per-file dedupe (under its own lock) means a
file is never imported twice even by an import started elsewhere meanwhile.
"""

from __future__ import annotations

import asyncio
import glob as globmod
import logging
import os
import time
import tomllib
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from costsvc.db.queries import Q
from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import (
    ImportBusy,
    ImportOptions,
    create_import,
    dedupe_key,
    run_import,
    sha256_of,
)
from tariffs.options import normalize_payer_names

log = logging.getLogger(__name__)


class SourcesInvalid(ValueError):
    """The sources file cannot be used (not TOML, unknown kind, no location...)."""


class Source(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: str
    folder: str | None = None
    glob: str | None = None
    path: str | None = None
    allow_partial: bool = False
    payer_id: str | None = None
    program_id: str | None = None
    payer_names: dict[str, str] | None = None

    @property
    def options(self) -> ImportOptions:
        return ImportOptions(
            allow_partial=self.allow_partial,
            payer_id=self.payer_id,
            program_id=self.program_id,
            payer_names=normalize_payer_names(self.payer_names),
        )

    def files(self, base: Path) -> list[Path]:
        """The regular files this source names now, sorted (hidden and partial files skipped)."""
        if self.path is not None:
            candidates = [base / self.path]
        elif self.folder is not None:
            folder = base / self.folder
            candidates = list(folder.iterdir()) if folder.is_dir() else []
        else:
            assert self.glob is not None
            pattern = self.glob if os.path.isabs(self.glob) else str(base / self.glob)
            candidates = [Path(p) for p in globmod.glob(pattern, recursive=True)]
        return sorted(
            p
            for p in candidates
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith((".part", ".tmp"))
        )


class _SourcesFile(msgspec.Struct, forbid_unknown_fields=True):
    source: list[Source] = []


def load_sources(path: str | os.PathLike[str]) -> list[Source]:

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        sources = msgspec.convert(data, _SourcesFile).source
    except OSError as exc:
        raise SourcesInvalid(f"cannot read the tariff sources file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SourcesInvalid(f"{path} is not valid TOML: {exc}") from exc
    except msgspec.ValidationError as exc:
        raise SourcesInvalid(f"{path}: {exc}") from exc
    for i, s in enumerate(sources, 1):
        if s.kind not in LOADERS:
            raise SourcesInvalid(
                f"{path}: source {i}: unknown kind {s.kind!r}; expected one of {', '.join(sorted(LOADERS))}"
            )
        if sum(x is not None for x in (s.folder, s.glob, s.path)) != 1:
            raise SourcesInvalid(f"{path}: source {i} ({s.kind}) needs exactly one of folder, glob or path")
    return sources


class RefreshReport(msgspec.Struct):
    locked_out: bool = False  # another refresh held the lock: this run did nothing
    imported: list[dict[str, Any]] = []  # files run by this refresh (succeeded or rejected)
    unchanged: list[str] = []  # already imported (same kind, content and scope)
    skipped_rejected: list[str] = []  # same file and options rejected before
    busy: list[str] = []  # being imported by another process right now
    unreadable: list[dict[str, str]] = []
    hashed: list[str] = []  # files read to hash them (new, or their size or mtime changed)

    def summary(self) -> str:
        if self.locked_out:
            return "another refresh is running; skipped"
        done = [i for i in self.imported if i["status"] == "succeeded"]
        return (
            f"{len(done)} imported, {len(self.imported) - len(done)} rejected, "
            f"{len(self.unchanged)} unchanged, "
            f"{len(self.skipped_rejected)} rejected before, {len(self.busy)} busy, "
            f"{len(self.unreadable)} unreadable; {len(self.hashed)} file(s) read to hash"
        )

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


async def refresh_sources(
    conn: asyncpg.Connection, sources_file: str | os.PathLike[str], *, rehash: bool = False
) -> RefreshReport:
    """One refresh run over ``sources_file`` on ``conn`` (which holds the refresh lock
    meanwhile).  ``rehash``: read every file again, even one whose size and mtime say
    it has not changed."""
    sources = load_sources(sources_file)
    base = Path(sources_file).resolve().parent
    report = RefreshReport()
    if not await conn.fetchval(Q.jobs_try_lock_refresh):
        report.locked_out = True
        return report
    try:
        for source in sources:
            for file in source.files(base):
                await _refresh_file(conn, source, file, report, rehash)
    finally:
        if not conn.is_closed():
            await conn.fetchval(Q.jobs_unlock_refresh)
    return report


async def file_digest(conn: asyncpg.Connection, file: Path, *, rehash: bool = False) -> tuple[str, bool]:
    """(SHA-256 of ``file``, whether it was read to compute it).  A file whose size and
    mtime match the last time it was hashed is not read again (``source_file_hashes``)
    unless ``rehash``."""
    st = file.stat()
    path = str(file.resolve())
    if not rehash:
        known = await conn.fetchval(Q.jobs_known_file_hash, path, st.st_size, st.st_mtime_ns)
        if known is not None:
            return known, False
    digest = await asyncio.to_thread(sha256_of, file)
    # Remembered only for a file that was not rewritten while it was read and whose
    # mtime is not so recent that a rewrite within the same clock tick could leave it
    # unchanged (git's "racy clean" problem): such a file is simply hashed next time.
    settled = time.time_ns() - st.st_mtime_ns > _SETTLED_NS
    if settled and file.stat().st_mtime_ns == st.st_mtime_ns:
        await conn.execute(Q.jobs_record_file_hash, path, st.st_size, st.st_mtime_ns, digest)
    return digest, True


_SETTLED_NS = 2_000_000_000


async def _refresh_file(
    conn: asyncpg.Connection, source: Source, file: Path, report: RefreshReport, rehash: bool
) -> None:
    name = str(file)
    options = source.options
    try:
        digest, hashed = await file_digest(conn, file, rehash=rehash)
    except OSError as exc:
        report.unreadable.append({"path": name, "error": str(exc)})
        return
    if hashed:
        report.hashed.append(name)
    if (
        await conn.fetchval(
            Q.jobs_rejected_before, dedupe_key(source.kind, digest, options), msgspec.to_builtins(options)
        )
        is not None
    ):
        report.skipped_rejected.append(name)
        return
    import_id, status, created = await create_import(
        conn, source.kind, file, options=options, source=name, started_by="refresh", sha256=digest, loaders=LOADERS
    )
    if not created and status == "succeeded":
        report.unchanged.append(name)
        return
    # New, or recorded earlier but never finished (queued, or a run that died):
    # run it here; the per-import lock keeps a worker running it too from doing so twice.
    try:
        outcome = await run_import(conn, import_id, file, loaders=LOADERS)
    except ImportBusy:
        report.busy.append(name)
        return
    if outcome.deduplicated and outcome.status == "succeeded":
        report.unchanged.append(name)
        return
    report.imported.append(
        {
            "path": name,
            "import_id": str(import_id),
            "status": outcome.status,
            "version_id": outcome.version_id,
            "rows_accepted": outcome.rows_accepted,
            "message": outcome.message,
        }
    )
    log.info("refresh: %s %s (%s)", name, outcome.status, outcome.message)
