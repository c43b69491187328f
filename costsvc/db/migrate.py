"""Apply the numbered migrations in ``sql/migrations`` exactly once each.

Safe when several processes start at once: the whole run holds a session-level
advisory lock, and each migration commits in its own transaction with its row
in ``schema_migrations``.
"""

from __future__ import annotations

import logging
import re

import asyncpg

from costsvc.db.pool import connect
from costsvc.db.queries import SQL_DIR, Q

log = logging.getLogger(__name__)
MIGRATIONS_DIR = SQL_DIR / "migrations"
_MIGRATION_LOCK = 0x636F737473766301  # "costsvc\x01": arbitrary, stable across releases
_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migration_files() -> list[tuple[int, str, str]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.iterdir()):
        m = _FILE.match(path.name)
        if m:
            found.append((int(m.group(1)), path.name, path.read_text(encoding="utf-8")))
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"duplicate migration numbers in {MIGRATIONS_DIR}")
    return found


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply pending migrations; return the names applied by this call."""
    applied_now: list[str] = []
    await conn.execute(Q.migrations_lock, _MIGRATION_LOCK)
    try:
        await conn.execute(Q.migrations_create_table)
        done = {r["version"] for r in await conn.fetch(Q.migrations_applied)}
        for number, name, sql in migration_files():
            if number in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(Q.migrations_record, number, name)
            log.info("applied migration %s", name)
            applied_now.append(name)
    finally:
        await conn.execute(Q.migrations_unlock, _MIGRATION_LOCK)
    return applied_now


async def migrate_url(url: str) -> list[str]:
    """``migrate`` on a connection of its own to ``url`` (the CLI, the test and bench setups)."""
    conn = await connect(url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()
