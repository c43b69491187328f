"""PostgreSQL stopped, frozen and killed under concurrent load, with the same server
process throughout: estimates keep being answered (not stored) within their bound,
the routes that need the database answer 503 with Retry-After, nothing else fails,
the server recovers by itself, and every estimate answered 201 is still there.

The bounds are the documented defaults (README, "When a dependency fails"), with a
few seconds of slack for a shared 2-core machine."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest

from costsvc.db.pool import Timeouts
from costsvc.settings import Settings
from tests.faults.load import Answer, Load, check_answer
from tests.faults.support import METRICS_TOKEN, Postgres

DEFAULTS = Settings()
SLACK = 3.0
ESTIMATE_BOUND = DEFAULTS.estimate_store_timeout + SLACK
DATABASE_BOUND = Timeouts.of(DEFAULTS).request_bound + SLACK
RECOVERY_BOUND = 15.0  # seconds from the database being back to estimates stored again
UNDER_FAULT = 8.0  # seconds of load while the database is away


async def _wait_for(load: Load, since: float, route: str, status: int, timeout: float) -> float:
    """When the first answer of ``route`` started after ``since`` came back ``status``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hits = [a.started for a in load.between(since) if a.route == route and a.status == status]
        if hits:
            return min(hits) - since
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {status} from {route} within {timeout} s of the database coming back")


def _inject(pg: Postgres, fault: str) -> list[int]:
    if fault == "stop":
        pg.stop()
        return []
    if fault == "freeze":
        frozen = pg.processes()
        pg.signal_all(signal.SIGSTOP)
        return frozen
    pg.kill()
    return []


def _repair(pg: Postgres, fault: str, frozen: list[int]) -> None:
    if fault == "freeze":
        for pid in frozen:
            try:
                import os

                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    else:
        pg.start()  # after a kill: crash recovery from the WAL


@pytest.mark.parametrize("fault", ["stop", "freeze", "kill"])
async def test_database_fault_under_load(service, pg: Postgres, fault: str):
    load = Load(service.base, service.admin)
    load.start()
    try:
        await asyncio.sleep(2.0)
        assert load.created, "no estimate was stored before the fault: " + repr(load.answers[-3:])
        log_mark = len(service.server.text())
        fault_at = time.monotonic()
        frozen = _inject(pg, fault)
        await asyncio.sleep(UNDER_FAULT)
        repaired_at = time.monotonic()
        _repair(pg, fault, frozen)
        recovery = await _wait_for(load, repaired_at, "estimate", 201, RECOVERY_BOUND)
        await _wait_for(load, repaired_at, "stored", 200, RECOVERY_BOUND)
    finally:
        await load.stop()

    wrong = [p for a in load.answers if (p := check_answer(a, estimate_bound=ESTIMATE_BOUND,
                                                           database_bound=DATABASE_BOUND))]
    slowest = {route: max((a.elapsed for a in load.answers if a.route == route and a.started >= fault_at), default=0)
               for route in ("estimate", "batch", "compare", "stored", "imports", "verifications", "audit", "gfes",
                             "ready")}
    print(f"{fault}: {len(load.answers)} answers, slowest under and after the fault (s): {slowest}")
    assert not wrong, f"{len(wrong)} wrong answers, e.g. {wrong[:5]}"
    # Once the fault has had its bound to show, every estimate is answered not stored and
    # every route that needs the database 503.
    settled: list[Answer] = [a for a in load.between(fault_at + ESTIMATE_BOUND, repaired_at)
                             if a.started + a.elapsed < repaired_at]
    estimates = [a for a in settled if a.route == "estimate"]
    assert len(estimates) >= 10, f"too little load under the fault: {len(estimates)} estimates"
    assert all(a.status == 200 for a in estimates), sorted({a.status for a in estimates})
    needing = [a for a in load.between(fault_at + 0.5, repaired_at) if a.started + a.elapsed < repaired_at
               and a.route in ("stored", "imports", "verifications", "audit", "gfes", "ready")]
    assert needing and all(a.status == 503 for a in needing), sorted({(a.route, a.status) for a in needing})
    assert recovery <= RECOVERY_BOUND

    # Every estimate answered 201 — before, during and after the fault — is still there, byte for byte.
    async with httpx.AsyncClient(base_url=service.base, timeout=30) as client:
        for estimate_id, body in load.created.items():
            r = await client.get(f"/v1/estimates/{estimate_id}")
            assert r.status_code == 200 and r.content == body, (estimate_id, r.status_code)

    # The degraded answers are counted for the operator (route templates as labels).
    async with httpx.AsyncClient(base_url=service.base, timeout=30) as client:
        scrape = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    degraded = [line for line in scrape.text.splitlines()
                if line.startswith('costsvc_degraded_answers_total{route="/v1/estimates"}')]
    assert degraded and float(degraded[0].split()[-1]) >= len(estimates), degraded

    # The outage is told in a few lines, not a traceback per request (the access lines,
    # one per request by design, aside).
    log = "".join(line for line in service.server.text()[log_mark:].splitlines(keepends=True)
                  if '"costsvc.access"' not in line)
    assert "database unavailable (" in log and "database available again after" in log, log[-3000:]
    assert "Traceback" not in log, log[-5000:]
    failed = len([a for a in load.answers if a.started >= fault_at and (a.status == 503 or a.body.find(b'"stored":false') >= 0)])
    lines = log.count("\n")
    assert lines <= 10 + UNDER_FAULT + RECOVERY_BOUND, f"{lines} log lines for {failed} failed answers:\n{log[-3000:]}"
