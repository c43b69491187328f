"""API fuzzing: schemathesis generates requests from our own OpenAPI document and
checks that none of them makes the server fail (no 5xx), against a real server on a
real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.server import _serve, _stop, _wait_ready

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


def test_no_generated_request_makes_the_server_fail(db_url):
    env = {**os.environ, "DATABASE_URL": db_url, "COSTSVC_SEED_DEMO": "false", "COSTSVC_LOG_LEVEL": "WARNING"}
    env.pop("COSTSVC_EMBEDDED_URL", None)
    proc, base = _serve(env)
    try:
        _wait_ready(base, proc)
        run = subprocess.run(
            [SCHEMATHESIS, "run", f"{base}/schema/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", "25", "--seed", "20261127", "--request-timeout", "10"],
            capture_output=True, text=True, timeout=600,
        )
        assert run.returncode == 0, run.stdout[-4000:]
        assert " passed" in run.stdout
    finally:
        _stop(proc)
