"""`costsvc serve` as a newcomer runs it: embedded database and demo data, or DATABASE_URL and none."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest

from tests.server import COSTSVC, _get, _serve, _stop, _wait_ready


@pytest.fixture
def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "COSTSVC_EMBEDDED_URL", "COSTSVC_SEED_DEMO", "CELERY_BROKER_URL"}}
    env["COSTSVC_LOG_LEVEL"] = "WARNING"
    return env


def test_embedded_default_serves_the_demo(tmp_path, clean_env):
    data_dir = tmp_path / "data"
    env = {**clean_env, "COSTSVC_DATA_DIR": str(data_dir)}
    proc, base = _serve(env, "--workers", "2")
    try:
        ready = _wait_ready(base, proc)
        assert ready["programs"] >= 4 and ready["plans"] >= 5
        payers = _get(base + "/v1/payers")["payers"]
        assert len(payers) == 3
        assert (data_dir / "pg" / "PG_VERSION").exists()  # the data lives in the local folder
    finally:
        _stop(proc)
        subprocess.run([COSTSVC, "embedded-stop"], env=env, timeout=60, check=False)


async def test_database_url_is_not_seeded(server_url, databases, clean_env):
    import asyncpg

    from tests.conftest import _with_database

    name = f"costsvc_serve_empty_{uuid.uuid4().hex[:8]}"  # its own: suites may share the server
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(server_url, name)
    env = {**clean_env, "DATABASE_URL": url}
    proc, base = _serve(env)
    try:
        ready = _wait_ready(base, proc)
        assert ready["programs"] == 0  # migrated, not seeded
        seeded = subprocess.run([COSTSVC, "seed-demo"], env=env, capture_output=True, text=True, timeout=120)
        assert seeded.returncode == 0, seeded.stderr
        for _ in range(100):  # the running server picks the new tariffs up through NOTIFY
            if _get(base + "/ready")["programs"] >= 4:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("seeded programs never reached the running server")
    finally:
        _stop(proc)
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
