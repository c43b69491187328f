"""A Celery worker killed (SIGKILL, the whole process group) while it runs an import and
more imports wait in the queue behind it: with late acknowledgement nothing is lost —
a new worker runs every one of them, each activated exactly once."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import create_import
from tests.jobs.support import (
    JobEnv,
    RowLock,
    backend_gone,
    blocked_backend,
    broker_id,
    fee_schedule,
    wait_status,
)

pytestmark = pytest.mark.broker

QUEUED = 4


async def test_worker_killed_mid_queue_loses_no_task(job_env: JobEnv, conn, db_url):
    visibility = 3  # Redis re-delivers an unacknowledged message after this (RabbitMQ: at once)
    redis = broker_id(job_env.broker_url).startswith("redis")
    extra = {"COSTSVC_JOB_VISIBILITY_TIMEOUT": str(visibility)} if redis else {}
    programs = [f"faults-restart-{n}" for n in range(QUEUED)]
    lock = RowLock(db_url, programs[0])  # the first import waits inside its transaction
    await lock.hold()
    try:
        worker = await job_env.worker("a", **extra)
        imports = []
        for n, program in enumerate(programs):
            path = fee_schedule(job_env.tmp / f"fees-{n}.csv", program, rows=3 + n)
            import_id, _, _ = await create_import(conn, "fee_schedule", path, source=path.name,
                                                  started_by="test", loaders=LOADERS)
            await job_env.enqueue(import_id, path)
            imports.append((import_id, 3 + n))
        delivered_at = time.monotonic()
        backend = await blocked_backend(conn)  # the first is mid-import; the others wait in the queue
        queued = await conn.fetchval("SELECT count(*) FROM imports WHERE import_id = ANY($1) AND status = 'queued'",
                                     [i for i, _ in imports])
        assert queued == QUEUED - 1
        worker.kill_group(signal.SIGKILL)
        worker.popen.wait(10)
        if redis:
            await asyncio.sleep(max(0.0, visibility + 0.5 - (time.monotonic() - delivered_at)))
        await job_env.worker("b", **extra)
    finally:
        await lock.release()
    await backend_gone(conn, backend)

    for import_id, rows in imports:
        row = await wait_status(conn, import_id, {"succeeded", "rejected", "failed"}, timeout=90)
        assert (row["status"], row["rows_accepted"]) == ("succeeded", rows), dict(row)
        activated = await conn.fetchval(
            "SELECT count(*) FROM tariff_versions WHERE import_id = $1 AND activated_at IS NOT NULL", import_id)
        assert activated == 1, import_id
