"""Migrations: applied once, idempotent, safe when several processes start together."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import asyncpg

from costsvc.db.migrate import migrate, migration_files
from costsvc.db.pool import connect
from tests.conftest import _with_database

# Several suites may share one server (CI, engineers): the databases this module makes are its own.
RUN = uuid.uuid4().hex[:8]


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
    url = await _empty_database(server_url, f"costsvc_mig_idem_{RUN}")
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
        await _drop(server_url, f"costsvc_mig_idem_{RUN}")


async def test_concurrent_migrations_apply_each_once(server_url, databases):
    """Eight connections race; the advisory lock makes exactly one apply each migration."""
    url = await _empty_database(server_url, f"costsvc_mig_race_{RUN}")
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
        await _drop(server_url, f"costsvc_mig_race_{RUN}")


async def test_two_cli_processes_migrate_at_once(server_url, databases):
    url = await _empty_database(server_url, f"costsvc_mig_cli_{RUN}")
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
        await _drop(server_url, f"costsvc_mig_cli_{RUN}")


async def test_migration_008_carries_the_earlier_policies_into_versions(server_url, databases):
    """A database from before 008 (the demo seeded its policies by SQL) keeps them: each
    becomes an activated version, and the shipped guidelines one of their own."""
    url = await _empty_database(server_url, f"costsvc_mig_008_{RUN}")
    try:
        conn = await connect(url)
        try:
            files = migration_files()
            for number, _, sql in files:
                if number < 8:
                    await conn.execute(sql)
            await conn.execute("INSERT INTO programs (program_id, name, state) VALUES ('clinic', 'Clinic', 'CA')")
            await conn.execute(
                "INSERT INTO sliding_scale_policies (program_id, tiers) VALUES ('clinic', $1)",
                '[{"name": "A", "max_fpl_percent": "100", "nominal_fee": "10.00"},'
                ' {"max_fpl_percent": "200", "discount_percent": "50"}]')
            await conn.execute("INSERT INTO payment_plan_policies (program_id, terms, apr, min_monthly) "
                               "VALUES ('clinic', '{6,12}', 7.99, 50)")
            await conn.execute(next(sql for number, _, sql in files if number == 8))
            tiers = await conn.fetch("SELECT position, tier, max_fpl_percent, discount_percent, nominal_fee "
                                     "FROM sliding_scale_tiers ORDER BY position")
            assert [tuple(map(str, r.values())) for r in tiers] == [
                ("1", "A", "100.000", "None", "10.00"), ("2", "B", "200.000", "50.000", "None")]
            terms = await conn.fetch("SELECT months, apr, min_monthly_payment FROM payment_terms ORDER BY months")
            assert [(r["months"], str(r["apr"]), str(r["min_monthly_payment"])) for r in terms] == [
                (6, "7.990", "50.00"), (12, "7.990", "50.00")]
            current = await conn.fetch("SELECT scope, key1 FROM current_tariff_versions ORDER BY scope, key1")
            assert [(r["scope"], r["key1"]) for r in current] == [
                ("guidelines", "2025"), ("guidelines", "2026"), ("payment", "clinic"), ("sliding", "clinic")]
            for table in ("sliding_scale_policies", "payment_plan_policies"):
                assert await conn.fetchval("SELECT to_regclass($1)", table) is None
        finally:
            await conn.close()
    finally:
        await _drop(server_url, f"costsvc_mig_008_{RUN}")
