"""Documents benchmark: rendering a Good Faith Estimate, in-process and through HTTP.

    .venv/bin/python bench/documents_bench.py [--iterations 200] [--duration 10] [--connections 8]
                                              [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

1. In-process: a 36-line GFE (tests/gfe_samples.py, priced by the engine) rendered
   as HTML, PDF and FHIR, ``--iterations`` times each after a warm-up (the first
   PDF also prepares the fonts: its time is reported apart), interleaved so that
   background load hits the three alike; p50 and p95 per rendering.  Also the PDF
   of the same GFE for a name in Chinese characters (the CJK fallback font).
2. HTTP: ``costsvc serve`` (one worker) on a fresh database with the demo data,
   an estimate and its GFE issued through the API, then wrk at ``--connections``
   connections on ``GET /v1/gfe/{id}?format=pdf``: throughput, p50, p99.
   ``--admin-url`` creates (and drops) a database on that server; without it the
   embedded PostgreSQL in bench/.data is used.  Needs Debian's ``wrk``.

Prints Markdown tables and writes bench/out/documents.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from http_bench import free_port, run_wrk, wait_ready  # noqa: I001  (bench/ is on the path)

from costsvc.documents.fhir import encode, gfe_bundle
from costsvc.documents.fonts import font_files
from costsvc.documents.html import render_html
from costsvc.documents.pdf import render_pdf
from costsvc.phi import generate_key
from tests.gfe_samples import many_lines, sample_view

OUT = ROOT / "bench" / "out"
ESTIMATE = {
    "program_id": "sunrise-recovery", "level_of_care": "iop",
    "episode": {"start_date": "2026-12-07", "weeks": 12, "days_per_week": 3},
    "household": {"size": 3, "annual_income": "41000.00", "state": "CA"},
}
GFE = {"patient": {"name": "Jordan Rivera", "date_of_birth": "1990-04-12"},
       "diagnosis_codes": ["F10.20", "F32.1"], "scheduled_date": None, "requested_by": "patient"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def in_process(iterations: int) -> dict:
    view = sample_view(lines=many_lines(36))
    cjk = sample_view("李小龍", lines=many_lines(36))
    t0 = time.perf_counter()
    font_files()
    prepare = time.perf_counter() - t0
    renderers = {
        "html": lambda: render_html(view),
        "pdf": lambda: render_pdf(view),
        "fhir": lambda: encode(gfe_bundle(view)),
        "pdf, CJK name (fallback font)": lambda: render_pdf(cjk),
    }
    sizes = {}
    for name, fn in renderers.items():  # also the warm-up
        out = fn()
        sizes[name] = len(out.encode() if isinstance(out, str) else out)
    times: dict[str, list[float]] = {name: [] for name in renderers}
    for i in range(iterations):
        for name, fn in renderers.items():
            if name.startswith("pdf, CJK") and i % 5:
                continue  # the slow variant, a fifth as often
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1000)
    return {
        "font_preparation_s": round(prepare, 2),
        "items": len(view.items),
        "renderings": {name: {"p50_ms": round(statistics.median(t), 2), "p95_ms": round(percentile(t, 0.95), 2),
                              "runs": len(t), "bytes": sizes[name]} for name, t in times.items()},
    }


def _request(method: str, url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def over_http(duration: int, connections: int, admin_url: str | None, workers: int) -> dict:
    env = dict(os.environ)
    env.setdefault("COSTSVC_DATA_DIR", str(ROOT / "bench" / ".data"))
    env["COSTSVC_SEED_DEMO"] = "true"
    env["COSTSVC_LOG_LEVEL"] = "WARNING"
    env["COSTSVC_RATE_LIMIT_PER_MINUTE"] = "0"  # one load generator is one client: it would measure 429s
    env["COSTSVC_PHI_KEY"] = generate_key()
    database = None
    if admin_url:
        import asyncio

        import asyncpg

        database = f"costsvc_docs_bench_{uuid.uuid4().hex[:8]}"

        async def admin(sql: str) -> None:
            conn = await asyncpg.connect(admin_url)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin(f'CREATE DATABASE "{database}"'))
        env["DATABASE_URL"] = admin_url.rsplit("/", 1)[0] + "/" + database
    port = free_port()
    costsvc = str(Path(sys.executable).parent / "costsvc")
    server = subprocess.Popen([costsvc, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, timeout=180)
        estimate = _request("POST", base + "/v1/estimates", ESTIMATE)
        issued = _request("POST", f"{base}/v1/estimates/{estimate['estimate_id']}/gfe", GFE)
        url = f"{base}/v1/gfe/{issued['gfe_id']}?format=pdf"
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=300) as r:
            size = len(r.read())
        first = time.perf_counter() - t
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "get.lua"
            script.write_text("response = function(status, headers, body)\n"
                              "  if status ~= 200 then error('unexpected status ' .. status) end\nend\n")
            run_wrk(url, 3, connections, script)  # warm up
            result = run_wrk(url, duration, connections, script)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if database:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    return {"workers": workers, "connections": connections, "duration_s": duration, "pdf_bytes": size,
            "first_request_s": round(first, 2),
            **{k: v for k, v in result.items() if k != "raw"}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--admin-url", default=None)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    local = in_process(args.iterations)
    summary: dict = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "cpu_count": os.cpu_count(),
                     "load_1min_before": round(load_before, 2), "in_process": local}
    print(f"in-process, {local['items']}-line GFE, {args.iterations} runs (font preparation "
          f"{local['font_preparation_s']} s, once)\n")
    print("| rendering | p50 ms | p95 ms | runs | bytes |\n| --- | ---: | ---: | ---: | ---: |")
    for name, r in local["renderings"].items():
        print(f"| {name} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['runs']} | {r['bytes']} |")
    if not args.skip_http:
        if not shutil.which("wrk"):
            print("wrk is not installed: apt-get install wrk", file=sys.stderr)
            return 2
        http = over_http(args.duration, args.connections, args.admin_url, args.workers)
        summary["http"] = http
        print(f"\nGET /v1/gfe/{{id}}?format=pdf (the demo IOP GFE, {http['pdf_bytes']} bytes), {http['workers']} worker(s), "
              f"{http['connections']} connections, {http['duration_s']} s; first request {http['first_request_s']} s\n")
        print("| requests/s | p50 ms | p99 ms | non-2xx |\n| ---: | ---: | ---: | ---: |")
        print(f"| {http['requests_per_s']:.1f} | {http['p50_ms']:.1f} | {http['p99_ms']:.1f} | {http['non_2xx']} |")
    summary["load_1min_after"] = round(os.getloadavg()[0], 2)
    print(f"\nload average (1 min) before {summary['load_1min_before']}, after {summary['load_1min_after']}")
    (OUT / "documents.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
