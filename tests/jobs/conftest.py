"""Fixtures for the job tests: every broker of TEST_BROKER_URLS (Redis and RabbitMQ by default).

A broker that does not answer FAILS the tests that need it (CI has both)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jobs.support import JobEnv, broker_id, broker_urls, check_broker


@pytest.fixture(params=broker_urls(), ids=broker_id)
def broker_url(request: pytest.FixtureRequest) -> str:
    url = request.param
    problem = check_broker(url)
    if problem is not None:
        pytest.fail(f"broker {url} is not reachable ({problem}); the broker tests need it (TEST_BROKER_URLS)")
    return url


@pytest.fixture
def job_env(broker_url: str, db_url: str, tmp_path: Path) -> Iterator[JobEnv]:
    env = JobEnv(broker_url, db_url, tmp_path)
    try:
        yield env
    finally:
        env.close()
