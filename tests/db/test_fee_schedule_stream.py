"""A fee schedule staged chunk by chunk (costsvc.staging.loaders.FeeScheduleLoader), against a
real PostgreSQL: with two rows per chunk, every program, key and error spans chunks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import ImportOptions, import_file
from tariffs.tabular import reader as tabular

HEADER = ("program_id,program_name,npi,tin,state,level_of_care,billing_code,description,frequency,"
          "gross_charge,cash_price,effective_date\n")


@pytest.fixture(autouse=True)
def two_rows_per_chunk(monkeypatch):
    monkeypatch.setattr(tabular, "CHUNK_ROWS", 2)


def write(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def rows_for(pid: str, name: str, npi: str = "", tin: str = "", *, charge: str = "700.00") -> list[str]:
    """Five lines of one program, two levels, spread over three chunks."""
    lead = f"{pid},{name},{npi},{tin},TX"
    return [
        f"{lead},iop,H0015,IOP day,per_service,{charge},400.00,2026-01-01",
        f"{lead},iop,90791,Intake,per_episode,350.00,,2026-01-01",
        f"{lead},iop,S9480,IOP psych day,per_service,825.00,500.00,2026-01-01",
        f"{lead},php,H0035,PHP day,per_service,1450.00,900.00,2026-01-01",
        f"{lead},php,REV:0913,PHP intensive,per_service,1875.00,,2026-01-01",
    ]


async def test_programs_keys_and_lines_spanning_chunks(conn, tmp_path):
    # the NPI and TIN first appear on later rows (later chunks): the program is completed
    rows = rows_for("stream-a", "Stream A")
    rows[3] = rows[3].replace("Stream A,,,TX", "Stream A,1645987326,,TX")
    rows[4] = rows[4].replace("Stream A,,,TX", "Stream A,,74-2918365,TX")
    rows += rows_for("stream-b", "Stream B", "1234567893", "12-3456789")
    outcome = await import_file(conn, "fee_schedule", write(tmp_path, "stream.csv", rows), loaders=LOADERS)
    assert outcome.status == "succeeded", outcome
    assert (outcome.rows_read, outcome.rows_accepted, outcome.rows_rejected) == (10, 10, 0)
    v = outcome.version_id
    stored = await conn.fetch(
        "SELECT program_id, level_of_care, billing_code, description, gross_charge, cash_price, line "
        "FROM fee_lines WHERE version_id = $1 ORDER BY line", v)
    assert [r["line"] for r in stored] == list(range(2, 12))
    assert (stored[4]["billing_code"], stored[4]["gross_charge"], stored[4]["cash_price"]) == (
        "REV:0913", Decimal("1875.00"), None)
    keys = await conn.fetch(
        "SELECT key1, key2 FROM tariff_version_keys WHERE version_id = $1 AND scope = 'fee' ORDER BY 1, 2", v)
    assert [tuple(k) for k in keys] == [("stream-a", "iop"), ("stream-a", "php"), ("stream-b", "iop"),
                                        ("stream-b", "php")]
    programs = await conn.fetch(
        "SELECT program_id, name, state, npi, tin FROM programs WHERE program_id LIKE 'stream-%' ORDER BY 1")
    assert [tuple(p) for p in programs] == [
        ("stream-a", "Stream A", "TX", "1645987326", "742918365"),
        ("stream-b", "Stream B", "TX", "1234567893", "123456789"),
    ]


async def test_an_error_in_a_late_chunk_rejects_everything_staged_before(conn, tmp_path):
    before = await conn.fetchval("SELECT count(*) FROM fee_lines")
    versions = await conn.fetchval("SELECT count(*) FROM tariff_versions")
    rows = rows_for("stream-c", "Stream C") + rows_for("stream-d", "Stream D")
    rows[7] = rows[7].replace("825.00", "8.255")  # line 9: the fifth chunk
    rows[9] = rows[9].replace("Stream D", "Stream Dee")  # line 11: after the first error
    outcome = await import_file(conn, "fee_schedule", write(tmp_path, "late-error.csv", rows), loaders=LOADERS)
    assert outcome.status == "rejected"
    assert [(e.line, e.column) for e in outcome.errors] == [(9, "gross_charge"), (11, "program_name")]
    assert await conn.fetchval("SELECT count(*) FROM fee_lines") == before
    assert await conn.fetchval("SELECT count(*) FROM tariff_versions") == versions
    assert await conn.fetchval("SELECT count(*) FROM programs WHERE program_id IN ('stream-c', 'stream-d')") == 0


async def test_a_malformed_row_in_a_late_chunk_rejects_the_file_and_the_connection_stays_usable(conn, tmp_path):
    before = await conn.fetchval("SELECT count(*) FROM fee_lines")
    rows = rows_for("stream-e", "Stream E")
    rows[4] += ",one too many"  # line 6, the third chunk
    outcome = await import_file(conn, "fee_schedule", write(tmp_path, "malformed.csv", rows), loaders=LOADERS)
    assert outcome.status == "rejected"
    assert [(e.line, "13 fields" in e.message) for e in outcome.errors] == [(6, True)]
    assert await conn.fetchval("SELECT count(*) FROM fee_lines") == before
    assert await conn.fetchval("SELECT count(*) FROM programs WHERE program_id = 'stream-e'") == 0
    assert await conn.fetchval("SELECT 1") == 1


async def test_allow_partial_across_chunks(conn, tmp_path):
    rows = rows_for("stream-f", "Stream F")
    rows[1] = rows[1].replace("per_episode", "weekly")  # line 3
    rows[4] = rows[4].replace("php,REV:0913", "php,H0035")  # line 6: duplicate of line 5
    outcome = await import_file(conn, "fee_schedule", write(tmp_path, "partial.csv", rows),
                                options=ImportOptions(allow_partial=True), loaders=LOADERS)
    assert outcome.status == "succeeded"
    assert (outcome.rows_read, outcome.rows_accepted, outcome.rows_rejected) == (5, 3, 2)
    assert [(e.line, e.column) for e in outcome.errors] == [(3, "frequency"), (6, "billing_code")]
    lines = await conn.fetch("SELECT line FROM fee_lines WHERE version_id = $1 ORDER BY line", outcome.version_id)
    assert [r["line"] for r in lines] == [2, 4, 5]


# --------------------------------------------------------------------------- negotiated rates, streamed the same way

RATES_HEADER = "payer_id,program_id,npi,tin,billing_code,rate_type,rate,effective_date,expiration_date\n"


async def test_rates_staged_across_chunks(conn, tmp_path):
    await import_file(conn, "fee_schedule", write(tmp_path, "fees.csv", rows_for("stream-r", "Stream R", "1234567893")), loaders=LOADERS)
    rates = tmp_path / "rates.csv"
    rates.write_text(RATES_HEADER + "".join(
        f"acme,stream-r,,,{code},dollar,{500 + i}.00,2026-01-01,\n"
        for i, code in enumerate(["H0015", "90791", "S9480", "H0035", "REV:0913"])
    ) + "acme,,1234567893,,H0015,dollar,510.00,2026-07-01,\n")  # by NPI, in the third chunk
    outcome = await import_file(conn, "negotiated_rates", rates, loaders=LOADERS)
    assert outcome.status == "succeeded", outcome
    assert (outcome.rows_read, outcome.rows_accepted) == (6, 6)
    stored = await conn.fetch("SELECT program_id, line FROM negotiated_rates WHERE version_id = $1 ORDER BY line",
                              outcome.version_id)
    assert [(r["program_id"], r["line"]) for r in stored] == [("stream-r", n) for n in range(2, 8)]
    keys = await conn.fetch("SELECT key1, key2 FROM tariff_version_keys WHERE version_id = $1", outcome.version_id)
    assert [tuple(k) for k in keys] == [("acme", "stream-r")]


async def test_rates_errors_in_line_order_and_staging_errors_only_without_parse_errors(conn, tmp_path):
    lines = [
        "acme,stream-nobody,,,H0015,dollar,500.00,2026-01-01,",  # 2: no such program (staging)
        "nopayer,sunrise-recovery,,,H0015,dollar,500.00,2026-01-01,",  # 3: unknown payer (staging)
        "acme,sunrise-recovery,,,H0015,dollar,500.00,2026-01-01,",  # 4: fine
        "acme,,1992753883,,90791,dollar,300.00,2026-01-01,",  # 5: no program with that NPI (staging)
    ]
    path = tmp_path / "rates.csv"
    path.write_text(RATES_HEADER + "\n".join(lines) + "\n")
    outcome = await import_file(conn, "negotiated_rates", path, loaders=LOADERS)
    assert outcome.status == "rejected"
    assert [(e.line, e.column) for e in outcome.errors] == [(2, "program_id"), (3, "payer_id"), (5, "npi")]

    # a parse error too (line 6, the third chunk): only the parse errors are reported, as before
    path.write_text(RATES_HEADER + "\n".join([*lines, "acme,sunrise-recovery,,,90791,dollar,abc,2026-01-01,"])
                    + "\n")
    outcome = await import_file(conn, "negotiated_rates", path, loaders=LOADERS)
    assert outcome.status == "rejected"
    assert [(e.line, e.column) for e in outcome.errors] == [(6, "rate")]

    outcome = await import_file(conn, "negotiated_rates", path, options=ImportOptions(allow_partial=True), loaders=LOADERS)
    assert outcome.status == "succeeded"
    assert (outcome.rows_read, outcome.rows_accepted, outcome.rows_rejected) == (5, 1, 4)
    assert [(e.line, e.column) for e in outcome.errors] == [(6, "rate"), (2, "program_id"), (3, "payer_id"),
                                                            (5, "npi")]
