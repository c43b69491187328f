"""Fixtures for the verification tests: an app with a PHI key, and staff/admin keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from costsvc.phi import generate_key
from costsvc.settings import Settings


@dataclass
class Staffed:
    client: Any
    app: Any
    db_url: str
    staff: dict[str, str]
    admin: dict[str, str]
    staff_key_id: str
    admin_key_id: str


async def make_keys(db_url: str) -> tuple[Any, Any]:
    from costsvc.auth import create_api_key
    from costsvc.db.pool import connect

    conn = await connect(db_url)
    try:
        staff = await create_api_key(conn, role="staff", name="benefits desk")
        admin = await create_api_key(conn, role="admin", name="compliance")
    finally:
        await conn.close()
    return staff, admin


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def phi_settings() -> Settings:
    return Settings(phi_keys=generate_key())


@pytest.fixture
async def staffed(db_url: str, phi_settings: Settings):
    from litestar.testing import AsyncTestClient

    from costsvc.api.app import create_app

    staff, admin = await make_keys(db_url)
    app = create_app(phi_settings, database_url=db_url)
    async with AsyncTestClient(app=app) as client:
        yield Staffed(client, app, db_url, bearer(staff.key), bearer(admin.key), str(staff.key_id),
                      str(admin.key_id))
