"""Coverage tables may carry medsurg_* comparison rows: stored, never priced, and the
source of parity flags on stored plans and on verifications."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from costsvc.db.pool import connect
from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import import_file
from tariffs.csv_files import parse_coverage_table
from tests.verification.test_verification_http import BODY, record

DEMO = Path(__file__).resolve().parents[2] / "costsvc" / "demo" / "data" / "coverage_table.csv"
PPO = "acme,Acme Health,acme-ppo-gold,Acme PPO Gold,PPO,01-01"
MEDSURG = [
    f"{PPO},in_network,medsurg_outpatient,true,20.00,per_visit,false,0,,false,1500.00,3000.00,6000.00,12000.00,,,false,2026-01-01",
    f"{PPO},in_network,medsurg_inpatient,true,0.00,per_day,true,20,,true,1500.00,3000.00,6000.00,12000.00,,,false,2026-01-01",
]


def ppo_table(tmp_path: Path, extra: list[str]) -> Path:
    lines = DEMO.read_text().splitlines()
    rows = [ln for ln in lines[1:] if ",acme-ppo-gold," in ln]
    path = tmp_path / "ppo.csv"
    path.write_text("\n".join([lines[0], *rows, *extra]) + "\n")
    return path


def test_the_parser_accepts_medsurg_rows_and_nothing_else_new(tmp_path):
    parsed = parse_coverage_table(ppo_table(tmp_path, MEDSURG))
    assert not parsed.errors
    assert {r.level_of_care for r in parsed.records} >= {"medsurg_inpatient", "medsurg_outpatient"}
    bad = parse_coverage_table(ppo_table(tmp_path, [MEDSURG[0].replace("medsurg_outpatient", "medsurg_dental")]))
    assert [e.column for e in bad.errors] == ["level_of_care"]


async def _wait_for_flags(client) -> dict:
    for _ in range(100):
        plans = (await client.get("/v1/payers/acme/plans")).json()["plans"]
        ppo = next(p for p in plans if p["plan_id"] == "acme-ppo-gold")
        if ppo["parity_flags"]:
            return ppo
        await asyncio.sleep(0.05)
    raise AssertionError("the coverage table with medsurg rows never became visible")


async def test_medsurg_rows_flag_the_plan_and_are_never_priced(staffed, tmp_path):
    conn: asyncpg.Connection = await connect(staffed.db_url)
    try:
        outcome = await import_file(conn, "coverage_table", ppo_table(tmp_path, MEDSURG), loaders=LOADERS)
    finally:
        await conn.close()
    assert outcome.status == "succeeded", outcome.errors
    ppo = await _wait_for_flags(staffed.client)
    flags = {(f["classification"], f["level"], f["field"], f["behavioral"], f["medical"]) for f in ppo["parity_flags"]}
    assert flags == {
        ("outpatient, in network", "php", "deductible_applies", "true", "false"),
        ("outpatient, in network", "php", "coinsurance_pct", "20", "0"),
        ("outpatient, in network", "php", "prior_auth", "true", "false"),
        ("outpatient, in network", "iop", "deductible_applies", "true", "false"),
        ("outpatient, in network", "iop", "coinsurance_pct", "20", "0"),
        ("outpatient, in network", "iop", "prior_auth", "true", "false"),
        ("outpatient, in network", "outpatient", "copay", "30.00", "20.00"),
    }
    assert set(ppo["benefits"]["in_network"]["levels"]) == {"detox", "residential", "php", "iop", "outpatient"}
    levels = (await staffed.client.get("/v1/levels-of-care")).json()["levels_of_care"]
    assert not any("medsurg" in str(level) for level in levels)
    r = await staffed.client.post("/v1/estimates", json={"program_id": "sunrise-recovery", "level_of_care": "iop",
                                                         "coverage": {"plan_id": "acme-ppo-gold"}})
    assert r.status_code == 201 and "medsurg" not in r.text

    # a verification is flagged against its effective benefits
    v = await record(staffed, {**BODY, "benefits": {"in_network": {"levels": {
        "iop": {"copay": "35", "coinsurance_pct": "0", "deductible_applies": False, "prior_auth": False}}}}})
    got = {(f["level"], f["field"]) for f in v["parity_flags"] if f["level"] == "iop"}
    assert got == {("iop", "copay")}
    assert all("not a legal finding" in f["note"].lower() for f in v["parity_flags"])
