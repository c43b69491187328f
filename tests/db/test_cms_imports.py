"""CMS payer and hospital files through the import pipeline, against a real PostgreSQL.

Uses the CMS samples copied into tests/fixtures/cms (see its SOURCES.md) and small
files generated here with behavioral-health codes."""

from __future__ import annotations

import asyncio
import gzip
import shutil
from decimal import Decimal
from pathlib import Path

from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import ImportOptions, import_file

CMS = Path(__file__).resolve().parents[1] / "fixtures" / "cms"
TIC = CMS / "tic-in-network-rates"
HPT = CMS / "hpt-standard-charges"


async def _ortho_program(conn, tmp_path: Path) -> None:
    """A program billing CPT 27447/27448 under TIN 11-1111111, which the CMS TiC samples name."""
    path = tmp_path / "ortho-fees.csv"
    path.write_text(
        "program_id,program_name,tin,state,level_of_care,billing_code,frequency,gross_charge,effective_date\n"
        "ortho-test,Ortho Test,11-1111111,CA,outpatient,27447,per_service,20000.00,2022-01-01\n"
        "ortho-test,Ortho Test,11-1111111,CA,outpatient,27448,per_service,15000.00,2022-01-01\n"
    )
    outcome = await import_file(conn, "fee_schedule", path, loaders=LOADERS)
    assert outcome.status == "succeeded", outcome.errors


async def test_tic_sample_becomes_negotiated_rates(conn, tmp_path):
    await _ortho_program(conn, tmp_path)
    sample = TIC / "in-network-rates-fee-for-service-single-plan-sample.json"
    outcome = await import_file(conn, "tic_in_network", sample, options=ImportOptions(payer_id="acme"), loaders=LOADERS)
    assert outcome.status == "succeeded", (outcome.message, outcome.errors)
    rows = await conn.fetch(
        "SELECT billing_code, rate_type, rate, effective_date, expiration_date FROM negotiated_rates "
        "WHERE version_id = $1 ORDER BY billing_code, rate", outcome.version_id,
    )
    # Read by hand from the sample: 27447 at 120.45, 123.45 and 1230.45; 27448 at 12.45 and 12003.45,
    # all "negotiated" (dollar) prices of provider group 1, which carries TIN 11-1111111.
    assert [(r["billing_code"], r["rate"]) for r in rows] == [
        ("27447", Decimal("120.450")), ("27447", Decimal("123.450")), ("27447", Decimal("1230.450")),
        ("27448", Decimal("12.450")), ("27448", Decimal("12003.450")),
    ]
    assert {r["rate_type"] for r in rows} == {"dollar"}
    assert {str(r["expiration_date"]) for r in rows} == {"2022-01-01"}
    plans = await conn.fetch("SELECT plan_name FROM payer_file_plans WHERE version_id = $1", outcome.version_id)
    assert len(plans) == 1
    # The same file again is a no-op that reports the earlier import.
    again = await import_file(conn, "tic_in_network", sample, options=ImportOptions(payer_id="acme"), loaders=LOADERS)
    assert again.deduplicated and again.import_id == outcome.import_id


