"""`costsvc serve` as a newcomer runs it: embedded database and demo data, or DATABASE_URL and none."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

COSTSVC = str(Path(sys.executable).parent / "costsvc")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            return _get(base + "/ready")
        except OSError:
            time.sleep(0.3)
    raise AssertionError("server never became ready")


def _serve(env: dict[str, str], *args: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([COSTSVC, "serve", "--port", str(port), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


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

    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute('DROP DATABASE IF EXISTS "costsvc_serve_empty" WITH (FORCE)')
        await admin.execute('CREATE DATABASE "costsvc_serve_empty"')
    finally:
        await admin.close()
    url = _with_database(server_url, "costsvc_serve_empty")
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
            await admin.execute('DROP DATABASE IF EXISTS "costsvc_serve_empty" WITH (FORCE)')
        finally:
            await admin.close()
