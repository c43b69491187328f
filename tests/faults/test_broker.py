"""The job broker stopped under load: estimates never notice, an import is refused with a
503 (Retry-After) and recorded failed, its upload removed, the outage logged once; with
the broker back, imports are accepted again without restarting anything."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.faults.load import Load, check_answer
from tests.jobs.support import FEE_HEADER

IMPORT_BOUND = 10.0  # seconds: the broker's refusal (three quick retries) plus a database round trip


def _fees(program: str, gross: str) -> bytes:
    return (FEE_HEADER + f"{program},Broker Fault Program,,,TX,iop,H0015,IOP day,per_service,{gross},,2026-01-01\n").encode()


async def _import(client: httpx.AsyncClient, admin: dict[str, str], body: bytes) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    r = await client.post("/v1/imports", headers=admin, data={"kind": "fee_schedule"},
                          files={"file": ("fees.csv", body, "text/csv")})
    return r, time.monotonic() - started


async def test_broker_stopped_under_load(service, redis_broker):
    uploads = service.data_dir / "uploads"
    load = Load(service.base, service.admin, estimate_clients=3, database_clients=1)
    load.start()
    try:
        async with httpx.AsyncClient(base_url=service.base, timeout=40) as client:
            await asyncio.sleep(1.0)
            log_mark = len(service.server.text())
            redis_broker.stop()
            refused = []
            for n in range(3):
                r, elapsed = await _import(client, service.admin, _fees("broker-fault", f"1{n}0.00"))
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"].isdigit() and r.headers["content-type"].startswith("application/problem+json")
                assert elapsed <= IMPORT_BOUND, elapsed
                refused.append(r.json()["detail"])
            # Nothing of the refused uploads is left on disk.
            left = [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []
            assert left == [], left
            # Each refused import is on record as failed (its id is in the problem's detail).
            page = (await client.get("/v1/imports", headers=service.admin, params={"status": "failed"})).json()
            failed_ids = {i["import_id"] for i in page["imports"]}
            assert all(any(i in detail for i in failed_ids) for detail in refused), (refused, failed_ids)

            redis_broker.start()
            r, _ = await _import(client, service.admin, _fees("broker-fault", "999.00"))
            assert r.status_code == 202, r.text
    finally:
        await load.stop()

    wrong = [p for a in load.answers if (p := check_answer(a, estimate_bound=2.0, database_bound=2.0))]
    assert not wrong, wrong[:5]
    estimates = [a for a in load.answers if a.route == "estimate"]
    assert estimates and all(a.status == 201 for a in estimates), sorted({a.status for a in estimates})
    log = service.server.text()[log_mark:]
    # One line when the broker failed (not one per import), one when it was back; no traceback.
    assert log.count("broker unavailable (") == 1, log[-3000:]
    assert "broker available again" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
