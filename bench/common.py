"""Helpers shared by the benchmarks (run as scripts from the repository root)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from tariffs.tabular.fields import npi_check_digit

__all__ = ["database_url", "drop_database", "load_demo_catalog", "migrate_and_seed", "npi_check_digit",
           "recreate_database", "seeded_database_url", "timed"]

TIME = "/usr/bin/time"


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` pointing at database ``name`` instead."""
    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


async def recreate_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def seeded_database_url() -> str | None:
    """``DATABASE_URL``, which the in-process benches need seeded with the demo data; None
    (and why, on stderr) when it is unset."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("set DATABASE_URL to a database seeded with the demo data (costsvc seed-demo)", file=sys.stderr)
    return url


async def load_demo_catalog(url: str):
    """The tariff catalog of the database at ``url``, as the service loads it."""
    from costsvc.catalog import load_catalog

    conn = await asyncpg.connect(url)
    try:
        return await load_catalog(conn)
    finally:
        await conn.close()


async def migrate_and_seed(url: str) -> None:
    """Migrate the (empty) database at ``url`` and load the demo dataset into it."""
    from costsvc.db.migrate import migrate_url
    from costsvc.demo import seed_demo

    await migrate_url(url)
    await seed_demo(url, force=True)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Run ``cmd`` in a fresh process under /usr/bin/time: wall seconds, peak RSS, output."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run([TIME, "-o", tf.name, "-f", "%e %M %x", *cmd], capture_output=True, text=True,
                              env=env, check=False)
        wall = time.perf_counter() - t0
        fields = tf.read().strip().splitlines()[-1].split()
    return {
        "wall_seconds": round(wall, 2),
        "peak_rss_mb": round(int(fields[1]) / 1024, 1),  # %M is KiB
        "exit_code": proc.returncode,
        "stdout": proc.stdout,
        "stderr": proc.stderr[-4000:],
        "load_1min_before": round(load_before, 2),
        "load_1min_after": round(os.getloadavg()[0], 2),
    }
