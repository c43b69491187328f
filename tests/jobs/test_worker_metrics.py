"""`costsvc worker` with COSTSVC_WORKER_METRICS_PORT: its own /metrics (the pool
processes' samples aggregated) counts the task and the import run; its log lines are
JSON and a task's lines carry the task's id."""

from __future__ import annotations

import json
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import create_import
from tests.jobs.support import JobEnv, fee_schedule, wait_status
from tests.server import _free_port


async def test_the_worker_serves_its_metrics(job_env: JobEnv, conn):
    port = _free_port()
    worker = await job_env.worker(concurrency=2, COSTSVC_WORKER_METRICS_PORT=str(port))
    path = fee_schedule(job_env.tmp / "fees.csv", "jobtest-metrics", rows=4)
    import_id, _, _ = await create_import(conn, "fee_schedule", path, source=path.name, started_by="test",
                                          loaders=LOADERS)
    await job_env.enqueue(import_id, path)
    await wait_status(conn, import_id, {"succeeded"})
    await worker.wait_for_log("succeeded in")  # the task's success is counted before this line

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for family in text_string_to_metric_families(text) for s in family.samples}
    assert found[("costsvc_job_tasks_total", (("outcome", "succeeded"), ("task", "jobs.tasks.run_import_task")))] == 1
    kind = (("kind", "fee_schedule"), ("outcome", "succeeded"))
    assert found[("costsvc_import_duration_seconds_count", kind)] == 1
    assert found[("costsvc_import_rows_total", (*kind, ("rows", "accepted")))] == 4

    lines = [json.loads(line) for line in worker.text().splitlines() if line.startswith("{")]
    ran = [x for x in lines if x.get("logger") == "jobs.tasks" and str(import_id) in x["message"]]
    assert ran and ran[0]["task"] == "jobs.tasks.run_import_task" and ran[0]["task_id"]
