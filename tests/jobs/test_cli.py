"""The job-related commands as an operator types them (real processes, real PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from costsvc.auth import authenticate
from costsvc.db.pool import create_pool
from tests.jobs.support import ROOT, fee_schedule


def _costsvc(db_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTSVC_", "CELERY_"))}
    full_env.update(DATABASE_URL=db_url, **env)
    return subprocess.run(
        [sys.executable, "-m", "costsvc.cli", *args],
        env=full_env,
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_apikey_create_prints_the_key_last_and_revoke_stops_it(db_url):
    made = _costsvc(db_url, "apikey", "create", "--role", "staff", "--name", "front desk")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("csk_") and len(key) > 40
    pool = await create_pool(db_url, min_size=1, max_size=1)
    try:
        principal = await authenticate(pool, key)
        assert principal is not None and (principal.role, principal.name) == ("staff", "front desk")
        async with pool.acquire() as conn:
            stored = await conn.fetchval("SELECT key_hash FROM api_keys WHERE key_id = $1", principal.key_id)
        assert key not in stored and len(stored) == 64  # only the hash is stored

        listed = _costsvc(db_url, "apikey", "list")
        assert "front desk" in listed.stdout and key not in listed.stdout
        revoked = _costsvc(db_url, "apikey", "revoke", key[:12])
        assert revoked.returncode == 0, revoked.stderr
        assert await authenticate(pool, key) is None
    finally:
        await pool.close()
    bad_role = _costsvc(db_url, "apikey", "create", "--role", "root", "--name", "x")
    assert bad_role.returncode == 2


def test_import_command_exit_codes(db_url, tmp_path: Path):
    good = fee_schedule(tmp_path / "fees.csv", "cli-program", rows=2)
    first = _costsvc(db_url, "import", "fee_schedule", str(good))
    assert first.returncode == 0 and "succeeded" in first.stdout, first.stdout + first.stderr
    again = _costsvc(db_url, "import", "fee_schedule", str(good))
    assert again.returncode == 0 and "no-op" in again.stdout, again.stdout + again.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "program_id,program_name,state,level_of_care,billing_code,frequency,gross_charge,effective_date\n"
        "x,X,TX,iop,H0015,per_service,abc,2026-01-01\n"
    )
    rejected = _costsvc(db_url, "import", "fee_schedule", str(bad))
    assert rejected.returncode == 1 and "bad.csv:2 [gross_charge]" in rejected.stdout, rejected.stdout


def test_worker_without_a_broker_says_so(db_url):
    result = _costsvc(db_url, "worker")
    assert result.returncode == 2 and "CELERY_BROKER_URL" in result.stderr
