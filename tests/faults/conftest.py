"""Fixtures of the fault tests: one PostgreSQL cluster, one Redis and one `costsvc serve`
process for the session, all started here (never the machine's own servers), broken and
repaired by the tests while the same server keeps running."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.support import METRICS_TOKEN, Postgres, Redis, Server, create_admin_key, server_env

# The job tests' real worker processes and brokers (every broker of TEST_BROKER_URLS).
from tests.jobs.conftest import broker_url, embedded_redis, job_env  # noqa: F401


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def pg() -> Iterator[Postgres]:
    cluster = Postgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def redis_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    broker = Redis(tmp_path_factory.mktemp("faults-redis"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


class Service:
    """The server under test and what a client needs to call it."""

    def __init__(self, server: Server, admin_key: str, data_dir: Path):
        self.server = server
        self.base = server.base
        self.admin = {"Authorization": f"Bearer {admin_key}"}
        self.data_dir = data_dir


@pytest.fixture(scope="session")
def service(pg: Postgres, redis_broker: Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("faults-server")
    # Summaries every 2 s instead of 10: the outage lines show within a short test.
    # Two workers, as deployed (docker-compose.yml): each process meets the fault on its own.
    env = server_env(pg.url, folder / "data", CELERY_BROKER_URL=redis_broker.url, COSTSVC_OUTAGE_LOG_INTERVAL="2",
                     COSTSVC_WORKERS="2",
                     COSTSVC_METRICS_TOKEN=METRICS_TOKEN)
    server = Server(env, folder / "server.log")
    try:
        server.wait_ready()
        deadline = time.monotonic() + 60  # /ready answered by one worker; the other may still be starting
        while server.text().count("Started server process") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server.text().count("Started server process") == 2, server.text()[-3000:]
        yield Service(server, create_admin_key(env), folder / "data")
    finally:
        server.stop()
