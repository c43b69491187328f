"""The OpenAPI document, validated, and the server held to it.

schemathesis generates requests from our own document (valid and invalid ones) and
runs every check it has against a real server on a real PostgreSQL: no 5xx, every
status and content type documented, every response valid against its schema,
schema-violating requests rejected, schema-valid ones accepted (settings and the
one exception in tests/api/schemathesis.toml), unsupported methods 405.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import asyncpg
from openapi_spec_validator import validate

from costsvc.auth import create_api_key
from costsvc.phi import generate_key
from tests.server import _get, _serve, _stop, _wait_ready

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
SETTINGS = Path(__file__).with_name("schemathesis.toml")
#: Examples per operation and phase: the whole run stays well under a minute on two cores.
MAX_EXAMPLES = "15"


async def _admin_key(db_url: str) -> str:
    conn = await asyncpg.connect(db_url)
    try:
        return (await create_api_key(conn, role="admin", name="schemathesis")).key
    finally:
        await conn.close()


async def test_openapi_is_valid_and_the_server_conforms_to_it(db_url, tmp_path):
    # An admin key, so that the staff and admin routes are exercised past their guards,
    # and a PHI key, so that verifications and GFEs can be stored.
    key = await _admin_key(db_url)
    env = {**os.environ, "DATABASE_URL": db_url, "COSTSVC_SEED_DEMO": "false", "COSTSVC_LOG_LEVEL": "WARNING",
           "COSTSVC_PHI_KEY": generate_key(), "COSTSVC_DATA_DIR": str(tmp_path / "data"),
           "COSTSVC_IMPORT_ROOT": str(tmp_path),
           "COSTSVC_RATE_LIMIT_PER_MINUTE": "0"}  # one fast client: the limit is tested in test_edge_http.py
    env.pop("COSTSVC_EMBEDDED_URL", None)
    proc, base = _serve(env)
    try:
        _wait_ready(base, proc)
        validate(_get(f"{base}/schema/openapi.json"))  # raises on any violation of OpenAPI 3.1
        run = await asyncio.to_thread(
            subprocess.run,
            [SCHEMATHESIS, "--config-file", str(SETTINGS), "run", f"{base}/schema/openapi.json",
             "--checks", "all", "--max-examples", MAX_EXAMPLES, "--seed", "20261127",
             "--request-timeout", "10", "-H", f"Authorization: Bearer {key}"],
            capture_output=True, text=True, timeout=600,
        )
        Path(os.environ.get("FUZZ_REPORT", "/dev/null")).write_text(run.stdout)
        assert run.returncode == 0, run.stdout[-6000:]
        # Every generated case passed every check.  (schemathesis may warn that POST
        # /v1/estimates refuses much generated data: the pricing rules the schema
        # cannot say, see tests/api/schemathesis.toml.)
        summary = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
        assert summary and summary[1] == summary[2] and int(summary[1]) > 500, run.stdout[-3000:]
    finally:
        _stop(proc)
