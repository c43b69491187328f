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
import schemathesis
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig

from costsvc.api.app import create_app
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


def test_the_422_allowances_reach_only_the_operations_they_name():
    # Two include-* keys in one [[operations]] entry are OR-ed by schemathesis: an entry
    # with include-path-regex and include-method = "POST" once applied to every POST,
    # allowing 422 everywhere and taking 409 from the import activation.
    app = create_app(database_url="postgresql://unused@127.0.0.1:1/unused")  # nothing connects
    document = app.plugins.get("OpenAPIPlugin").provide_openapi_schema()
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_path(SETTINGS))
    allowed = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        statuses = schema.config.operations.get_for_operation(operation).checks.positive_data_acceptance
        allowed[f"{operation.method.upper()} {operation.path}"] = set(statuses.expected_statuses)
    with_422 = {name for name, statuses in allowed.items() if "422" in statuses}
    assert with_422 == {
        "POST /v1/estimates", "POST /v1/estimates/batch", "POST /v1/estimates/compare",
        "POST /v1/sliding-scale", "POST /v1/payment-plans/quote", "POST /v1/estimates/{estimate_id}/gfe",
        "POST /v1/verifications", "POST /v1/imports",
    }
    assert "409" in allowed["POST /v1/imports/{import_id}/activate"]


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
