"""The outage reporter: one line when a dependency fails, one summary per interval with
the count, one on recovery (by a caller or by the probe), never a line per failure."""

from __future__ import annotations

import asyncio
import logging

import pytest

from costsvc.outages import Outages


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "costsvc.outages"]


async def test_one_line_per_outage_and_interval(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    outages = Outages(interval=0.2)
    db = outages["database"]
    for _ in range(50):
        db.failed(ConnectionRefusedError("[Errno 111] Connection refused"))
    await asyncio.sleep(0.3)
    for _ in range(7):
        db.failed(TimeoutError())
    await asyncio.sleep(0.2)
    db.ok()
    db.ok()  # not failing any more: nothing to say
    lines = _lines(caplog)
    assert lines[0] == ("database unavailable (ConnectionRefusedError: [Errno 111] Connection refused); "
                        "requests that need it are answered 503 until it is back")
    assert lines[1].startswith("database still unavailable: 50 failures in the last")
    assert lines[2].startswith("database still unavailable: 7 failures in the last")
    assert lines[3].startswith("database available again after") and lines[3].endswith("(57 failures)")
    assert len(lines) == 4
    record = next(r for r in caplog.records if r.getMessage() == lines[3])
    assert record.dependency == "database" and record.failures == 57 and record.outage == "end"
    outages.close()


async def test_the_probe_notices_recovery(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    answers = iter([ConnectionError("down"), None])

    async def probe() -> None:
        answer = next(answers)
        if answer is not None:
            raise answer

    outages = Outages(interval=0.05)
    broker = outages.watch("broker", probe)
    broker.failed(ConnectionError("refused"))
    for _ in range(40):
        if not broker.failing:
            break
        await asyncio.sleep(0.05)
    assert not broker.failing
    lines = _lines(caplog)
    assert lines[0].startswith("broker unavailable (ConnectionError: refused)")
    assert lines[1].startswith("broker still unavailable: 1 failures")
    assert lines[2].startswith("broker available again after")
    outages.close()


def test_a_failure_without_an_error_only_counts_towards_a_known_outage(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    dep = Outages()["database"]
    dep.failed(None)
    assert not dep.failing and _lines(caplog) == []
