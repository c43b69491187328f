"""Eager mode (no broker, the default): the task runs in this process, off the event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import create_import
from jobs.celery_app import create_celery_app
from jobs.tasks import CeleryImportQueue, is_eager
from tests.jobs.support import RowLock, blocked_backend, fee_schedule, versions_of


def test_no_broker_means_eager_and_broker_means_not():
    eager = create_celery_app("")
    assert is_eager(eager) and eager.conf.broker_url == "memory://"
    real = create_celery_app("redis://127.0.0.1:6379/13")
    assert not is_eager(real)
    conf = real.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.worker_prefetch_multiplier) == (
        True,
        True,
        1,
    )
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert create_celery_app("amqp://guest:guest@127.0.0.1:5672//").conf.broker_transport_options == {}


async def test_eager_import_runs_in_a_thread_without_blocking_the_loop(conn, db_url, tmp_path: Path):
    app = create_celery_app("")
    path = fee_schedule(tmp_path / "fees.csv", "jobtest-kill", rows=3)
    lock = RowLock(db_url, "jobtest-kill")
    await lock.hold()
    try:
        import_id, _, _ = await create_import(conn, "fee_schedule", path, source=path.name, started_by="test", loaders=LOADERS)
        running = asyncio.create_task(CeleryImportQueue(app, database_url=db_url).enqueue(import_id, str(path)))
        # The import is now blocked inside its transaction, and this loop still runs.
        await blocked_backend(conn, timeout=30)
        assert not running.done()
    finally:
        await lock.release()
    await asyncio.wait_for(running, 60)
    row = await conn.fetchrow(
        "SELECT status, rows_accepted, version_id FROM imports WHERE import_id = $1", import_id
    )
    assert (row["status"], row["rows_accepted"]) == ("succeeded", 3)
    assert [v["version_id"] for v in await versions_of(conn, import_id)] == [row["version_id"]]


async def test_eager_rejected_file_is_recorded_not_raised(conn, db_url, tmp_path: Path):
    path = tmp_path / "fees.csv"
    path.write_text(
        "program_id,program_name,state,level_of_care,billing_code,frequency,gross_charge,"
        "effective_date\nx,X,TX,iop,H0015,per_service,-5,2026-01-01\n"
    )
    import_id, _, _ = await create_import(conn, "fee_schedule", path, source=path.name, started_by="test", loaders=LOADERS)
    await CeleryImportQueue(create_celery_app(""), database_url=db_url).enqueue(import_id, str(path))
    row = await conn.fetchrow("SELECT status, version_id FROM imports WHERE import_id = $1", import_id)
    assert (row["status"], row["version_id"]) == ("rejected", None)
    [error] = await conn.fetch('SELECT line, "column" FROM import_errors WHERE import_id = $1', import_id)
    assert (error["line"], error["column"]) == (2, "gross_charge")


async def test_missing_file_fails_the_import_without_retrying(conn, db_url, tmp_path: Path):
    path = fee_schedule(tmp_path / "fees.csv", "jobtest-gone", rows=2)
    import_id, _, _ = await create_import(conn, "fee_schedule", path, source=path.name, started_by="test", loaders=LOADERS)
    path.unlink()
    await CeleryImportQueue(create_celery_app(""), database_url=db_url).enqueue(import_id, str(path))
    row = await conn.fetchrow("SELECT status, message FROM imports WHERE import_id = $1", import_id)
    assert row["status"] == "failed" and "not found" in row["message"]


async def test_a_csv_named_gz_that_is_not_gzip_is_rejected_not_failed(conn, db_url, tmp_path: Path):
    """A bad file is the file's fault: ``rejected`` with a message, never a crashed job."""
    path = tmp_path / "fees.csv.gz"
    path.write_bytes(fee_schedule(tmp_path / "plain.csv", "jobtest-gz", rows=2).read_bytes())
    import_id, _, _ = await create_import(conn, "fee_schedule", path, source=path.name, started_by="test", loaders=LOADERS)
    await CeleryImportQueue(create_celery_app(""), database_url=db_url).enqueue(import_id, str(path))
    row = await conn.fetchrow("SELECT status, message FROM imports WHERE import_id = $1", import_id)
    assert row["status"] == "rejected", dict(row)
    messages = await conn.fetchval(
        "SELECT string_agg(message, ' ') FROM import_errors WHERE import_id = $1", import_id
    )
    assert "gzip" in messages
