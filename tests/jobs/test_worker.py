"""A real worker on a real broker against a real PostgreSQL: imports, rejections, health."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import ImportOptions, create_import
from tests.jobs.support import JobEnv, fee_schedule, versions_of, wait_status

pytestmark = pytest.mark.broker

BAD_LINE = 5_000_001


def _big_rates_file_with_bad_line(path: Path) -> Path:
    """A negotiated-rates CSV of 5,000,002 lines, all valid but line 5,000,001 (a bad rate)."""
    codes = ("H0015", "S9480", "90834", "90837", "90853")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("payer_id,program_id,billing_code,rate_type,rate,effective_date\n")
        buf: list[str] = []
        for line in range(2, BAD_LINE + 2):  # the header is line 1
            rate = "12x.00" if line == BAD_LINE else f"{100 + line % 900}.00"
            buf.append(f"acme,p{line // 5},{codes[line % 5]},dollar,{rate},2026-01-01\n")
            if len(buf) == 200_000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    return path


@pytest.fixture(scope="module")
def big_bad_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _big_rates_file_with_bad_line(tmp_path_factory.mktemp("big") / "rates-5m.csv")


async def test_worker_imports_rejects_bad_files_and_stays_healthy(job_env: JobEnv, conn, big_bad_csv: Path):
    worker = await job_env.worker()
    tmp = job_env.tmp

    # A good file: imported, activated, counted.
    good = fee_schedule(tmp / "fees.csv", "jobtest-good", rows=4)
    import_id, _, created = await create_import(
        conn, "fee_schedule", good, source=good.name, started_by="test", loaders=LOADERS
    )
    assert created
    await job_env.enqueue(import_id, good)
    row = await wait_status(conn, import_id, {"succeeded", "rejected", "failed"})
    assert row["status"] == "succeeded", (dict(row), worker.text()[-3000:])
    assert (row["rows_read"], row["rows_accepted"], row["rows_rejected"]) == (4, 4, 0)
    [version] = await versions_of(conn, import_id)
    assert version["activated_at"] is not None and row["version_id"] == version["version_id"]

    # Bad files: rejected with the position, nothing activated, no retry.
    truncated = tmp / "in-network.json"
    doc = json.dumps(
        {
            "reporting_entity_name": "Acme",
            "reporting_entity_type": "health insurance issuer",
            "last_updated_on": "2026-01-01",
            "version": "1.0.0",
            "in_network": [
                {
                    "negotiation_arrangement": "ffs",
                    "name": "IOP",
                    "billing_code_type": "HCPCS",
                    "billing_code": "H0015",
                    "negotiated_rates": [],
                }
            ]
            * 50,
        }
    )
    truncated.write_text(doc[: len(doc) * 2 // 3])
    not_gzip = tmp / "in-network.json.gz"
    not_gzip.write_bytes(b'{"reporting_entity_name": "not compressed at all"}')
    cases = [  # kind, file, options, what the error must say
        ("negotiated_rates", big_bad_csv, ImportOptions(), (f"{BAD_LINE} rate",)),
        ("tic_in_network", truncated, ImportOptions(payer_id="acme"), ("truncated", "byte")),
        ("tic_in_network", not_gzip, ImportOptions(payer_id="acme"), ("gzip",)),
    ]
    rejected = []
    for kind, path, options, expected_words in cases:
        bad_id, _, created = await create_import(
            conn, kind, path, options=options, source=path.name, started_by="test", loaders=LOADERS
        )
        assert created
        await job_env.enqueue(bad_id, path)
        row = await wait_status(conn, bad_id, {"succeeded", "rejected", "failed"}, timeout=300)
        assert row["status"] == "rejected", (kind, path.name, dict(row), worker.text()[-3000:])
        assert row["version_id"] is None and await versions_of(conn, bad_id) == []
        errors = await conn.fetch(
            'SELECT file, line, "column", message FROM import_errors WHERE import_id = $1', bad_id
        )
        assert errors, (kind, path.name)
        where = " ".join(f"{e['line']} {e['column']} {e['message']}" for e in errors)
        assert all(word in where for word in expected_words), (kind, path.name, where)
        if path is big_bad_csv:
            [error] = errors
            assert (error["line"], error["column"]) == (BAD_LINE, "rate")
            assert row["rows_read"] == BAD_LINE, dict(row)
        await worker.wait_for_log(f"import {bad_id} rejected: read", timeout=30)
        rejected.append(bad_id)
    # A rejected file is never retried: each bad import ran exactly once.
    log = worker.text()
    assert [log.count(f"import {i} rejected: read") for i in rejected] == [1, 1, 1], log[-3000:]

    # The worker is still healthy: it answers a ping and runs the next import.
    assert "pong" in job_env.ping("w"), worker.text()[-3000:]
    again = fee_schedule(tmp / "fees2.csv", "jobtest-after", rows=2)
    next_id, _, _ = await create_import(conn, "fee_schedule", again, source=again.name, started_by="test", loaders=LOADERS)
    await job_env.enqueue(next_id, again)
    row = await wait_status(conn, next_id, {"succeeded", "rejected", "failed"})
    assert row["status"] == "succeeded", (dict(row), worker.text()[-3000:])
    assert worker.alive()


async def test_same_file_twice_is_one_import(job_env: JobEnv, conn):
    """The dedupe key makes a second recording of the file return the first import; a
    duplicate message for the same import (at-least-once delivery) runs nothing twice."""
    await job_env.worker()
    path = fee_schedule(job_env.tmp / "fees.csv", "jobtest-dup", rows=3)
    first, _, created = await create_import(conn, "fee_schedule", path, source=path.name, started_by="test", loaders=LOADERS)
    second, _, created_again = await create_import(
        conn, "fee_schedule", path, source=path.name, started_by="test", loaders=LOADERS
    )
    assert created and not created_again and first == second
    await job_env.enqueue(first, path)
    await job_env.enqueue(first, path)  # delivered twice
    await wait_status(conn, first, {"succeeded"})
    # Both messages have been handled once the queue is drained; give the second one time.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and job_env.procs[0].text().count("succeeded in") < 2:
        await asyncio.sleep(0.1)
    assert job_env.procs[0].text().count("succeeded in") >= 2
    assert len(await versions_of(conn, first)) == 1
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM imports WHERE sha256 = (SELECT sha256 FROM imports WHERE import_id = $1)",
            first,
        )
        == 1
    )
