"""``costsvc phi rotate``: every stored token moves to the first key, lookups keep working."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from costsvc.api.app import create_app
from costsvc.phi import PhiDecryptError, PhiVault, generate_key
from costsvc.settings import Settings
from tests.jobs.test_cli import _costsvc
from tests.verification.conftest import bearer, make_keys
from tests.verification.test_verification_http import BODY, MEMBER


async def _record_under(db_url: str, keys: str, staff_key: str, count: int) -> None:
    app = create_app(Settings(phi_keys=keys), database_url=db_url)
    async with AsyncTestClient(app=app) as client:
        for i in range(count):
            body = {**BODY, "notes": f"called twice {i}"}
            r = await client.post("/v1/verifications", json=body, headers=bearer(staff_key))
            assert r.status_code == 201, r.text
        estimate = await client.post("/v1/estimates", json={"program_id": "sunrise-recovery", "level_of_care": "iop"})
        assert estimate.status_code == 201, estimate.text
        gfe = await client.post(f"/v1/estimates/{estimate.json()['estimate_id']}/gfe", json=GFE)
        assert gfe.status_code == 201, gfe.text


GFE = {"patient": {"name": "Jordan Rivera", "date_of_birth": "1990-04-12"}, "requested_by": "patient"}


async def test_rotation_moves_every_token_to_the_new_key(db_url):
    old, new = generate_key(), generate_key()
    staff, _ = await make_keys(db_url)
    await _record_under(db_url, old, staff.key, 3)

    # the operator's procedure: new key first, old kept for reading, then rotate
    rotated = await asyncio.to_thread(_costsvc, db_url, "phi", "rotate", COSTSVC_PHI_KEY=f"{new},{old}")
    assert rotated.returncode == 0, rotated.stderr
    assert "3 verifications row(s)" in rotated.stdout and "1 gfes row(s)" in rotated.stdout

    only_new = PhiVault.from_config(new)
    only_old = PhiVault.from_config(old)
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch("SELECT member_id_enc, member_id_hash, patient_enc, notes_enc FROM verifications")
        (gfe_phi,) = [r["phi"] for r in await conn.fetch("SELECT phi FROM gfes")]
    finally:
        await conn.close()
    assert len(rows) == 3
    for r in rows:
        assert only_new.decrypt_text(r["member_id_enc"]) == MEMBER
        assert "Juniper" in only_new.decrypt_text(r["patient_enc"])
        assert only_new.decrypt_text(r["notes_enc"]).startswith("called twice")
        assert r["member_id_hash"] == only_new.lookup_hash(MEMBER)
        with pytest.raises(PhiDecryptError):
            only_old.decrypt(r["member_id_enc"])

    assert "Jordan Rivera" in only_new.decrypt_text(gfe_phi)
    with pytest.raises(PhiDecryptError):
        only_old.decrypt(gfe_phi)

    # the old key dropped: the service still reads and finds everything
    app = create_app(Settings(phi_keys=new), database_url=db_url)
    async with AsyncTestClient(app=app) as client:
        r = await client.post("/v1/verifications/search", json={"member_id": MEMBER}, headers=bearer(staff.key))
        assert r.status_code == 200 and len(r.json()["verifications"]) == 3


def test_rotate_without_a_key_is_refused(db_url):
    result = _costsvc(db_url, "phi", "rotate")
    assert result.returncode == 2 and "COSTSVC_PHI_KEY" in result.stderr


def test_embedded_default_generates_a_key_once(tmp_path):
    from costsvc.phi import embedded_key, vault_from_settings

    key, path, created = embedded_key(tmp_path)
    assert created and path.stat().st_mode & 0o777 == 0o600
    assert embedded_key(tmp_path) == (key, path, False)
    assert vault_from_settings(Settings(data_dir=str(tmp_path)), embedded=True) is not None
    assert vault_from_settings(Settings(data_dir=str(tmp_path / "other")), embedded=False) is None


async def test_a_dropped_key_is_a_clear_503_not_a_500(db_url):
    staff, _ = await make_keys(db_url)
    await _record_under(db_url, generate_key(), staff.key, 1)
    app = create_app(Settings(phi_keys=generate_key()), database_url=db_url)
    async with AsyncTestClient(app=app) as client:
        r = await client.get("/v1/verifications", headers=bearer(staff.key))
        assert r.status_code == 503 and "costsvc phi rotate" in r.json()["detail"]
