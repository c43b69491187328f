"""The import API through HTTP, with the real app (eager jobs) on a real PostgreSQL with the demo data."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest

from costsvc.auth import KeyCache, create_api_key
from costsvc.settings import get_settings

FEE_HEADER = (
    "program_id,program_name,npi,tin,state,level_of_care,billing_code,description,frequency,"
    "gross_charge,cash_price,effective_date\n"
)
SUNRISE_IOP = (
    FEE_HEADER
    + "sunrise-recovery,Sunrise Recovery Center,1645987326,74-2918365,TX,iop,H0015,"
    '"IOP, per day",per_service,{h0015},425.00,2026-01-01\n'
    + "sunrise-recovery,Sunrise Recovery Center,1645987326,74-2918365,TX,iop,90791,Intake,per_episode,"
    "350.00,200.00,2026-01-01\n"
)
ESTIMATE = {
    "program_id": "sunrise-recovery",
    "level_of_care": "iop",
    "coverage": {"plan_id": "acme-ppo-gold", "network": "auto", "tier": "individual"},
    "episode": {"start_date": "2026-12-01", "weeks": 12, "days_per_week": 3},
    "household": {"size": 3, "annual_income": "41000.00", "state": "CA"},
}


def _fees(program: str, rows: int, gross: str = "100.00") -> bytes:
    lines = [FEE_HEADER] + [
        f"{program},Test Program,,,TX,iop,H0015,IOP,per_service,{gross},,2026-01-{1 + i:02d}\n"
        for i in range(rows)
    ]
    return "".join(lines).encode()


async def _upload(api, headers, name: str, content: bytes, kind: str = "fee_schedule", **fields: str):
    return await api.post(
        "/v1/imports",
        headers=headers,
        data={"kind": kind, **fields},
        files={"file": (name, content, "text/csv")},
    )


async def _finished(api, headers, import_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = await api.get(f"/v1/imports/{import_id}", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in ("succeeded", "rejected", "failed") or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


async def test_no_key_401_wrong_role_403(api, keys, conn):
    r = await api.get("/v1/imports")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["status"] == 401
    r = await api.get("/v1/imports", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401 and "invalid_request" in r.headers["www-authenticate"]
    r = await api.get("/v1/imports", headers={"Authorization": "Bearer csk_not-a-real-key"})
    assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]
    r = await api.post(
        "/v1/imports", headers=keys["staff"], json={"kind": "fee_schedule", "source_path": "x"}
    )
    assert r.status_code == 403 and r.json()["title"] == "Forbidden" and "admin" in r.json()["detail"]
    r = await api.get("/v1/imports", headers=keys["admin"])
    assert r.status_code == 200
    # A revoked key (not in this process's cache) is refused at once.
    revoked = await create_api_key(conn, role="admin", name="gone")
    await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = $1", revoked.key_id)
    r = await api.get("/v1/imports", headers={"Authorization": f"Bearer {revoked.key}"})
    assert r.status_code == 401
    stamped = await conn.fetchval("SELECT last_used_at FROM api_keys WHERE name = 'ops'")
    assert stamped is not None


def test_key_cache_forgets_after_its_ttl():
    from costsvc.auth import ApiKeyPrincipal

    cache = KeyCache(ttl=0.05)
    principal = ApiKeyPrincipal(key_id=__import__("uuid").uuid4(), name="x", role="admin")
    cache.put("h", principal)
    assert cache.get("h") == principal
    time.sleep(0.06)
    assert cache.get("h") is None  # a revoked key stops working within the TTL


async def test_upload_is_accepted_then_succeeds(api, keys, roots):
    _, data = roots
    r = await _upload(api, keys["admin"], "../../Fees 2026.csv", _fees("api-upload", 3))
    assert r.status_code == 202, r.text
    body = r.json()
    assert r.headers["location"] == f"/v1/imports/{body['import_id']}"
    assert (
        body["kind"] == "fee_schedule"
        and body["source"] == "Fees_2026.csv"
        and body["started_by"] == "apikey:ops"
    )
    done = await _finished(api, keys["admin"], body["import_id"])
    assert (done["status"], done["rows_read"], done["rows_accepted"], done["rows_rejected"]) == (
        "succeeded",
        3,
        3,
        0,
    )
    assert done["version"]["current"] is True and done["version"]["activated_at"]
    assert done["errors"] == {"total": 0, "offset": 0, "limit": 100, "items": []}
    stored = data / "uploads" / body["import_id"] / "Fees_2026.csv"
    assert stored.read_bytes() == _fees("api-upload", 3)
    assert list((data / "uploads" / ".incoming").iterdir()) == []


async def test_uploads_are_not_held_to_the_json_body_limit(api, keys):
    """The app refuses bodies over 1 MB (COSTSVC_MAX_BODY_BYTES); the upload route takes files far larger."""
    rows = "".join(f"api-big-{i},Test Program,,,TX,iop,H0015,IOP,per_service,100.00,,2026-01-01\n"
                   for i in range(40_000))  # fmt: skip
    content = (FEE_HEADER + rows).encode()
    assert len(content) > 2 * get_settings().max_body_bytes
    r = await _upload(api, keys["admin"], "big.csv", content)
    assert r.status_code == 202, r.text
    done = await _finished(api, keys["admin"], r.json()["import_id"])
    assert (done["status"], done["rows_accepted"]) == ("succeeded", 40_000)
    r = await api.post(
        "/v1/imports", headers=keys["admin"], json={"kind": "fee_schedule", "source_path": "x" * 70_000}
    )
    assert r.status_code == 413  # a JSON request is small


async def test_list_filter_and_paginate(api, keys):
    admin = keys["admin"]
    ids = []
    for i in range(3):
        r = await _upload(api, admin, f"f{i}.csv", _fees(f"api-list-{i}", 1 + i))
        assert r.status_code == 202, r.text
        ids.append(r.json()["import_id"])
    bad = await _upload(api, admin, "bad.csv", _fees("api-list-bad", 1, gross="-1"))
    for import_id in [*ids, bad.json()["import_id"]]:
        await _finished(api, admin, import_id)

    r = await api.get("/v1/imports", headers=admin, params={"status": "rejected"})
    assert r.status_code == 200
    assert [i["import_id"] for i in r.json()["imports"]] == [bad.json()["import_id"]]
    assert r.json()["total"] == 1
    # The demo's three imports plus these four, newest first, two per page.
    r = await api.get("/v1/imports", headers=admin, params={"kind": "fee_schedule", "limit": 2})
    page1 = r.json()
    assert page1["total"] == 5 and page1["limit"] == 2 and len(page1["imports"]) == 2
    assert page1["imports"][0]["import_id"] == bad.json()["import_id"]
    r = await api.get("/v1/imports", headers=admin, params={"kind": "fee_schedule", "limit": 2, "offset": 4})
    assert [i["source"] for i in r.json()["imports"]] == ["demo/fee_schedule.csv"]
    r = await api.get("/v1/imports", headers=admin, params={"status": "nonsense"})
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith("application/problem+json")
    r = await api.get("/v1/imports", headers=admin, params={"limit": 0})
    assert r.status_code in (400, 422)


async def test_row_errors_are_paginated_and_nothing_is_activated(api, keys):
    admin = keys["admin"]
    content = _fees("api-errors", 6, gross="oops")
    r = await _upload(api, admin, "errors.csv", content)
    done = await _finished(api, admin, r.json()["import_id"])
    assert done["status"] == "rejected" and done["version"] is None and done["rows_rejected"] == 6
    assert done["errors"]["total"] == 6
    r = await api.get(
        f"/v1/imports/{done['import_id']}", headers=admin, params={"errors_offset": 2, "errors_limit": 3}
    )
    page = r.json()["errors"]
    assert [(e["seq"], e["line"], e["column"]) for e in page["items"]] == [
        (3, 4, "gross_charge"),
        (4, 5, "gross_charge"),
        (5, 6, "gross_charge"),
    ]
    assert page["total"] == 6 and page["offset"] == 2 and page["limit"] == 3
    r = await api.post(f"/v1/imports/{done['import_id']}/activate", headers=admin)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    r = await api.get("/v1/imports/00000000-0000-0000-0000-000000000000", headers=admin)
    assert r.status_code == 404


async def _billed(api) -> str:
    r = await api.post("/v1/estimates", json=ESTIMATE)
    assert r.status_code == 201, r.text
    return r.json()["totals"]["billed"]


async def _until_billed(api, expected: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    billed = await _billed(api)
    while billed != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        billed = await _billed(api)
    assert billed == expected


async def test_activate_rolls_back_and_forward_and_estimates_follow(api, keys):
    admin = keys["admin"]
    assert await _billed(api) == "27350.00"  # demo: 36 days x 750 + intake 350
    r = await _upload(api, admin, "sunrise-iop.csv", SUNRISE_IOP.format(h0015="800.00").encode())
    new = await _finished(api, admin, r.json()["import_id"])
    assert new["status"] == "succeeded", new
    await _until_billed(api, "29150.00")  # 36 x 800 + 350

    r = await api.get("/v1/imports", headers=admin, params={"kind": "fee_schedule"})
    demo = next(i for i in r.json()["imports"] if i["source"] == "demo/fee_schedule.csv")
    assert demo["version"]["current"] is True  # still current for the programs/levels the new file lacks

    r = await api.post(f"/v1/imports/{demo['import_id']}/activate", headers=admin)  # roll back
    assert r.status_code == 200, r.text
    await _until_billed(api, "27350.00")
    r = await api.get(f"/v1/imports/{new['import_id']}", headers=admin)
    assert r.json()["version"]["current"] is False

    r = await api.post(f"/v1/imports/{new['import_id']}/activate", headers=admin)  # and forward
    assert r.status_code == 200 and r.json()["version"]["current"] is True
    await _until_billed(api, "29150.00")


async def test_server_side_path_must_stay_under_the_import_root(api, keys, roots, tmp_path: Path):
    admin = keys["admin"]
    root, _ = roots
    outside = tmp_path / "outside.csv"
    outside.write_bytes(_fees("api-outside", 1))
    (root / "link.csv").symlink_to(outside)
    (root / "sub").mkdir()
    (root / "sub" / "inside.csv").write_bytes(_fees("api-inside", 2))

    for path in ("../outside.csv", str(outside), "link.csv", "sub/../../outside.csv"):
        r = await api.post("/v1/imports", headers=admin, json={"kind": "fee_schedule", "source_path": path})
        assert r.status_code == 403, (path, r.text)
        assert r.json()["errors"][0]["field"] == "source_path"
    r = await api.post(
        "/v1/imports", headers=admin, json={"kind": "fee_schedule", "source_path": "sub/nope.csv"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "source_path"

    r = await api.post(
        "/v1/imports", headers=admin, json={"kind": "fee_schedule", "source_path": "sub/inside.csv"}
    )
    assert r.status_code == 202, r.text
    done = await _finished(api, admin, r.json()["import_id"])
    assert done["status"] == "succeeded" and done["rows_accepted"] == 2
    assert done["source"] == str((root / "sub" / "inside.csv").resolve())
    # The same path in a multipart form works too.
    r = await api.post(
        "/v1/imports",
        headers=admin,
        files={"kind": (None, "fee_schedule"), "source_path": (None, "../outside.csv")},
    )
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "source_path"


async def test_server_side_imports_are_refused_without_an_import_root(db_url, keys, tmp_path: Path):
    from litestar.testing import AsyncTestClient

    from costsvc.api.app import create_app

    settings = msgspec.structs.replace(get_settings(), import_root=None, data_dir=str(tmp_path))
    async with AsyncTestClient(app=create_app(settings, database_url=db_url)) as client:
        r = await client.post(
            "/v1/imports", headers=keys["admin"], json={"kind": "fee_schedule", "source_path": "/etc/passwd"}
        )
    assert r.status_code == 403 and "COSTSVC_IMPORT_ROOT" in r.json()["detail"]


@pytest.fixture
async def live_url(db_url, roots):
    """The app behind a real uvicorn server (in a thread): requests really run concurrently."""
    import socket
    import threading

    import uvicorn

    from costsvc.api.app import create_app

    root, data = roots
    settings = msgspec.structs.replace(get_settings(), import_root=str(root), data_dir=str(data))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings, database_url=db_url), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the server did not start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 20)
        sock.close()


async def test_two_simultaneous_uploads_of_one_file_make_one_import(live_url, keys, conn):
    """Both bodies are half sent before either is finished: the two requests are in the
    server at the same moment, and the pipeline's dedupe lock makes them one import."""
    import httpx

    content = (
        FEE_HEADER
        + "".join(
            f"api-twice-{i},Test Program,,,TX,iop,H0015,IOP,per_service,100.00,,2026-01-01\n"
            for i in range(2000)
        )
    ).encode()
    boundary = "costsvc-test-boundary"
    started = [asyncio.Event(), asyncio.Event()]

    async def body(me: int, filename: str):
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nfee_schedule\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        yield content[: len(content) // 2]
        started[me].set()
        await started[1 - me].wait()
        yield content[len(content) // 2 :] + f"\r\n--{boundary}--\r\n".encode()

    headers = {**keys["admin"], "Content-Type": f"multipart/form-data; boundary={boundary}"}
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as http:
        first, second = await asyncio.gather(
            http.post("/v1/imports", headers=headers, content=body(0, "same.csv")),
            http.post("/v1/imports", headers=headers, content=body(1, "same-again.csv")),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 202], (first.text, second.text)
        assert first.json()["import_id"] == second.json()["import_id"]
        assert sorted([first.json()["deduplicated"], second.json()["deduplicated"]]) == [False, True]
        import_id = first.json()["import_id"]
        deadline = time.monotonic() + 30
        while (r := await http.get(f"/v1/imports/{import_id}", headers=keys["admin"])).json()["status"] in (
            "queued",
            "running",
        ) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert r.json()["status"] == "succeeded" and r.json()["rows_accepted"] == 2000
        # Sent again later: still a no-op pointing at the same import.
        again = await http.post(
            "/v1/imports",
            headers=keys["admin"],
            data={"kind": "fee_schedule"},
            files={"file": ("later.csv", content, "text/csv")},
        )
        assert (
            again.status_code == 200
            and again.json()["import_id"] == import_id
            and again.json()["deduplicated"]
        )
    assert (
        await conn.fetchval("SELECT count(*) FROM imports WHERE source LIKE 'same%' OR source = 'later.csv'")
        == 1
    )


async def test_invalid_requests_list_every_field(api, keys):
    admin = keys["admin"]
    r = await api.post("/v1/imports", headers=admin, json={"kind": "nonsense", "allow_partial": "maybe"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"kind", "allow_partial", "file"}
    r = await api.post("/v1/imports", headers=admin, json={"kind": "nonsense"})
    assert {e["field"] for e in r.json()["errors"]} == {"kind", "file"}
    r = await _upload(api, admin, "x.csv", b"a,b\n", kind="fee_schedule", source_path="x.csv")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "source_path"
    r = await api.post(
        "/v1/imports", headers=admin, data={"allow_partial": "true"}, files={"file": ("x.csv", b"")}
    )
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"kind"}
    # A browser form sent without choosing a file: an empty part with filename="".
    r = await api.post(
        "/v1/imports", headers=admin, files={"kind": (None, "fee_schedule"), "file": ("", b"")}
    )
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"file"}, r.text
    r = await api.post("/v1/imports", headers={**admin, "content-type": "text/csv"}, content=b"a,b\n")
    assert r.status_code == 415
    r = await api.post("/v1/imports", headers={**admin, "content-type": "application/json"}, content=b"{nope")
    assert r.status_code == 400


async def test_the_upload_limit_comes_from_the_settings_passed_in(db_url, roots, keys):
    """create_app(settings) controls the upload limit: nothing reads it at import time."""
    from litestar.testing import AsyncTestClient

    from costsvc.api.app import create_app

    root, data = roots
    settings = msgspec.structs.replace(get_settings(), data_dir=str(data), max_upload_bytes=1000)
    async with AsyncTestClient(app=create_app(settings, database_url=db_url)) as small:
        r = await _upload(small, keys["admin"], "fees.csv", _fees("limit-test", 50))
        assert r.status_code == 413, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert not any((data / "uploads" / ".incoming").glob("*")), "the refused upload is left behind"
        r = await _upload(small, keys["admin"], "fees.csv", _fees("limit-test", 1))
        assert r.status_code == 202, r.text


async def test_a_rejected_upload_is_removed_unless_kept(api, keys, roots, db_url):
    """A rejected file never runs again: its upload is removed (COSTSVC_KEEP_FAILED_UPLOADS keeps it)."""
    from litestar.testing import AsyncTestClient

    from costsvc.api.app import create_app

    admin = keys["admin"]
    _, data = roots
    r = await _upload(api, admin, "bad.csv", _fees("api-discard", 2, gross="oops"))
    done = await _finished(api, admin, r.json()["import_id"])
    assert done["status"] == "rejected"
    assert not (data / "uploads" / done["import_id"]).exists()
    good = await _upload(api, admin, "good.csv", _fees("api-discard", 2))
    assert (await _finished(api, admin, good.json()["import_id"]))["status"] == "succeeded"
    assert (data / "uploads" / good.json()["import_id"] / "good.csv").is_file()  # kept: a lost job reruns from it

    keep = msgspec.structs.replace(get_settings(), data_dir=str(data), keep_failed_uploads=True)
    async with AsyncTestClient(app=create_app(keep, database_url=db_url)) as kept:
        r = await _upload(kept, admin, "bad2.csv", _fees("api-discard-2", 2, gross="oops"))
        done = await _finished(kept, admin, r.json()["import_id"])
        assert done["status"] == "rejected"
        assert (data / "uploads" / done["import_id"] / "bad2.csv").is_file()


@pytest.mark.parametrize("source_path", ["x" * 5000, "a/" * 3000 + "f.csv", "bad\x00name.csv"])
async def test_an_unusable_server_side_path_is_422(api, keys, source_path):
    r = await api.post("/v1/imports", headers=keys["admin"], json={"kind": "fee_schedule", "source_path": source_path})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["source_path"]
    assert source_path[:50] not in r.text  # the path is not echoed back
