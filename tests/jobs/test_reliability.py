"""Reliability of import jobs with a real worker, a real broker and a real PostgreSQL.

"Mid-import" is made deterministic without any hook in the code under test: the test
holds the row lock of the program a fee schedule names, so the worker's import waits
inside its staging transaction (version row created, rows being written) until the
test lets go.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import create_import
from tests.jobs.support import (
    JobEnv,
    PgProxy,
    RowLock,
    backend_gone,
    blocked_backend,
    broker_id,
    fee_schedule,
    versions_of,
    wait_status,
)

pytestmark = pytest.mark.broker

RECEIVED = "Task jobs.tasks.run_import_task["


async def _assert_one_activated_version(conn, import_id, rows: int) -> None:
    row = await wait_status(conn, import_id, {"succeeded", "rejected", "failed"}, timeout=90)
    assert (row["status"], row["rows_read"], row["rows_accepted"], row["rows_rejected"]) == (
        "succeeded",
        rows,
        rows,
        0,
    ), dict(row)
    versions = await versions_of(conn, import_id)
    assert len(versions) == 1, versions
    assert versions[0]["activated_at"] is not None and versions[0]["version_id"] == row["version_id"]
    assert (
        await conn.fetchval("SELECT count(*) FROM fee_lines WHERE version_id = $1", row["version_id"]) == rows
    )
    current = await conn.fetchval(
        "SELECT version_id FROM current_tariff_versions WHERE scope = 'fee' AND key1 = $1 AND key2 = 'iop'",
        "jobtest-kill",
    )
    assert current == row["version_id"]


@pytest.mark.parametrize("target", ["pool_process", "whole_worker"])
async def test_worker_killed_mid_import_runs_again_and_activates_once(job_env: JobEnv, conn, db_url, target):
    """SIGKILL mid-import.  ``pool_process``: the process running the task dies (the OOM
    killer's choice) — the worker re-queues the message at once (reject_on_worker_lost).
    ``whole_worker``: the worker and its pool die — the broker re-delivers the unacknowledged
    message to the next worker (RabbitMQ at once; Redis after the visibility timeout,
    shortened here)."""
    visibility = 3
    redis = broker_id(job_env.broker_url).startswith("redis")
    extra = {"COSTSVC_JOB_VISIBILITY_TIMEOUT": str(visibility)} if redis and target == "whole_worker" else {}
    lock = RowLock(db_url, "jobtest-kill")
    await lock.hold()
    try:
        worker = await job_env.worker("a", **extra)
        path = fee_schedule(job_env.tmp / "fees.csv", "jobtest-kill", rows=5)
        import_id, _, _ = await create_import(conn, "fee_schedule", path, source=path.name, started_by="test", loaders=LOADERS)
        await job_env.enqueue(import_id, path)
        delivered_at = time.monotonic()
        backend = await blocked_backend(conn)  # the import is inside its transaction now
        assert (
            await conn.fetchval("SELECT status FROM imports WHERE import_id = $1", import_id)
        ) == "running"
        assert await versions_of(conn, import_id) == []  # nothing visible from outside

        if target == "pool_process":
            [child] = worker.children()
            os.kill(child, signal.SIGKILL)
            survivor = worker
        else:
            worker.kill_group(signal.SIGKILL)
            worker.popen.wait(10)
            if redis:  # Redis re-delivers once the message has been invisible for the timeout
                await asyncio.sleep(max(0.0, visibility + 0.5 - (time.monotonic() - delivered_at)))
            survivor = await job_env.worker("b", **extra)
    finally:
        await lock.release()
    await backend_gone(conn, backend)  # the killed run's transaction is rolled back

    await _assert_one_activated_version(conn, import_id, rows=5)
    logs = "".join(p.text() for p in job_env.procs)
    assert logs.count(RECEIVED) >= 2, logs[-4000:]  # the task ran again
    if target == "pool_process":
        assert "WorkerLostError" in survivor.text() or "exited with 'signal 9" in survivor.text()
    assert survivor.alive()


async def test_database_unreachable_during_import_is_retried_then_succeeds(job_env: JobEnv, conn, db_url):
    proxy = PgProxy(db_url)
    await proxy.start()
    lock = RowLock(db_url, "jobtest-kill")
    await lock.hold()
    try:
        worker = await job_env.worker("w", DATABASE_URL=proxy.url)
        path = fee_schedule(job_env.tmp / "fees.csv", "jobtest-kill", rows=7)
        import_id, _, _ = await create_import(conn, "fee_schedule", path, source=path.name, started_by="test", loaders=LOADERS)
        await job_env.enqueue(import_id, path)
        backend = await blocked_backend(conn)  # mid-import, inside the staging transaction

        proxy.down()  # the database vanishes under the running import
        await lock.release()
        await backend_gone(conn, backend)
        # No partial version: the staging transaction died with the connection.
        assert await versions_of(conn, import_id) == []
        assert await conn.fetchval("SELECT status FROM imports WHERE import_id = $1", import_id) == "running"
        # The worker retries (with backoff) while the database is unreachable...
        deadline = time.monotonic() + 60
        while proxy.refused < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert proxy.refused >= 2, worker.text()[-3000:]
        assert await versions_of(conn, import_id) == []
        proxy.up()  # ...and succeeds once it is back.
        await _assert_one_activated_version(conn, import_id, rows=7)
        log = worker.text()
        assert "Retry in" in log and "DatabaseUnavailable" in log, log[-3000:]
        assert worker.alive()
    finally:
        await lock.release()
        await proxy.close()
