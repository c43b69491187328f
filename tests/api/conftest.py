"""Fixtures of the HTTP tests that import files: the app with eager jobs, an import
root and a data folder of the test's own, and API keys."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from costsvc.auth import create_api_key
from costsvc.settings import get_settings


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    root, data = tmp_path / "import-root", tmp_path / "data"
    root.mkdir()
    return root, data


@pytest.fixture
async def api(db_url, roots):
    """The app with an import root and a data folder of this test's own; eager jobs."""
    from litestar.testing import AsyncTestClient

    from costsvc.api.app import create_app
    from jobs.tasks import is_eager

    assert is_eager(), "these tests run the jobs eagerly: unset CELERY_BROKER_URL"
    root, data = roots
    settings = msgspec.structs.replace(get_settings(), import_root=str(root), data_dir=str(data))
    app = create_app(settings, database_url=db_url)
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
async def keys(conn) -> dict[str, dict[str, str]]:
    admin = await create_api_key(conn, role="admin", name="ops")
    staff = await create_api_key(conn, role="staff", name="front desk")
    return {
        "admin": {"Authorization": f"Bearer {admin.key}"},
        "staff": {"Authorization": f"Bearer {staff.key}"},
    }
