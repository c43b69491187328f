"""`costsvc embedded-stop` (`make stop-db`) stops the embedded PostgreSQL from a fresh
shell, after the process that started it has ended or while it still runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg

COSTSVC = str(Path(sys.executable).parent / "costsvc")


def _running(data_dir: Path) -> bool:
    return (data_dir / "pg" / "postmaster.pid").exists()


async def test_embedded_stop_stops_a_server_another_process_started(tmp_path):
    # Started by a process that then exits, as `make run` does when it ends.
    start = "from costsvc.db.embedded import start_embedded; import sys; print(start_embedded(sys.argv[1]))"
    url = subprocess.run([sys.executable, "-c", start, str(tmp_path)], capture_output=True, text=True,
                         check=True, timeout=300).stdout.strip().splitlines()[-1]
    assert _running(tmp_path)
    conn = await asyncpg.connect(url)
    await conn.close()
    env = {**os.environ, "COSTSVC_DATA_DIR": str(tmp_path)}
    out = subprocess.run([COSTSVC, "embedded-stop"], env=env, capture_output=True, text=True, check=True,
                         timeout=120).stdout
    assert "stopped" in out and not _running(tmp_path)
    again = subprocess.run([COSTSVC, "embedded-stop"], env=env, capture_output=True, text=True, check=True,
                           timeout=120).stdout
    assert "not running" in again
