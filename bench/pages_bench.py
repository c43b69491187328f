"""Pages benchmark: the server's share of the time for the cost page, and page weight.

    .venv/bin/python bench/pages_bench.py [--iterations 500] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

The app (``create_app``, lifespan and all: pool, catalog, templates) runs in this
process on a fresh database with the demo data (``--admin-url`` creates and drops
one on that server; without it the embedded PostgreSQL in bench/.data is used).
Each page is then requested by calling the ASGI app directly — no socket, no HTTP
client — so the time measured is the server's share: routing, the form, pricing,
template rendering.  The pages, interleaved round by round so background load hits
them alike: ``GET /`` (the empty form), an insured IOP estimate, a self-pay one with
a household, and the comparison of every level.  Prints p50/p95 per page and the
weight of each page (HTML + the one CSS + the one JS file, as sent and gzipped), and
writes bench/out/pages.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from litestar.testing import AsyncTestClient

from bench.common import database_url, drop_database, migrate_and_seed, recreate_database
from costsvc.api.app import create_app
from costsvc.api.pages.assets import asset_url

OUT = ROOT / "bench" / "out"
PAGES = {
    "GET / (form)": {},
    "insured IOP": {"program_id": "sunrise-recovery", "level_of_care": "iop", "plan_id": "acme-ppo-gold"},
    "self-pay + household": {"program_id": "harborview-behavioral-health", "level_of_care": "iop",
                             "household.size": "3", "household.annual_income": "42000", "household.state": "CA"},
    "compare all levels": {"program_id": "sunrise-recovery", "level_of_care": "compare", "plan_id": "acme-ppo-gold"},
}
#: Every request different (length and household), so the engine runs each time instead of
#: the snapshot's memo answering: the repeated pages above measure rendering, this one pricing too.
VARIED = "self-pay IOP, varied (engine each time)"


def varied(i: int) -> str:
    return urlencode({"program_id": "harborview-behavioral-health", "level_of_care": "iop",
                      "episode.weeks": str(1 + i % 104), "household.size": str(1 + (i // 104) % 50),
                      "household.annual_income": str(20000 + i), "household.state": "CA"})


async def call(app, path: str, query: str = "") -> tuple[int, bytes]:
    """One request through the ASGI interface: (status, body)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"bench"), (b"accept", b"text/html")], "client": ("127.0.0.1", 1),
             "server": ("bench", 80)}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def database(admin_url: str | None) -> tuple[str, str, str]:
    name = f"costsvc_pages_bench_{uuid.uuid4().hex[:8]}"
    if admin_url is None:
        from costsvc.db.embedded import start_embedded

        admin_url = start_embedded(ROOT / "bench" / ".data")
    await recreate_database(admin_url, name)
    url = database_url(admin_url, name)
    await migrate_and_seed(url)
    return url, admin_url, name


async def main(iterations: int, admin_url: str | None) -> dict:
    url, admin, name = await database(admin_url)
    try:
        app = create_app(database_url=url)
        async with AsyncTestClient(app=app):  # runs the lifespan: pool, catalog, writer
            queries = {label: urlencode(values) for label, values in PAGES.items()}
            bodies = {}
            for label, query in queries.items():  # warm-up: templates compiled, memo filled
                for _ in range(20):
                    status, bodies[label] = await call(app, "/", query)
                    assert status == 200, (label, status, bodies[label][:500])
            _, bodies[VARIED] = await call(app, "/", varied(0))
            times: dict[str, list[float]] = {label: [] for label in [*queries, VARIED]}
            for i in range(iterations):
                for label, query in [*queries.items(), (VARIED, varied(i + 1))]:
                    t0 = time.perf_counter()
                    status, _ = await call(app, "/", query)
                    times[label].append((time.perf_counter() - t0) * 1000)
                    assert status == 200, (label, query, status)
            assets = {}
            for asset in ("site.css", "site.js"):
                status, body = await call(app, asset_url(asset))
                assert status == 200
                assets[asset] = body
    finally:
        await drop_database(admin, name)
    asset_bytes = sum(len(b) for b in assets.values())
    asset_gzip = sum(len(gzip.compress(b)) for b in assets.values())
    results = {}
    for label, samples in times.items():
        samples.sort()
        html = bodies[label]
        results[label] = {
            "p50_ms": round(statistics.median(samples), 3),
            "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 3),
            "html_bytes": len(html), "page_bytes": len(html) + asset_bytes,
            "page_gzip_bytes": len(gzip.compress(html)) + asset_gzip,
        }
    return {"iterations": iterations, "load_1min": round(os.getloadavg()[0], 2), "assets": {
        k: len(v) for k, v in assets.items()}, "pages": results}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--admin-url", default=None)
    args = parser.parse_args()
    out = asyncio.run(main(args.iterations, args.admin_url))
    print(f"{args.iterations} requests per page, in-process ASGI (the server's share), load {out['load_1min']}")
    print("| page | p50 ms | p95 ms | HTML | page (HTML+CSS+JS) | gzipped |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, r in out["pages"].items():
        print(f"| {label} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['html_bytes'] / 1024:.1f} KB | "
              f"{r['page_bytes'] / 1024:.1f} KB | {r['page_gzip_bytes'] / 1024:.1f} KB |")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pages.json").write_text(json.dumps(out, indent=2))
