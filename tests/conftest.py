"""Shared fixtures: a real PostgreSQL for every database test.

With TEST_DATABASE_URL set (CI's second pass: this machine's PostgreSQL) the tests
create their own databases on that server; otherwise they start the embedded
server (pgserver) in .data/test-pg.  Either way a migrated, demo-seeded template
database is built once per session and each test that needs isolation gets a
fresh copy of it (CREATE DATABASE ... TEMPLATE: milliseconds).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    from costsvc.db.embedded import start_embedded, stop_embedded

    yield start_embedded(ROOT / ".data" / "test")
    stop_embedded(ROOT / ".data" / "test")  # `make test` leaves no server running


class DatabaseFactory:
    def __init__(self, server_url: str, template: str):
        self.server_url = server_url
        self.template = template
        self.created: list[str] = []

    async def create(self) -> str:
        name = f"costsvc_t_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(self.server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await admin.close()
        self.created.append(name)
        return _with_database(self.server_url, name)

    async def drop_all(self) -> None:
        admin = await asyncpg.connect(self.server_url)
        try:
            for name in [*self.created, self.template]:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def databases(server_url: str) -> AsyncIterator[DatabaseFactory]:
    from costsvc.db.migrate import migrate_url
    from costsvc.demo import seed_demo

    template = f"costsvc_tpl_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{template}"')
    finally:
        await admin.close()
    url = _with_database(server_url, template)
    await migrate_url(url)
    await seed_demo(url, force=True)
    factory = DatabaseFactory(server_url, template)
    yield factory
    await factory.drop_all()


@pytest.fixture
async def db_url(databases: DatabaseFactory) -> str:
    """A fresh, migrated database holding the demo dataset."""
    return await databases.create()


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    from costsvc.db.pool import connect

    connection = await connect(db_url)
    yield connection
    await connection.close()


@pytest.fixture
async def client(db_url: str):
    from litestar.testing import AsyncTestClient

    from costsvc.api.app import create_app

    app = create_app(database_url=db_url)
    async with AsyncTestClient(app=app) as test_client:
        test_client.app_state = app.state  # type: ignore[attr-defined]
        yield test_client


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Anything that touches PostgreSQL is a `db` test: CI runs those twice (embedded and real server)."""
    for item in items:
        if "databases" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
