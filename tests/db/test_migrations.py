"""Migrations: applied once, idempotent, safe when several processes start together."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg

from costsvc.db.migrate import migrate, migration_files
from costsvc.db.pool import connect
from tests.conftest import _with_database


async def _empty_database(server_url: str, name: str) -> str:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return _with_database(server_url, name)


async def _drop(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_migrate_is_idempotent(server_url, databases):
    url = await _empty_database(server_url, "costsvc_mig_idem")
    try:
        conn = await connect(url)
        try:
            first = await migrate(conn)
            second = await migrate(conn)
            assert first == [name for _, name, _ in migration_files()]
            assert second == []
            versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
            assert [r["version"] for r in versions] == [n for n, _, _ in migration_files()]
        finally:
            await conn.close()
    finally:
        await _drop(server_url, "costsvc_mig_idem")


async def test_concurrent_migrations_apply_each_once(server_url, databases):
    """Eight connections race; the advisory lock makes exactly one apply each migration."""
    url = await _empty_database(server_url, "costsvc_mig_race")
    try:
        conns = [await connect(url) for _ in range(8)]
        try:
            results = await asyncio.gather(*(migrate(c) for c in conns))
        finally:
            for c in conns:
                await c.close()
        applied = [name for result in results for name in result]
        assert sorted(applied) == sorted(name for _, name, _ in migration_files())
    finally:
        await _drop(server_url, "costsvc_mig_race")


async def test_two_cli_processes_migrate_at_once(server_url, databases):
    url = await _empty_database(server_url, "costsvc_mig_cli")
    try:
        env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
        cmd = [sys.executable, "-m", "costsvc.cli", "migrate"]
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        counts = sorted(int(out.split()[1]) for out, _ in outs)
        assert counts == [0, len(migration_files())]
    finally:
        await _drop(server_url, "costsvc_mig_cli")
