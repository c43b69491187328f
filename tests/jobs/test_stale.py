"""Stuck imports: recorded ``queued``/``running`` but nobody is running them (a lost task
message, an eager import that died with its process).  The sweep re-enqueues them (or
records them ``failed`` when their file is gone), and a new upload of the same file gets
the stuck import run instead of a dead id.  Real PostgreSQL; eager jobs unless marked
``broker``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import msgspec
import pytest

from costsvc.db.pool import connect
from costsvc.db.queries import Q
from costsvc.services.imports import requeue_stale_imports
from costsvc.settings import get_settings
from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import create_import, import_file
from jobs.celery_app import REQUEUE_STALE_TASK, create_celery_app
from jobs.tasks import CeleryImportQueue
from tests.jobs.support import ROOT, JobEnv, fee_schedule, versions_of, wait_status

EAGER = create_celery_app("")
STALE = 900.0  # the default grace period of a queued import


async def _record(conn, path: Path, *, status: str = "queued", age: float = 0.0) -> uuid.UUID:
    """An import as a dead job leaves it: recorded, marked ``status``, nobody holding its lock."""
    import_id, _, created = await create_import(
        conn, "fee_schedule", path, source=path.name, started_by="test", loaders=LOADERS
    )
    assert created
    if status == "running":
        await conn.execute(
            "UPDATE imports SET status = 'running', started_at = now() WHERE import_id = $1", import_id
        )
    if age:
        await conn.execute(
            "UPDATE imports SET created_at = now() - make_interval(secs => $2) WHERE import_id = $1",
            import_id,
            age,
        )
    return import_id


async def _row(conn, import_id: uuid.UUID):
    return await conn.fetchrow("SELECT * FROM imports WHERE import_id = $1", import_id)


async def _sweep(conn, db_url: str, **kw):
    return await requeue_stale_imports(
        conn, queue=CeleryImportQueue(EAGER, database_url=db_url), settings=get_settings(), stale_after=STALE, **kw
    )


async def _assert_succeeded_once(conn, import_id: uuid.UUID, rows: int) -> None:
    row = await _row(conn, import_id)
    assert (row["status"], row["rows_accepted"]) == ("succeeded", rows), dict(row)
    versions = await versions_of(conn, import_id)
    assert [v["version_id"] for v in versions] == [row["version_id"]]
    assert versions[0]["activated_at"] is not None


async def test_a_stuck_running_import_is_requeued_and_succeeds_once(conn, db_url, tmp_path: Path):
    path = fee_schedule(tmp_path / "fees.csv", "stale-running", rows=4)
    import_id = await _record(conn, path, status="running")  # its process died mid-run
    assert (await _row(conn, import_id))["path"] == str(path.absolute())  # recorded for the sweep

    report = await _sweep(conn, db_url)
    assert [(r["import_id"], r["was"]) for r in report.requeued] == [(str(import_id), "running")]
    assert report.failed == [] and report.busy == []
    await _assert_succeeded_once(conn, import_id, 4)
    assert (await _row(conn, import_id))["requeue_count"] == 1

    again = await _sweep(conn, db_url)  # idempotent: nothing left to do
    assert again.requeued == [] and again.failed == []
    assert len(await versions_of(conn, import_id)) == 1


async def test_a_young_queued_import_is_left_alone(conn, db_url, tmp_path: Path):
    young = await _record(conn, fee_schedule(tmp_path / "young.csv", "stale-young", rows=2))
    old = await _record(conn, fee_schedule(tmp_path / "old.csv", "stale-old", rows=3), age=STALE + 60)

    report = await _sweep(conn, db_url)
    assert [r["import_id"] for r in report.requeued] == [str(old)]  # the old one only
    assert (await _row(conn, young))["status"] == "queued"
    assert await versions_of(conn, young) == []
    await _assert_succeeded_once(conn, old, 3)


@pytest.mark.parametrize("status", ["running", "queued"])
async def test_an_import_someone_is_running_is_left_alone(conn, db_url, tmp_path: Path, status):
    path = fee_schedule(tmp_path / "fees.csv", f"stale-locked-{status}", rows=2)
    import_id = await _record(conn, path, status=status, age=STALE + 60)
    other = await connect(db_url)  # a worker running it right now holds its lock
    try:
        assert await other.fetchval(Q.try_lock_import, import_id)
        assert await conn.fetch(Q.jobs_stale_imports, STALE, None, 100) == []
        report = await _sweep(conn, db_url)
        assert report.requeued == [] and report.failed == []
        row = await _row(conn, import_id)
        assert (row["status"], row["requeue_count"]) == (status, 0)
        assert await versions_of(conn, import_id) == []
        # The detection tried the lock and released it at once (no lock leaked to the sweep's
        # connection): only the other connection holds it.
        held = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        assert held == 0
    finally:
        await other.close()  # the worker died: its lock is gone with its session
    report = await _sweep(conn, db_url)
    assert [r["import_id"] for r in report.requeued] == [str(import_id)]
    await _assert_succeeded_once(conn, import_id, 2)


async def test_file_gone_or_changed_means_failed_with_a_message(conn, db_url, tmp_path: Path):
    gone_path = fee_schedule(tmp_path / "gone.csv", "stale-gone", rows=2)
    gone = await _record(conn, gone_path, status="running")
    gone_path.unlink()
    changed_path = fee_schedule(tmp_path / "changed.csv", "stale-changed", rows=2)
    changed = await _record(conn, changed_path, age=STALE + 60)
    fee_schedule(changed_path, "stale-changed", rows=2, gross="999.00")  # replaced in place

    report = await _sweep(conn, db_url)
    assert report.requeued == []
    assert sorted(f["import_id"] for f in report.failed) == sorted([str(gone), str(changed)])
    row = await _row(conn, gone)
    assert row["status"] == "failed" and row["finished_at"] is not None
    assert "gone" in row["message"] and str(gone_path) in row["message"]
    row = await _row(conn, changed)
    assert row["status"] == "failed" and "changed since the import was recorded" in row["message"]
    assert await versions_of(conn, gone) == [] and await versions_of(conn, changed) == []
    # No longer live: the same file sent again is a new import.
    fee_schedule(gone_path, "stale-gone", rows=2)
    new_id, _, created = await create_import(conn, "fee_schedule", gone_path, started_by="test", loaders=LOADERS)
    assert created and new_id != gone


async def test_an_import_that_never_finishes_is_given_up_after_the_limit(conn, db_url, tmp_path: Path):
    import_id = await _record(
        conn, fee_schedule(tmp_path / "fees.csv", "stale-cap", rows=1), status="running"
    )
    await conn.execute("UPDATE imports SET requeue_count = 3 WHERE import_id = $1", import_id)
    report = await _sweep(conn, db_url, max_requeues=3)
    assert [f["import_id"] for f in report.failed] == [str(import_id)]
    row = await _row(conn, import_id)
    assert row["status"] == "failed" and "gave up" in row["message"]
    assert await versions_of(conn, import_id) == []


@pytest.mark.parametrize("keep", [False, True])
async def test_the_upload_of_an_import_given_up_is_removed_unless_kept(conn, db_url, tmp_path: Path, keep):
    """Failed for good, the import never runs again: its uploaded file goes (COSTSVC_KEEP_FAILED_UPLOADS keeps it)."""
    settings = msgspec.structs.replace(get_settings(), data_dir=str(tmp_path / "data"), keep_failed_uploads=keep)
    folder = tmp_path / "data" / "uploads" / str(uuid.uuid4())
    folder.mkdir(parents=True)
    import_id = await _record(conn, fee_schedule(folder / "fees.csv", f"stale-discard-{keep}", rows=1),
                              status="running")
    await conn.execute("UPDATE imports SET requeue_count = 3 WHERE import_id = $1", import_id)
    report = await requeue_stale_imports(conn, queue=CeleryImportQueue(EAGER, database_url=db_url),
                                         settings=settings, stale_after=STALE, max_requeues=3)
    assert [f["import_id"] for f in report.failed] == [str(import_id)]
    assert (folder / "fees.csv").is_file() is keep


async def test_one_sweep_at_a_time(conn, db_url, tmp_path: Path):
    import_id = await _record(
        conn, fee_schedule(tmp_path / "fees.csv", "stale-sweeps", rows=1), status="running"
    )
    other = await connect(db_url)  # another scheduler's sweep
    try:
        assert await other.fetchval(Q.jobs_try_lock_sweep)
        report = await _sweep(conn, db_url)
        assert report.locked_out and report.requeued == []
        assert (await _row(conn, import_id))["status"] == "running"
    finally:
        await other.close()
    # Two at the same moment: the import is re-enqueued (and run) once.
    conns = [await connect(db_url) for _ in range(2)]
    try:
        reports = await asyncio.gather(*(_sweep(c, db_url) for c in conns))
    finally:
        for c in conns:
            await c.close()
    assert [r["import_id"] for rep in reports for r in rep.requeued] == [str(import_id)]
    await _assert_succeeded_once(conn, import_id, 1)
    assert (await _row(conn, import_id))["requeue_count"] == 1


async def test_cli_import_runs_a_stuck_running_import(conn, tmp_path: Path):
    """``costsvc import`` of a file whose earlier import died: that import is run, not a no-op."""
    path = fee_schedule(tmp_path / "fees.csv", "stale-cli", rows=3)
    import_id = await _record(conn, path, status="running")
    outcome = await import_file(conn, "fee_schedule", path, source=path.name, started_by="cli", loaders=LOADERS)
    assert (outcome.import_id, outcome.status, outcome.deduplicated) == (import_id, "succeeded", False)
    await _assert_succeeded_once(conn, import_id, 3)


def test_requeue_stale_command(db_url, tmp_path: Path):
    """``costsvc requeue-stale`` without a broker runs the stuck imports in its own process."""
    path = fee_schedule(tmp_path / "fees.csv", "stale-command", rows=2)

    async def record() -> uuid.UUID:
        c = await connect(db_url)
        try:
            return await _record(c, path, status="running")
        finally:
            await c.close()

    import_id = asyncio.run(record())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTSVC_", "CELERY_"))}
    env.update(DATABASE_URL=db_url)
    result = subprocess.run(
        [sys.executable, "-m", "costsvc.cli", "requeue-stale", "--json"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = msgspec.json.decode(result.stdout.strip().splitlines()[-1])
    assert [r["import_id"] for r in report["requeued"]] == [str(import_id)]

    async def status() -> tuple[str, int]:
        c = await connect(db_url)
        try:
            row = await _row(c, import_id)
            return row["status"], len(await versions_of(c, import_id))
        finally:
            await c.close()

    assert asyncio.run(status()) == ("succeeded", 1)


# ----------------------------------------------------------------------------- the import API


@pytest.fixture
async def api(db_url, tmp_path: Path):
    from litestar.testing import AsyncTestClient

    from costsvc.api.app import create_app
    from jobs.tasks import is_eager

    assert is_eager(), "these tests run the jobs eagerly: unset CELERY_BROKER_URL"
    settings = msgspec.structs.replace(
        get_settings(), data_dir=str(tmp_path / "data"), stale_import_seconds=STALE
    )
    async with AsyncTestClient(app=create_app(settings, database_url=db_url)) as client:
        yield client


async def test_upload_of_a_file_whose_import_is_stuck_runs_that_import(api, conn, db_url, tmp_path: Path):
    from costsvc.auth import create_api_key

    headers = {"Authorization": f"Bearer {(await create_api_key(conn, role='admin', name='ops')).key}"}
    original = fee_schedule(tmp_path / "fees.csv", "stale-api", rows=3)
    content = original.read_bytes()
    # An eager import that died with its API process: `running`, its upload gone with the host.
    import_id = await _record(conn, original, status="running")
    original.unlink()

    async def upload():
        return await api.post(
            "/v1/imports", headers=headers, data={"kind": "fee_schedule"},
            files={"file": ("again.csv", content, "text/csv")},
        )  # fmt: skip

    # While a process holds it, the same file is a plain no-op pointing at it.
    other = await connect(db_url)
    try:
        assert await other.fetchval(Q.try_lock_import, import_id)
        r = await upload()
        assert r.status_code == 200, r.text
        assert (r.json()["import_id"], r.json()["deduplicated"]) == (str(import_id), True)
        await asyncio.sleep(0.3)
        assert (await _row(conn, import_id))["status"] == "running"
    finally:
        await other.close()

    # Nobody runs it any more: the new copy of the file runs that import.
    r = await upload()
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["import_id"], body["deduplicated"]) == (str(import_id), True)
    row = await wait_status(conn, import_id, {"succeeded", "rejected", "failed"}, timeout=60)
    assert row["status"] == "succeeded", dict(row)
    await _assert_succeeded_once(conn, import_id, 3)
    stored = tmp_path / "data" / "uploads" / str(import_id) / "again.csv"
    assert row["path"] == str(stored) and stored.read_bytes() == content
    # Only that import's folder is left (the duplicates' folders were removed).
    uploads = tmp_path / "data" / "uploads"
    assert sorted(p.name for p in uploads.iterdir() if p.name != ".incoming") == [str(import_id)]
    assert await conn.fetchval("SELECT count(*) FROM imports WHERE sha256 = $1", row["sha256"]) == 1
    # Done now: the same file again is a no-op.
    r = await upload()
    assert r.status_code == 200 and r.json()["status"] == "succeeded"


async def test_an_api_upload_records_where_its_file_is(api, conn, tmp_path: Path):
    from costsvc.auth import create_api_key

    headers = {"Authorization": f"Bearer {(await create_api_key(conn, role='admin', name='ops')).key}"}
    content = fee_schedule(tmp_path / "x.csv", "stale-api-path", rows=1).read_bytes()
    r = await api.post(
        "/v1/imports", headers=headers, data={"kind": "fee_schedule"},
        files={"file": ("fees.csv", content, "text/csv")},
    )  # fmt: skip
    assert r.status_code == 202, r.text
    import_id = uuid.UUID(r.json()["import_id"])
    row = await wait_status(conn, import_id, {"succeeded"}, timeout=60)
    stored = tmp_path / "data" / "uploads" / str(import_id) / "fees.csv"
    assert row["path"] == str(stored) and stored.read_bytes() == content


# ----------------------------------------------------------------------------- settings and beat


def test_job_tunables_come_from_settings(monkeypatch):
    env = {
        "COSTSVC_CELERY_QUEUE": "q1",
        "COSTSVC_JOB_TIME_LIMIT": "1000",
        "COSTSVC_JOB_VISIBILITY_TIMEOUT": "2000",
        "COSTSVC_JOB_MAX_RETRIES": "4",
        "COSTSVC_JOB_RETRY_BACKOFF": "2.5",
        "COSTSVC_JOB_RETRY_BACKOFF_MAX": "60",
        "COSTSVC_REFRESH_INTERVAL": "120",
        "COSTSVC_WORKER_MAX_MEMORY_MB": "512",
        "COSTSVC_STALE_IMPORT_SECONDS": "30",
        "COSTSVC_STALE_SWEEP_INTERVAL": "10",
        "COSTSVC_STALE_IMPORT_MAX_REQUEUES": "7",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        s = get_settings()
        assert (s.celery_queue, s.job_time_limit, s.job_visibility_timeout, s.job_max_retries) == (
            "q1", 1000, 2000, 4,
        )  # fmt: skip
        assert (s.job_retry_backoff, s.job_retry_backoff_max, s.refresh_interval, s.worker_max_memory_mb) == (
            2.5, 60, 120.0, 512,
        )  # fmt: skip
        assert (s.stale_import_seconds, s.stale_sweep_interval, s.stale_import_max_requeues) == (
            30.0,
            10.0,
            7,
        )
        conf = create_celery_app("redis://127.0.0.1:6379/13").conf
        assert (conf.task_default_queue, conf.task_time_limit, conf.task_soft_time_limit) == ("q1", 1000, 700)
        assert conf.broker_transport_options == {"visibility_timeout": 2000}
        assert conf.worker_max_memory_per_child == 512 * 1024
        assert conf.beat_schedule["refresh-tariff-sources"]["schedule"] == 120.0
        sweep = conf.beat_schedule["requeue-stale-imports"]
        assert (sweep["task"], sweep["schedule"]) == (REQUEUE_STALE_TASK, 10.0)
    finally:
        for name in env:
            monkeypatch.delenv(name)
        get_settings.cache_clear()
    d = get_settings()  # the defaults are the documented ones
    assert (d.celery_queue, d.job_time_limit, d.job_visibility_timeout, d.job_max_retries) == (
        "costsvc", 5 * 3600, 6 * 3600, 10,
    )  # fmt: skip
    assert (d.job_retry_backoff, d.job_retry_backoff_max, d.refresh_interval, d.worker_max_memory_mb) == (
        5.0, 600, 3600.0, 2048,
    )  # fmt: skip
    assert (d.stale_import_seconds, d.stale_sweep_interval, d.stale_import_max_requeues) == (900.0, 300.0, 3)


@pytest.mark.broker
async def test_beat_sweep_requeues_a_lost_import_on_a_worker(job_env: JobEnv, conn):
    """The task message was lost (recorded, never sent): beat's sweep hands it to a worker."""
    path = fee_schedule(job_env.tmp / "fees.csv", "stale-beat", rows=3)
    lost = await _record(conn, path, age=600)  # queued 10 minutes ago; its message never sent
    young = await _record(conn, fee_schedule(job_env.tmp / "young.csv", "stale-beat-young", rows=1))
    settings = {"COSTSVC_STALE_SWEEP_INTERVAL": "1", "COSTSVC_STALE_IMPORT_SECONDS": "300"}
    worker = job_env.start_worker("w", **settings)
    job_env.start_beat("one", **settings)
    await worker.wait_for_log(" ready.")
    await worker.wait_for_log("stale-import sweep: 1 stuck import(s) re-enqueued", timeout=60)
    row = await wait_status(conn, lost, {"succeeded", "rejected", "failed"}, timeout=60)
    assert row["status"] == "succeeded", dict(row)
    await _assert_succeeded_once(conn, lost, 3)
    await worker.wait_for_log("stale-import sweep: 0 stuck import(s)", timeout=30)  # later sweeps: nothing
    assert (await _row(conn, young))["status"] == "queued"  # within its grace period
    assert await versions_of(conn, young) == []
