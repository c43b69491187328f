"""What the import pipeline and the loaders share: the options of an import, its
outcome, and the context a loader stages a version in.

``Loader`` is the protocol every import kind implements; the registry of kinds
(``costsvc.staging.loaders.LOADERS``) is handed to the pipeline by its caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, Protocol

import asyncpg
import msgspec

from tariffs.records import RowError

MAX_STORED_ERRORS = 10_000  # every error is counted; the first ones are kept for display
ImportStatus = Literal["queued", "running", "succeeded", "rejected", "failed"]


class ImportOptions(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    allow_partial: bool = False
    payer_id: str | None = None  # TiC files, negotiated-rate HPT mapping, allowed amounts
    program_id: str | None = None  # HPT: the hospital-based program the file prices
    payer_names: dict[str, str] | None = None  # HPT: payer name in the file -> our payer_id


NO_OPTIONS = ImportOptions()  # frozen: one shared default


class ImportOutcome(msgspec.Struct):
    import_id: uuid.UUID
    kind: str
    status: ImportStatus
    deduplicated: bool = False  # True: this file was already imported (or is queued); nothing new ran
    version_id: int | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    errors: list[RowError] = []
    message: str | None = None


class ImportNotFound(Exception):
    pass


class ImportBusy(Exception):
    """Another process is running this import right now."""


class StageContext:
    """What a loader gets while its version is being staged (inside the transaction)."""

    def __init__(self, conn: asyncpg.Connection, version_id: int, path: Path, display_name: str,
                 options: ImportOptions):
        self.conn = conn
        self.version_id = version_id
        self.path = path
        self.display_name = display_name
        self.options = options
        self.rows_read = 0
        self.rows_accepted = 0
        self.error_count = 0
        self.errors: list[RowError] = []
        self.notes: list[str] = []  # what the import record's message adds (skipped items, encoding)
        self._keys: dict[str, set[tuple[str, str]]] = {}
        self._written_keys: dict[str, set[tuple[str, str]]] = {}

    def error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append(error)

    def extend_errors(self, errors: Iterable[RowError]) -> None:
        for e in errors:
            self.error(e)

    def key(self, scope: str, key1: str, key2: str = "") -> None:
        """Declare that this version carries tariffs for (scope, key1, key2)."""
        self._keys.setdefault(scope, set()).add((key1, key2))

    def keys(self, scope: str, pairs: Iterable[tuple[str, str]]) -> None:
        self._keys.setdefault(scope, set()).update(pairs)

    async def copy(self, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
        await self.conn.copy_records_to_table(table, records=rows, columns=columns)

    async def write_keys(self) -> None:
        """Write the keys declared since the last call (a loader that stages in
        batches may call it after each; the pipeline calls it before activating)."""
        # COPY: the version is new in this transaction, so its keys cannot conflict
        # (those already written are skipped); sorted, they go into the primary key's
        # index in order.
        v = self.version_id
        rows = []
        for scope, pairs in sorted(self._keys.items()):
            written = self._written_keys.setdefault(scope, set())
            new = pairs - written
            written |= new
            rows += [(v, scope, a, b) for a, b in sorted(new)]
        self._keys.clear()
        if rows:
            await self.copy("tariff_version_keys", ["version_id", "scope", "key1", "key2"], rows)


class Loader(Protocol):
    """How one import kind is read and staged.

    ``prepare`` runs before the transaction (parse, or only open and check the header
    of a file too large to hold); ``stage`` writes the accepted records of one
    version inside it and declares the keys the version carries."""

    requires_rows: bool

    async def prepare(self, path: Path, display_name: str, options: ImportOptions) -> Any: ...

    async def stage(self, ctx: StageContext, prepared: Any) -> None: ...
