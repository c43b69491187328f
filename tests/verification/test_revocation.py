"""A revoked key is refused at once in every API process: two app instances on one
database, each with a key cache that would otherwise serve the key for an hour."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from litestar.testing import AsyncTestClient

from costsvc.api.app import create_app
from costsvc.auth import hash_key
from tests.jobs.test_cli import _costsvc
from tests.verification.conftest import bearer, make_keys


async def _wait_for(predicate, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "the revocation was not heard"
        await asyncio.sleep(0.02)


async def test_revoked_key_is_refused_at_once_by_every_process(db_url, phi_settings):
    staff, _ = await make_keys(db_url)
    headers = bearer(staff.key)
    async with contextlib.AsyncExitStack() as stack:
        apps = [create_app(phi_settings, database_url=db_url) for _ in range(2)]
        clients = [await stack.enter_async_context(AsyncTestClient(app=app)) for app in apps]
        for app in apps:
            app.state.api_key_cache.ttl = 3600.0  # only the notification can make it forget
        for client in clients:
            assert (await client.get("/v1/verifications", headers=headers)).status_code == 200
        for app in apps:
            assert app.state.api_key_cache.get(hash_key(staff.key)) is not None  # cached

        revoked = await asyncio.to_thread(_costsvc, db_url, "apikey", "revoke", str(staff.key_id))
        assert revoked.returncode == 0, revoked.stderr
        assert "at once" in revoked.stdout
        for app in apps:
            await _wait_for(lambda app=app: app.state.key_revocations.revocations >= 1)
        for client in clients:
            r = await client.get("/v1/verifications", headers=headers)
            assert r.status_code == 401
            assert r.json()["detail"] == "The API key is unknown or revoked."


async def test_a_deaf_listener_makes_every_request_ask_the_database(db_url, phi_settings):
    staff, _ = await make_keys(db_url)
    app = create_app(phi_settings, database_url=db_url)
    async with AsyncTestClient(app=app) as client:
        app.state.key_revocations._reconnect_delay = 4.0  # deaf long enough to look at
        # the listening connection drops (as when PostgreSQL restarts)
        conn = await asyncpg.connect(db_url)
        try:
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%api_key_revoked%'")
        finally:
            await conn.close()
        assert killed == 1
        await _wait_for(lambda: not app.state.api_key_cache.enabled)
        assert (await client.get("/v1/verifications", headers=bearer(staff.key))).status_code == 200
        assert app.state.api_key_cache.get(hash_key(staff.key)) is None  # nothing cached while deaf
        await _wait_for(lambda: app.state.api_key_cache.enabled, timeout=15.0)  # reconnected
