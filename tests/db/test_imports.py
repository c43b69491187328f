"""The import pipeline through the CLI and through Python, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import ImportOptions, activate, import_file

HEADER = ("program_id,program_name,npi,tin,state,level_of_care,billing_code,description,frequency,"
          "gross_charge,cash_price,effective_date\n")
SUNRISE = "sunrise-recovery,Sunrise Recovery Center,1645987326,74-2918365,TX"


def fee_file(tmp_path: Path, name: str, h0015_charge: str = "800.00", extra: str = "") -> Path:
    path = tmp_path / name
    path.write_text(
        HEADER
        + f"{SUNRISE},iop,H0015,IOP day,per_service,{h0015_charge},450.00,2026-01-01\n"
        + f"{SUNRISE},iop,90791,Intake,per_episode,350.00,200.00,2026-01-01\n"
        + extra,
        encoding="utf-8",
    )
    return path


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "costsvc.cli", "import", *args], env=env,
                          capture_output=True, text=True, timeout=120)


async def _active_h0015(conn) -> Decimal:
    return await conn.fetchval(
        """SELECT f.gross_charge FROM fee_lines f JOIN current_tariff_versions c
             ON c.scope = 'fee' AND c.version_id = f.version_id AND c.key1 = f.program_id AND c.key2 = f.level_of_care
           WHERE f.program_id = 'sunrise-recovery' AND f.level_of_care = 'iop' AND f.billing_code = 'H0015'"""
    )


async def test_cli_import_noop_and_rejection(db_url, conn, tmp_path):
    good = fee_file(tmp_path, "fees.csv", "800.00")
    first = cli(db_url, "fee_schedule", str(good))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "succeeded" in first.stdout
    assert await _active_h0015(conn) == Decimal("800.00")

    again = cli(db_url, "fee_schedule", str(good))
    assert again.returncode == 0
    assert "no-op" in again.stdout

    bad = fee_file(tmp_path, "bad.csv", "eight hundred")
    rejected = cli(db_url, "fee_schedule", str(bad))
    assert rejected.returncode == 1
    assert "bad.csv:2 [gross_charge]" in rejected.stdout, rejected.stdout
    assert await _active_h0015(conn) == Decimal("800.00")  # untouched
    assert await conn.fetchval("SELECT status FROM imports WHERE source = 'bad.csv'") == "rejected"


async def test_rejected_file_leaves_no_rows_behind(db_url, conn, tmp_path):
    before = await conn.fetchval("SELECT count(*) FROM fee_lines")
    versions = await conn.fetchval("SELECT count(*) FROM tariff_versions")
    bad = fee_file(tmp_path, "dupes.csv", extra=f"{SUNRISE},iop,H0015,IOP day,per_service,800.00,450.00,2026-01-01\n")
    outcome = await import_file(conn, "fee_schedule", bad, loaders=LOADERS)
    assert outcome.status == "rejected"
    assert outcome.errors and outcome.errors[0].line == 4 and "duplicate" in outcome.errors[0].message
    assert await conn.fetchval("SELECT count(*) FROM fee_lines") == before
    assert await conn.fetchval("SELECT count(*) FROM tariff_versions") == versions


async def test_allow_partial_imports_the_good_rows(db_url, conn, tmp_path):
    path = fee_file(tmp_path, "partial.csv", "810.00",
                    extra=f"{SUNRISE},php,H0035,PHP day,per_service,-5,1.00,2026-01-01\n")
    outcome = await import_file(conn, "fee_schedule", path, options=ImportOptions(allow_partial=True), loaders=LOADERS)
    assert outcome.status == "succeeded"
    assert (outcome.rows_read, outcome.rows_accepted, outcome.rows_rejected) == (3, 2, 1)
    assert outcome.errors[0].line == 4 and outcome.errors[0].column == "gross_charge"
    assert await _active_h0015(conn) == Decimal("810.00")


async def test_unknown_program_in_rates_is_a_row_error(db_url, conn, tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text(
        "payer_id,program_id,npi,tin,billing_code,rate_type,rate,effective_date,expiration_date\n"
        "acme,sunrise-recovery,,,H0015,dollar,500.00,2026-01-01,\n"
        "acme,,1992753880,,H0015,dollar,500.00,2026-01-01,\n"
    )
    outcome = await import_file(conn, "negotiated_rates", path, loaders=LOADERS)
    assert outcome.status == "rejected"
    assert [(e.line, e.column) for e in outcome.errors] == [(3, "npi")]


async def test_api_sees_new_version_and_rollback(client, conn, tmp_path):
    """Activation NOTIFYs every API process; the catalog reloads without a restart."""
    body = {"program_id": "sunrise-recovery", "level_of_care": "iop",
            "episode": {"start_date": "2026-03-02", "weeks": 1, "days_per_week": 1}}

    async def billed() -> str:
        r = await client.post("/v1/estimates", json=body)
        assert r.status_code == 201, r.text
        return r.json()["totals"]["billed"]

    async def wait_for(expected: str) -> None:
        for _ in range(100):
            if await billed() == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"billed never became {expected}")

    assert await billed() == "1100.00"  # demo: 750 + intake 350
    demo_version = await conn.fetchval(
        "SELECT version_id FROM current_tariff_versions WHERE scope = 'fee' AND key1 = 'sunrise-recovery' AND key2 = 'iop'"
    )
    new = await import_file(conn, "fee_schedule", fee_file(tmp_path, "new.csv", "900.00"), loaders=LOADERS)
    assert new.status == "succeeded"
    await wait_for("1250.00")

    assert await activate(conn, demo_version)  # roll back
    await wait_for("1100.00")
    assert await activate(conn, new.version_id)  # and forward again
    await wait_for("1250.00")


async def test_coverage_table_import_replaces_a_plan(client, conn, tmp_path):
    demo = Path(__file__).resolve().parents[2] / "costsvc" / "demo" / "data" / "coverage_table.csv"
    lines = demo.read_text().splitlines()
    header, rows = lines[0], [ln for ln in lines[1:] if ",acme-ppo-gold," in ln]
    # Raise the in-network individual deductible of the PPO from 1500.00 to 2500.00.
    changed = [r.replace(",1500.00,3000.00,", ",2500.00,5000.00,") for r in rows]
    path = tmp_path / "ppo.csv"
    path.write_text("\n".join([header, *changed]) + "\n")
    outcome = await import_file(conn, "coverage_table", path, loaders=LOADERS)
    assert outcome.status == "succeeded", outcome.errors
    for _ in range(100):
        plans = (await client.get("/v1/payers/acme/plans")).json()["plans"]
        ppo = next(p for p in plans if p["plan_id"] == "acme-ppo-gold")
        if ppo["benefits"]["in_network"]["deductible"]["individual"] == "2500.00":
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the new coverage version never became visible")
    # The other plans of the payer are untouched by a file that does not carry them.
    assert {p["plan_id"] for p in plans} == {"acme-ppo-gold", "acme-hmo-silver"}


async def test_catalog_listener_survives_a_lost_connection(client, conn, tmp_path):
    """The LISTEN connection dies (PostgreSQL restart, network): the API reconnects and
    picks up what was activated meanwhile."""
    body = {"program_id": "sunrise-recovery", "level_of_care": "iop",
            "episode": {"start_date": "2026-03-02", "weeks": 1, "days_per_week": 1}}
    killed = await conn.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
    )
    assert killed >= 1
    outcome = await import_file(conn, "fee_schedule", fee_file(tmp_path, "after-loss.csv", "950.00"), loaders=LOADERS)
    assert outcome.status == "succeeded"
    for _ in range(200):  # reconnect delay is 2 s
        r = await client.post("/v1/estimates", json=body)
        if r.json()["totals"]["billed"] == "1300.00":  # 950 + intake 350
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the new version never reached the API after its listener was cut")
