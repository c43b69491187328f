"""Fixtures for the job tests: every broker of TEST_BROKER_URLS, else the local Redis
and RabbitMQ that answer, else (a machine with only Python) an embedded Redis server.

A broker named in TEST_BROKER_URLS that does not answer FAILS the tests that need it
(CI names this machine's Redis and RabbitMQ)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.jobs.support import EMBEDDED, EmbeddedRedis, JobEnv, broker_id, broker_urls, check_broker


@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("embedded-redis"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=broker_urls(), ids=broker_id)
def broker_url(request: pytest.FixtureRequest) -> str:
    url = request.param
    if url == EMBEDDED:
        return request.getfixturevalue("embedded_redis")
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
