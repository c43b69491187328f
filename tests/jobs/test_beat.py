"""`costsvc beat` + `costsvc worker` on a real broker: the scheduled refresh imports the
configured sources once, even with two schedulers running."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.jobs.support import JobEnv, fee_schedule

pytestmark = pytest.mark.broker

REFRESH_DONE = "Task jobs.tasks.refresh_sources_task["


async def test_two_beats_refresh_sources_and_import_each_file_once(job_env: JobEnv, conn):
    tmp = job_env.tmp
    (tmp / "fees").mkdir()
    fee_schedule(tmp / "fees" / "a.csv", "beat-a", rows=2)
    fee_schedule(tmp / "fees" / "b.csv", "beat-b", rows=3)
    sources = tmp / "sources.toml"
    sources.write_text('[[source]]\nkind = "fee_schedule"\nglob = "fees/*.csv"\n')
    settings = {"COSTSVC_TARIFF_SOURCES": str(sources), "COSTSVC_REFRESH_INTERVAL": "1"}

    worker = job_env.start_worker("w", concurrency=2, **settings)
    beats = [job_env.start_beat(name, **settings) for name in ("one", "two")]
    await worker.wait_for_log(" ready.")
    # Several refreshes from both schedulers, some of them overlapping.
    await worker.wait_for_log(REFRESH_DONE, timeout=60, count=6)
    for beat in beats:  # each scheduler sends (waited for: one may have started late)
        await beat.wait_for_log("Sending due task refresh-tariff-sources", timeout=60)

    deadline = time.monotonic() + 30
    rows = []
    while time.monotonic() < deadline:
        rows = await conn.fetch(
            "SELECT source, status, rows_accepted FROM imports WHERE started_by = 'refresh' ORDER BY source"
        )
        if len(rows) == 2 and all(r["status"] == "succeeded" for r in rows):
            break
        await asyncio.sleep(0.2)
    assert [(r["source"].rsplit("/", 1)[-1], r["status"], r["rows_accepted"]) for r in rows] == [
        ("a.csv", "succeeded", 2),
        ("b.csv", "succeeded", 3),
    ]
    # Later refreshes (the beats keep sending one a second) find nothing new.  Waited for,
    # not read at once: on a loaded machine every refresh that ran while the importing
    # one held the lock was skipped ("another refresh is running").
    await worker.wait_for_log("0 imported, 0 rejected, 2 unchanged", timeout=60)
