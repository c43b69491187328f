"""GET /metrics of a real server with two workers, after traffic: the series and their
labels (route templates only, no id in any label), the samples of both workers
aggregated, the broker's queue depth; a scrape without the token is refused."""

from __future__ import annotations

import asyncio
import re
import uuid

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from costsvc.auth import create_api_key
from tests.observe.support import serve, server_env
from tests.observe.test_log_scan import FEE_HEADER, FILE_ROW

pytestmark = pytest.mark.broker
ESTIMATE = {"program_id": "sunrise-recovery", "level_of_care": "iop",
            "coverage": {"plan_id": "acme-ppo-gold", "network": "auto", "tier": "individual"}}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.setdefault(s.name, []).append((s.labels, s.value))
    return found


def value(found, name: str, **labels: str) -> float:
    return sum(v for got, v in found.get(name, []) if all(got.get(k) == x for k, x in labels.items()))


async def test_metrics_of_two_workers(db_url, tmp_path, broker_url):
    conn = await asyncpg.connect(db_url)
    try:
        admin = await create_api_key(conn, role="admin", name="ops")
        version = await conn.fetchval("SELECT max(version_id) FROM tariff_versions WHERE activated_at IS NOT NULL")
    finally:
        await conn.close()
    token, queue = "scrape-" + uuid.uuid4().hex, "observe-" + uuid.uuid4().hex[:8]
    env = server_env(db_url, tmp_path, COSTSVC_METRICS_TOKEN=token, COSTSVC_LOG_LEVEL="WARNING",
                     CELERY_BROKER_URL=broker_url, COSTSVC_CELERY_QUEUE=queue)  # no worker consumes it
    server = serve(tmp_path, env, "--workers", "2")
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as c:
            created = await asyncio.gather(*(c.post("/v1/estimates", json=ESTIMATE) for _ in range(40)))
            assert {r.status_code for r in created} == {201}
            ids = [r.json()["estimate_id"] for r in created]
            for estimate_id in ids[:5]:
                assert (await c.get(f"/v1/estimates/{estimate_id}")).status_code == 200
            for _ in range(3):
                assert (await c.get(f"/v1/estimates/{uuid.uuid4()}")).status_code == 404
            assert (await c.get("/v1/no/such/" + ids[0])).status_code == 404
            assert (await c.post("/v1/estimates/compare", json={"program_id": "sunrise-recovery",
                                                                 "coverage": ESTIMATE["coverage"]})).status_code == 200
            upload = await c.post("/v1/imports", headers={"Authorization": f"Bearer {admin.key}"},
                                  data={"kind": "fee_schedule"},
                                  files={"file": ("observe.csv", (FEE_HEADER + FILE_ROW + "\n").encode(), "text/csv")})
            assert upload.status_code == 202, upload.text

            assert (await c.get("/metrics")).status_code == 401
            wrong = await c.get("/metrics", headers={"Authorization": "Bearer " + token[:-1]})
            assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
            await asyncio.sleep(5.5)  # each worker samples its pool every 5 s
            scrape = await c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    finally:
        server.stop()
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    found = samples(text)

    requests = "costsvc_http_requests_total"
    assert value(found, requests, method="POST", route="/v1/estimates", status="201") == 40
    by_id = "/v1/estimates/{estimate_id}"
    assert value(found, requests, method="GET", route=by_id, status="200") == 5
    assert value(found, requests, method="GET", route=by_id, status="404") == 3
    assert value(found, requests, method="GET", route="(unmatched)", status="404") == 1
    assert value(found, requests, method="GET", route="/metrics", status="401") == 2
    assert value(found, requests, method="POST", route="/v1/imports", status="202") == 1
    latency = "costsvc_http_request_duration_seconds"
    assert value(found, latency + "_count", method="POST", route="/v1/estimates") == 40
    assert value(found, latency + "_bucket", method="POST", route="/v1/estimates", le="+Inf") == 40
    assert 0 < value(found, latency + "_sum", method="POST", route="/v1/estimates") < 40 * 30
    # no id of any kind in a label: route templates only
    labels = {v for series in found.values() for got, _ in series for v in got.values()}
    assert not [v for v in labels if UUID.search(v) or any(i in v for i in ids)]
    assert not [i for i in ids if i in text]

    estimates = "costsvc_estimates_total"
    assert value(found, estimates, level_of_care="iop", network_status="in_network") >= 41  # + the compare's
    assert value(found, "costsvc_estimate_memo_total", result="hit") >= 38  # each worker misses once
    assert value(found, "costsvc_estimate_memo_total", result="miss") >= 1
    # both workers' samples: one catalog version per live process, aggregated counters
    versions = found["costsvc_catalog_version"]
    assert len({got["pid"] for got, _ in versions}) == 2 and {v for _, v in versions} == {version}
    assert value(found, "costsvc_catalog_reload_duration_seconds_count", scope="full") >= 2
    assert value(found, "costsvc_db_pool_connections", state="max") == 2 * 10  # two pools of COSTSVC_POOL_MAX
    assert value(found, "costsvc_db_pool_connections", state="idle") >= 2
    assert value(found, "costsvc_job_queue_depth", queue=queue) == 1  # the import waits for a worker