async def test_tic_gzip_and_truncated(conn, tmp_path):
    await _ortho_program(conn, tmp_path)
    sample = TIC / "in-network-rates-fee-for-service-single-plan-sample.json"
    gz = tmp_path / "rates.json.gz"
    with open(sample, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    ok = await import_file(conn, "tic_in_network", gz, options=ImportOptions(payer_id="acme"), loaders=LOADERS)
    assert ok.status == "succeeded" and ok.rows_accepted == 5

    versions_before = await conn.fetchval("SELECT count(*) FROM tariff_versions")
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(sample.read_bytes()[:2500])
    bad = await import_file(conn, "tic_in_network", truncated, options=ImportOptions(payer_id="bluepeak"), loaders=LOADERS)
    assert bad.status == "rejected"
    assert any("byte" in e.message or "position" in e.message or "offset" in e.message for e in bad.errors), bad.errors
    not_gzip = tmp_path / "plain.json.gz"
    not_gzip.write_bytes(b"this is not gzip at all")
    bad_gz = await import_file(conn, "tic_in_network", not_gzip, options=ImportOptions(payer_id="bluepeak"), loaders=LOADERS)
    assert bad_gz.status == "rejected" and "gzip" in bad_gz.message.lower()
    assert await conn.fetchval("SELECT count(*) FROM tariff_versions") == versions_before
    assert await conn.fetchval("SELECT count(*) FROM negotiated_rates WHERE payer_id = 'bluepeak' "
                               "AND program_id = 'ortho-test'") == 0


async def test_tic_needs_a_known_payer(conn):
    sample = TIC / "in-network-rates-fee-for-service-single-plan-sample.json"
    outcome = await import_file(conn, "tic_in_network", sample, options=ImportOptions(payer_id="nobody"), loaders=LOADERS)
    assert outcome.status == "rejected" and "unknown payer" in outcome.message


async def test_allowed_amounts_become_reference_rates(client, conn):
    sample = CMS / "tic-allowed-amounts" / "allowed-amounts-single-plan-sample.json"
    outcome = await import_file(conn, "tic_allowed_amounts", sample, options=ImportOptions(payer_id="acme"), loaders=LOADERS)
    assert outcome.status == "succeeded", outcome.errors
    rows = await conn.fetch("SELECT billing_code, amount FROM reference_rates WHERE version_id = $1",
                            outcome.version_id)
    # The sample pays 99214 once, an allowed amount of 25.00: the median is 25.00.
    assert [(r["billing_code"], r["amount"]) for r in rows] == [("99214", Decimal("25.00"))]


async def test_reference_rates_csv_drive_percent_of_reference(client, conn, tmp_path):
    path = tmp_path / "reference.csv"
    path.write_text("payer_id,billing_code,amount\nacme,H0015,400.00\nacme,90791,200.00\n")
    outcome = await import_file(conn, "reference_rates", path, loaders=LOADERS)
    assert outcome.status == "succeeded", outcome.errors
    benefits = {"payer_id": "acme", "out_of_network": {
        "allowed": {"method": "percent_of_reference", "percent": "150"},
        "levels": {"iop": {"covered": True, "deductible_applies": False, "coinsurance_pct": "0"}}}}
    body = {"program_id": "harborview-behavioral-health", "level_of_care": "iop",
            "coverage": {"benefits": benefits, "network": "out_of_network"},
            "episode": {"start_date": "2026-03-02", "weeks": 1, "days_per_week": 1}}
    for _ in range(100):  # until the API process has reloaded its catalog (NOTIFY)
        e = (await client.post("/v1/estimates", json=body)).json()
        if {ln["billing_code"]: ln for ln in e["lines"]}["90791"]["allowed"] != "395.00":
            break
        await asyncio.sleep(0.05)
    # Harborview bills S9480 (825.00, no reference rate: 150 % of billed, capped at billed = 825.00)
    # and 90791 (395.00; reference 200.00 x 150 % = 300.00).
    lines = {ln["billing_code"]: ln for ln in e["lines"]}
    assert lines["90791"]["allowed"] == "300.00"
    assert lines["S9480"]["allowed"] == "825.00"
    assert "no_reference_rate" in {n["code"] for n in e["notices"]}


def _hpt_file(tmp_path: Path) -> Path:
    """A v3 tall HPT CSV (the CMS example's general data rows and header) with IOP/PHP charges."""
    sample_lines = (HPT / "V3.0.0_Tall_CSV_Format_Example.csv").read_text(encoding="utf-8").splitlines()
    columns = sample_lines[2].split(",")
    rows = []
    for code, desc, gross, cash, payer, plan, dollar, pct in [
        ("0906", "IOP per day", "700", "420", "Acme Health", "PPO", "510", ""),
        ("0906", "IOP per day", "700", "420", "BluePeak Insurance", "EPO", "", "70"),
        ("90791", "Intake", "300", "180", "Acme Health", "PPO", "210", ""),
        ("H0015", "Not billed by this program", "650", "400", "Acme Health", "PPO", "450", ""),
    ]:
        cells = dict.fromkeys(columns, "")
        cells.update({"description": desc, "code | 1": code, "code | 1 | type": {"H": "HCPCS", "0": "RC"}.get(code[0], "CPT"),
                      "setting": "outpatient", "standard_charge | gross": gross,
                      "standard_charge | discounted_cash": cash, "payer_name": payer, "plan_name": plan,
                      "standard_charge | negotiated_dollar": dollar,
                      "standard_charge | negotiated_percentage": pct,
                      "standard_charge | methodology": "fee schedule" if dollar else "percent of total billed charges"})
        rows.append(",".join(cells[c] for c in columns))
    path = tmp_path / "hospital_standardcharges.csv"
    path.write_text("\n".join(sample_lines[:3] + rows) + "\n", encoding="utf-8")
    return path


async def test_hpt_yields_fee_schedule_and_rates(client, conn, tmp_path):
    outcome = await import_file(conn, "hpt_standard_charges", _hpt_file(tmp_path),
                                options=ImportOptions(program_id="lakeside-medical-bh"), loaders=LOADERS)
    assert outcome.status == "succeeded", (outcome.message, outcome.errors)
    fees = await conn.fetch("SELECT level_of_care, billing_code, frequency, gross_charge, cash_price FROM fee_lines "
                            "WHERE version_id = $1 ORDER BY billing_code", outcome.version_id)
    # Lakeside bills REV:0906 per IOP day and 90791 once per IOP and per PHP episode. The file
    # prices REV:0906 and 90791: IOP gets a new schedule; PHP keeps its own (the file has no PHP
    # per-diem), and H0015, which Lakeside does not bill, is not kept.
    assert [tuple(r) for r in fees] == [
        ("iop", "90791", "per_episode", Decimal("300.00"), Decimal("180.00")),
        ("iop", "REV:0906", "per_service", Decimal("700.00"), Decimal("420.00")),
    ]
    rates = await conn.fetch("SELECT payer_id, billing_code, rate_type, rate FROM negotiated_rates "
                             "WHERE version_id = $1 ORDER BY payer_id, billing_code", outcome.version_id)
    assert [tuple(r) for r in rates] == [
        ("acme", "90791", "dollar", Decimal("210.000")), ("acme", "REV:0906", "dollar", Decimal("510.000")),
        ("bluepeak", "REV:0906", "percent_of_billed", Decimal("70.000")),
    ]
    # An IOP estimate now prices from the hospital file; PHP still from the program's schedule.
    body = {"program_id": "lakeside-medical-bh", "level_of_care": "iop",
            "episode": {"start_date": "2026-03-02", "weeks": 1, "days_per_week": 1}}
    for _ in range(100):
        e = (await client.post("/v1/estimates", json=body)).json()
        if e["totals"]["billed"] == "1000.00":  # 700 + 300
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(e["totals"])
    php = (await client.post("/v1/estimates", json={**body, "level_of_care": "php"})).json()
    assert php["totals"]["billed"] == "2355.00"  # demo: REV:0913 1875 + 90791 480


async def test_hpt_cms_sample_adds_the_level_the_program_lacks(conn):
    # Lakeside prices IOP and PHP (REV:0906, REV:0913, 90791); the CMS example prices
    # H0017, residential, which Lakeside does not offer yet: it becomes a residential
    # fee line (the first H0017 row), the example's other codes are not behavioral.
    outcome = await import_file(conn, "hpt_standard_charges", HPT / "V3.0.0_Tall_CSV_Format_Example.csv",
                                options=ImportOptions(program_id="lakeside-medical-bh"), loaders=LOADERS)
    assert outcome.status == "succeeded", (outcome.message, outcome.errors)
    fees = await conn.fetch("SELECT level_of_care, billing_code, frequency, gross_charge, cash_price FROM fee_lines "
                            "WHERE version_id = $1", outcome.version_id)
    assert [tuple(r) for r in fees] == [("residential", "H0017", "per_service", Decimal("2500.00"),
                                         Decimal("2250.00"))]


async def test_hpt_file_without_behavioral_codes_says_which_codes_it_had(conn, tmp_path):
    lines = (HPT / "V3.0.0_Tall_CSV_Format_Example.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    path = tmp_path / "no-behavioral.csv"
    path.write_text("".join(ln for ln in lines if "H0017" not in ln), encoding="utf-8")
    versions = await conn.fetchval("SELECT count(*) FROM tariff_versions")
    outcome = await import_file(conn, "hpt_standard_charges", path,
                                options=ImportOptions(program_id="lakeside-medical-bh"), loaders=LOADERS)
    assert outcome.status == "rejected"
    assert "no importable rows" in outcome.message
    # what the file had (a bounded sample and the count) and what was looked for
    assert "24 distinct code(s)" in outcome.message and "70551 (CPT)" in outcome.message
    assert "and 12 more" in outcome.message
    assert "REV:0906" in outcome.message and "H0017" in outcome.message
    assert await conn.fetchval("SELECT count(*) FROM tariff_versions") == versions


async def test_a_corrected_payer_mapping_imports_the_same_file_again(conn, tmp_path):
    """The dedupe key covers payer_names: a new mapping changes what is staged, so the
    same file is imported again (not a silent no-op pointing at the first import)."""
    path = _hpt_file(tmp_path)
    first = await import_file(conn, "hpt_standard_charges", path, loaders=LOADERS,
                              options=ImportOptions(program_id="lakeside-medical-bh"))
    again = await import_file(conn, "hpt_standard_charges", path, loaders=LOADERS,
                              options=ImportOptions(program_id="lakeside-medical-bh"))
    assert first.status == "succeeded" and again.deduplicated and again.import_id == first.import_id
    corrected = await import_file(
        conn, "hpt_standard_charges", path, loaders=LOADERS,
        options=ImportOptions(program_id="lakeside-medical-bh", payer_names={"bluepeak insurance": "evergreen"}),
    )
    assert corrected.status == "succeeded" and not corrected.deduplicated
    assert corrected.import_id != first.import_id
    payers = await conn.fetch("SELECT DISTINCT payer_id FROM negotiated_rates WHERE version_id = $1 ORDER BY 1",
                              corrected.version_id)
    assert [r["payer_id"] for r in payers] == ["acme", "evergreen"]
