"""Limits at the edge, against a real `costsvc serve`: the per-client rate limit (and whose
X-Forwarded-For counts), CORS for the configured origins only, body limits per route,
and refused uploads leaving nothing on disk.

The server trusts 127.0.0.1 as its proxy.  A test speaks as a client behind that proxy by
sending X-Forwarded-For from 127.0.0.1, or as a client with no proxy by connecting from
another loopback address (127.0.0.2, ...), whose X-Forwarded-For must count for nothing.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from costsvc.auth import create_api_key
from tests.server import _serve, _stop, _wait_ready

LIMIT = 5
MAX_UPLOAD = 20_000
LOCATOR = "https://locator.example"
IOP = {
    "program_id": "sunrise-recovery", "level_of_care": "iop",
    "coverage": {"plan_id": "acme-ppo-gold"},
    "episode": {"start_date": "2026-12-01", "weeks": 12, "days_per_week": 3},
}


class Server:
    def __init__(self, base: str, data: Path, admin: str):
        self.base, self.data, self.admin = base, data, {"Authorization": f"Bearer {admin}"}

    def client(self, local_address: str = "127.0.0.1") -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=20,
                            transport=httpx.HTTPTransport(local_address=local_address))


async def _database_with_admin(databases) -> tuple[str, str]:
    """A fresh database and an admin key in it."""
    db_url = await databases.create()
    conn = await asyncpg.connect(db_url)
    try:
        return db_url, (await create_api_key(conn, role="admin", name="edge")).key
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def server(databases, tmp_path_factory) -> Iterator[Server]:
    db_url, admin = await _database_with_admin(databases)
    data = tmp_path_factory.mktemp("edge") / "data"
    env = {**os.environ, "DATABASE_URL": db_url, "COSTSVC_SEED_DEMO": "false", "COSTSVC_LOG_LEVEL": "WARNING",
           "COSTSVC_DATA_DIR": str(data), "COSTSVC_RATE_LIMIT_PER_MINUTE": str(LIMIT),
           "COSTSVC_TRUSTED_PROXIES": "127.0.0.1", "COSTSVC_CORS_ORIGINS": LOCATOR,
           "COSTSVC_MAX_UPLOAD_BYTES": str(MAX_UPLOAD)}
    for name in ("COSTSVC_EMBEDDED_URL", "CELERY_BROKER_URL"):  # eager imports, this database
        env.pop(name, None)
    proc, base = _serve(env)
    try:
        _wait_ready(base, proc)
        yield Server(base, data, admin)
    finally:
        _stop(proc)


def _behind_proxy(*chain: str) -> dict[str, str]:
    return {"X-Forwarded-For": ", ".join(chain)}


def _new_client_ip() -> str:
    """A documentation address (RFC 5737) of its own for each test: windows never mix."""
    n = uuid.uuid4().int
    return f"198.51.{n % 250}.{(n >> 8) % 250 + 1}"


def _exhaust(http: httpx.Client, headers: dict[str, str], path: str = "/v1/levels-of-care") -> httpx.Response:
    for i in range(LIMIT):
        r = http.get(path, headers=headers)
        assert r.status_code == 200, (i, r.status_code, r.text)
    return http.get(path, headers=headers)


def _assert_429(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["type"].endswith("/too-many-requests") and problem["status"] == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60


def test_a_client_behind_the_trusted_proxy_gets_its_own_limit_and_a_429_with_retry_after(server):
    me, neighbour = _new_client_ip(), _new_client_ip()
    with server.client() as http:
        over = _exhaust(http, _behind_proxy(me))
        _assert_429(over)
        # Every public route shares the client's budget: an estimate is refused too.
        _assert_429(http.post("/v1/estimates", json=IOP, headers=_behind_proxy(me)))
        r = http.get("/v1/levels-of-care", headers=_behind_proxy(neighbour))
        assert r.status_code == 200 and r.headers["RateLimit-Limit"] == str(LIMIT)


def test_a_spoofed_forwarded_for_entry_before_the_proxys_does_not_escape_the_limit(server):
    real = _new_client_ip()
    with server.client() as http:
        for i in range(LIMIT):  # the client writes anything on the left; the proxy appends the truth
            r = http.get("/v1/payers", headers=_behind_proxy(f"10.9.{i}.1", real))
            assert r.status_code == 200, r.text
        _assert_429(http.get("/v1/payers", headers=_behind_proxy("10.9.99.1", real)))


def test_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_counts_for_nothing(server):
    with server.client("127.0.0.2") as http:
        for i in range(LIMIT):
            r = http.get("/v1/levels-of-care", headers=_behind_proxy(_new_client_ip()))
            assert r.status_code == 200, (i, r.text)
        _assert_429(http.get("/v1/levels-of-care", headers=_behind_proxy(_new_client_ip())))


def test_probes_and_key_holders_routes_are_not_limited(server):
    with server.client("127.0.0.3") as http:
        for _ in range(LIMIT * 3):
            assert http.get("/health").status_code == 200
            assert http.get("/ready").status_code == 200
            assert http.get("/v1/imports", headers=server.admin).status_code == 200
        # None of those counted against the client's public budget.
        _assert_429(_exhaust(http, {}))


def test_the_openapi_document_tells_which_operations_answer_429(server):
    with server.client("127.0.0.5") as http:
        paths = http.get("/schema/openapi.json").json()["paths"]
    limited = {(p, m) for p, item in paths.items() for m, op in item.items()
               if isinstance(op, dict) and "429" in op.get("responses", {})}
    assert {("/v1/estimates", "post"), ("/v1/estimates/batch", "post"), ("/v1/programs", "get")} <= limited
    assert not {p for p, _ in limited} & {"/health", "/ready", "/v1/imports", "/v1/verifications", "/v1/audit"}
    assert ("/v1/gfe", "get") not in limited  # staff


def test_cors_answers_the_configured_locator_origin_only(server):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    with server.client("127.0.0.4") as http:
        r = http.options("/v1/estimates", headers={"Origin": LOCATOR, **preflight})
        assert r.status_code in (200, 204), r.text
        assert r.headers["access-control-allow-origin"] == LOCATOR
        r = http.get("/v1/levels-of-care", headers={"Origin": LOCATOR})
        assert r.headers["access-control-allow-origin"] == LOCATOR
        assert "retry-after" in r.headers["access-control-expose-headers"].lower()

        r = http.options("/v1/estimates", headers={"Origin": "https://elsewhere.example", **preflight})
        assert "access-control-allow-origin" not in r.headers
        r = http.get("/v1/levels-of-care", headers={"Origin": "https://elsewhere.example"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def _padded(body: dict, size: int) -> dict:
    return {**body, "padding": "x" * size}


def test_one_estimate_has_a_small_body_limit_a_batch_the_large_one(server):
    with server.client() as http:
        headers = _behind_proxy(_new_client_ip())
        r = http.post("/v1/estimates", json=_padded(IOP, 70_000), headers=headers)
        assert r.status_code == 413, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/body-too-large") and "65536" in r.json()["detail"]

        # Sent chunked (no Content-Length): refused once read.
        body = httpx.Request("POST", "/", json=_padded(IOP, 70_000)).content
        chunks = (body[i:i + 8192] for i in range(0, len(body), 8192))
        r = http.post("/v1/estimates", content=chunks,
                      headers={**headers, "content-type": "application/json"})
        assert r.status_code == 413, r.text

        # The same 70 KB is within a batch's limit: judged on its fields (an unknown one).
        batch = _padded({"items": [{"program_id": "sunrise-recovery", "level_of_care": "iop"}]}, 70_000)
        r = http.post("/v1/estimates/batch", json=batch, headers=_behind_proxy(_new_client_ip()))
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["padding"], r.text
        r = http.post("/v1/estimates/batch", json=_padded(batch, 1_100_000), headers=_behind_proxy(_new_client_ip()))
        assert r.status_code == 413, r.text


def _leftovers(server: Server) -> list[str]:
    uploads = server.data / "uploads"
    return sorted(str(p.relative_to(uploads)) for p in uploads.rglob("*") if p.is_file()) if uploads.exists() else []


def _wait_no_leftovers(server: Server, before: list[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (left := _leftovers(server)) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == before


def _fees(rows: int, gross: str = "100.00") -> bytes:
    header = ("program_id,program_name,npi,tin,state,level_of_care,billing_code,description,frequency,"
              "gross_charge,cash_price,effective_date\n")
    return (header + "".join(f"edge-{uuid.uuid4().hex[:8]},Edge,,,TX,iop,H0015,IOP,per_service,{gross},,2026-01-"
                             f"{1 + i:02d}\n" for i in range(rows))).encode()


def test_an_upload_over_its_limit_is_413_and_leaves_nothing(server):
    before = _leftovers(server)
    with server.client() as http:
        r = http.post("/v1/imports", headers=server.admin, data={"kind": "fee_schedule"},
                      files={"file": ("big.csv", _fees(400), "text/csv")})
        assert len(_fees(400)) > MAX_UPLOAD
        assert r.status_code == 413, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    _wait_no_leftovers(server, before)


def test_an_upload_cut_off_midway_leaves_nothing(server):
    before = _leftovers(server)
    host, port = server.base.removeprefix("http://").split(":")
    boundary = "edgeboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nfee_schedule\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall((f"POST /v1/imports HTTP/1.1\r\nHost: {host}\r\n{'Authorization: ' + server.admin['Authorization']}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 15000\r\n\r\n").encode())
        sock.sendall(head + _fees(40)[:5000])
        deadline = time.monotonic() + 10
        while not any(p.startswith(".incoming/") for p in _leftovers(server)) and time.monotonic() < deadline:
            time.sleep(0.05)  # the part is being written: the server has begun the upload
        assert any(p.startswith(".incoming/") for p in _leftovers(server))
    _wait_no_leftovers(server, before)


def test_a_rejected_import_leaves_no_upload(server):
    with server.client() as http:
        r = http.post("/v1/imports", headers=server.admin, data={"kind": "fee_schedule"},
                      files={"file": ("bad.csv", _fees(3, gross="oops"), "text/csv")})
        assert r.status_code == 202, r.text
        import_id = r.json()["import_id"]
        deadline = time.monotonic() + 30
        while (status := http.get(f"/v1/imports/{import_id}", headers=server.admin).json()["status"]) in (
                "queued", "running") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status == "rejected"
    _wait_no_leftovers(server, [p for p in _leftovers(server) if not p.startswith(import_id)])
    assert not (server.data / "uploads" / import_id).exists()


async def test_an_import_the_broker_refuses_is_503_and_leaves_no_upload(databases, tmp_path):
    """No broker listens at the configured URL: the import is recorded failed, its upload removed."""
    db_url, admin = await _database_with_admin(databases)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    data = tmp_path / "data"
    env = {**os.environ, "DATABASE_URL": db_url, "COSTSVC_SEED_DEMO": "false", "COSTSVC_LOG_LEVEL": "WARNING",
           "COSTSVC_DATA_DIR": str(data), "CELERY_BROKER_URL": f"redis://127.0.0.1:{dead}/0"}
    env.pop("COSTSVC_EMBEDDED_URL", None)
    proc, base = _serve(env)
    try:
        _wait_ready(base, proc)
        server = Server(base, data, admin)
        with server.client() as http:
            r = http.post("/v1/imports", headers=server.admin, data={"kind": "fee_schedule"},
                          files={"file": ("fees.csv", _fees(2), "text/csv")})
            assert r.status_code == 503, r.text
            assert r.headers["content-type"].startswith("application/problem+json") and r.headers["Retry-After"]
            failed = http.get("/v1/imports", params={"status": "failed"}, headers=server.admin).json()["imports"]
            assert [row["source"] for row in failed] == ["fees.csv"]
        assert _leftovers(server) == []
    finally:
        _stop(proc)
