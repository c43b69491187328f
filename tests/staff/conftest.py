"""Fixtures for the staff console: the app with a PHI key, a staff and an admin key,
and a client that signs in through the console's own forms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from costsvc.phi import generate_key
from costsvc.settings import Settings
from tests.verification.conftest import bearer, make_keys

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@dataclass
class Console:
    client: Any
    app: Any
    db_url: str
    staff_key: str
    admin_key: str
    staff_key_id: str

    async def sign_in(self, key: str | None = None) -> str:
        """Signs in with ``key`` (the staff key) and returns the session's CSRF token."""
        r = await self.client.get("/staff/sign-in")
        assert r.status_code == 200, r.text
        r = await self.client.post("/staff/sign-in", data={"csrf_token": csrf_of(r.text),
                                                            "api_key": key or self.staff_key})
        assert r.status_code == 303 and r.headers["location"] == "/staff", r.text
        r = await self.client.get("/staff")
        assert r.status_code == 200, r.text
        return csrf_of(r.text)

    def api(self, key: str | None = None) -> dict[str, str]:
        return bearer(key or self.staff_key)


@pytest.fixture
async def console(db_url: str):
    from litestar.testing import AsyncTestClient

    from costsvc.api.app import create_app

    staff, admin = await make_keys(db_url)
    app = create_app(Settings(phi_keys=generate_key()), database_url=db_url)
    # https: the session cookie is Secure, and a client honours that like a browser
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as client:
        client.follow_redirects = False  # each test looks at the redirects themselves
        yield Console(client, app, db_url, staff.key, admin.key, str(staff.key_id))
