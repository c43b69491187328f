"""The README's back-up and restore procedure, run: `pg_dump -Fc` of a live costsvc database,
`pg_restore --clean --if-exists --no-owner` over another one, and the service reads back
what it had stored, with nothing left to migrate."""

from __future__ import annotations

import subprocess
from pathlib import Path

from litestar.testing import AsyncTestClient
from pgserver._commands import POSTGRES_BIN_PATH

from costsvc.api.app import create_app
from costsvc.db.migrate import migrate
from costsvc.db.pool import connect

#: pgserver's client programs: at least as new as any server the tests run on (pg_dump
#: refuses a server newer than itself).
BIN = Path(POSTGRES_BIN_PATH)
IOP = {"program_id": "sunrise-recovery", "level_of_care": "iop", "coverage": {"plan_id": "acme-ppo-gold"},
       "episode": {"start_date": "2026-12-01", "weeks": 12, "days_per_week": 3}}


def _run(*argv: str | Path, stdin=None, stdout=None) -> None:
    done = subprocess.run([str(a) for a in argv], stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]


async def test_a_dump_restored_over_another_database_serves_what_was_stored(databases, tmp_path):
    source, target = await databases.create(), await databases.create()
    async with AsyncTestClient(app=create_app(database_url=source)) as api:
        created = await api.post("/v1/estimates", json=IOP)
        assert created.status_code == 201, created.text
    dump = tmp_path / "costsvc.dump"
    with open(dump, "wb") as out:
        _run(BIN / "pg_dump", "-Fc", "-d", source, stdout=out)
    with open(dump, "rb") as into:
        _run(BIN / "pg_restore", "--clean", "--if-exists", "--no-owner", "-d", target, stdin=into)

    conn = await connect(target)
    try:
        assert await migrate(conn) == []  # the schema came back whole
    finally:
        await conn.close()
    async with AsyncTestClient(app=create_app(database_url=target)) as api:
        got = await api.get(created.headers["location"])
        assert got.status_code == 200 and got.json() == created.json()
