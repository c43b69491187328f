"""Request ids, access lines and the metrics of imports and tasks, in process."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from costsvc.api.app import create_app
from costsvc.observe import logs, metrics
from costsvc.settings import Settings, get_settings
from tests.observe.test_log_scan import FEE_HEADER, FILE_ROW


@contextlib.contextmanager
def configured(settings: Settings):
    """The process's logging as ``configure`` sets it, for one test (then as it was)."""
    root = logging.getLogger()
    level, stream = root.level, io.StringIO()
    handler = logs.configure(settings, stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def log_output():
    with configured(Settings(log_level="DEBUG")) as stream:
        yield stream


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_an_untrusted_peer_cannot_choose_the_request_id(db_url, log_output):
    app = create_app(Settings(trusted_proxies="10.0.0.0/8"), database_url=db_url)
    async with AsyncTestClient(app=app) as c:  # the test client's peer is "testclient": not trusted
        r = await c.get("/v1/programs/nope", headers={"X-Request-ID": "chosen-by-client"})
        assert r.status_code == 404
        assert r.headers["x-request-id"] != "chosen-by-client" and len(r.headers["x-request-id"]) == 32
        assert r.json()["request_id"] == r.headers["x-request-id"]
        other = await c.get("/health")
        assert other.headers["x-request-id"] != r.headers["x-request-id"]
    access = [x for x in json_lines(log_output) if x["logger"] == "costsvc.access"]
    assert [(x["route"], x["status"], x["request_id"]) for x in access] == [
        ("/v1/programs/{program_id}", 404, r.headers["x-request-id"]),
        ("/health", 200, other.headers["x-request-id"]),
    ]
    assert access[1]["level"] == "DEBUG"  # a probe that succeeds


def test_a_trusted_proxy_id_must_be_a_plain_token():
    from costsvc.api.clients import parse_trusted
    from costsvc.api.telemetry import RequestTelemetry

    telemetry = RequestTelemetry(None, parse_trusted("127.0.0.1,10.0.0.0/8"))

    def request_id(peer: str, value: bytes) -> str:
        return telemetry.request_id({"client": (peer, 5000), "headers": [(b"x-request-id", value)]})

    assert request_id("10.1.2.3", b"lb-1234.abc_DEF:9") == "lb-1234.abc_DEF:9"
    assert request_id("127.0.0.1", b"a" * 128) == "a" * 128
    for bad in (b"a" * 129, b"two words", b"line\nbreak", b"", b"\xc3\xa9"):
        assert len(request_id("10.1.2.3", bad)) == 32, bad  # replaced by a new one
    assert request_id("192.168.0.1", b"lb-1234") != "lb-1234"


def test_text_format_keeps_the_fields():
    with configured(Settings(log_format="text")) as stream:
        token = logs.bind(request_id="r-1")
        logging.getLogger("costsvc.test").info("hello %s", "there", extra={"import_id": "i-1"})
        logs.unbind(token)
    line = stream.getvalue().strip()
    assert line.endswith("INFO costsvc.test: hello there import_id=i-1 request_id=r-1"), line


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_eager_import_counts_its_run_rows_and_task(db_url, tmp_path):
    settings = msgspec.structs.replace(get_settings(), data_dir=str(tmp_path), celery_broker_url=None)
    kind = {"kind": "fee_schedule", "outcome": "succeeded"}
    task = {"task": "jobs.tasks.run_import_task", "outcome": "succeeded"}
    before = (_sample("costsvc_import_duration_seconds_count", **kind),
              _sample("costsvc_import_rows_total", **kind, rows="accepted"), _sample("costsvc_job_tasks_total", **task))
    app = create_app(settings, database_url=db_url)
    from costsvc.auth import create_api_key
    from costsvc.db.pool import connect

    conn = await connect(db_url)
    try:
        admin = await create_api_key(conn, role="admin", name="ops")
    finally:
        await conn.close()
    async with AsyncTestClient(app=app) as c:
        r = await c.post("/v1/imports", headers={"Authorization": f"Bearer {admin.key}"}, data={"kind": "fee_schedule"},
                         files={"file": ("m.csv", (FEE_HEADER + FILE_ROW + "\n").encode(), "text/csv")})
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 30
        while _sample("costsvc_job_tasks_total", **task) == before[2] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    after = (_sample("costsvc_import_duration_seconds_count", **kind),
             _sample("costsvc_import_rows_total", **kind, rows="accepted"), _sample("costsvc_job_tasks_total", **task))
    assert [a - b for a, b in zip(after, before)] == [1, 1, 1]


def test_degraded_answers_are_counted_by_route():
    before = _sample("costsvc_degraded_answers_total", route="/v1/estimates")
    metrics.degraded_answer("/v1/estimates")
    assert _sample("costsvc_degraded_answers_total", route="/v1/estimates") == before + 1
    assert b'costsvc_degraded_answers_total{route="/v1/estimates"}' in metrics.exposition()
