"""HTTP load benchmark: a real server on the demo data, driven by wrk.

    .venv/bin/python bench/http_bench.py [--duration 15] [--connections 16] [--workers 1]

Starts `costsvc serve` (one server worker by default) on a fresh database
(DATABASE_URL if set, else the embedded PostgreSQL in bench/.data), seeds the
demo data, and measures in the same run, one after the other:

  * GET /health
  * POST /v1/estimates — one in-network IOP estimate (12 weeks x 3 days: 36 IOP
    claims + the intake), stored like any estimate
  * POST /v1/estimates/batch — 50 items

It prints a Markdown table (requests/s, p50, p99) and writes bench/out/http.json.
Needs Debian's `wrk` (apt-get install wrk).  The load generator runs on the same
2-core machine as the server: wrk gets one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"

SINGLE = {
    "program_id": "sunrise-recovery", "level_of_care": "iop",
    "coverage": {"plan_id": "acme-ppo-gold"},
    "episode": {"start_date": "2026-12-01", "weeks": 12, "days_per_week": 3},
}
_PAIRS = [
    ("sunrise-recovery", "iop"), ("sunrise-recovery", "php"), ("sunrise-recovery", "outpatient"),
    ("harborview-behavioral-health", "iop"), ("harborview-behavioral-health", "php"),
    ("harborview-behavioral-health", "outpatient"), ("cedar-ridge-treatment", "residential"),
    ("cedar-ridge-treatment", "detox"), ("pinewood-recovery-ranch", "iop"), ("lakeside-medical-bh", "iop"),
]
BATCH = {
    "coverage": {"plan_id": "acme-ppo-gold"},
    "episode": {"start_date": "2026-12-01"},
    "household": {"size": 3, "annual_income": "41000.00", "state": "CA"},
    "items": [{"program_id": p, "level_of_care": lvl} for p, lvl in (_PAIRS * 5)[:50]],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not become ready")


def post_script(folder: Path, name: str, body: dict) -> Path:
    path = folder / f"{name}.lua"
    payload = json.dumps(body).replace("\\", "\\\\").replace("'", "\\'")
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{payload}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        # Fail loudly if the server answers anything but success:
        "response = function(status, headers, body)\n"
        "  if status ~= 200 and status ~= 201 then error('unexpected status ' .. status) end\n"
        "end\n"
    )
    return path


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(url: str, duration: int, connections: int, script: Path | None) -> dict:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"requests_per_s": rps, "p50_ms": p50, "p99_ms": p99,
            "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else None, "raw": out}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5, help="seconds per case per round")
    parser.add_argument("--rounds", type=int, default=5,
                        help="the cases run interleaved this many times; medians are reported, so a burst "
                             "of background load on the shared machine hits every case alike")
    parser.add_argument("--connections", type=int, default=16,
                        help="wrk connections for /health and the single estimate")
    parser.add_argument("--batch-connections", type=int, nargs="+", default=[4, 16],
                        help="wrk connections for the batch (each a separate measurement)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2

    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(os.environ)
    env.setdefault("COSTSVC_DATA_DIR", str(ROOT / "bench" / ".data"))
    env["COSTSVC_SEED_DEMO"] = "true"
    env["COSTSVC_LOG_LEVEL"] = "WARNING"
    costsvc = str(Path(sys.executable).parent / "costsvc")
    server = subprocess.Popen(
        [costsvc, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        with tempfile.TemporaryDirectory() as tmp:
            single = post_script(Path(tmp), "single", SINGLE)
            batch = post_script(Path(tmp), "batch", BATCH)
            cases = [("GET /health", base + "/health", None, args.connections),
                     ("POST /v1/estimates (IOP, 36 claims)", base + "/v1/estimates", single, args.connections)]
            cases += [(f"POST /v1/estimates/batch (50 items), {c} connections", base + "/v1/estimates/batch",
                       batch, c) for c in args.batch_connections]
            for _name, url, script, connections in cases:
                run_wrk(url, args.warmup, connections, script)  # warm up: memo, pool, page cache
            rounds: dict[str, list[dict]] = {name: [] for name, *_ in cases}
            for _ in range(args.rounds):
                for name, url, script, connections in cases:
                    rounds[name].append(run_wrk(url, args.duration, connections, script))
            results = {}
            for name, _url, _script, connections in cases:
                runs = rounds[name]
                results[name] = {
                    "connections": connections,
                    "requests_per_s": statistics.median(r["requests_per_s"] for r in runs),
                    "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                    "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                    "p99_ms_worst_round": max(r["p99_ms"] for r in runs),
                    "non_2xx": sum(r["non_2xx"] for r in runs),
                    "rounds": [{k: v for k, v in r.items() if k != "raw"} for r in runs],
                }
            ratios = [single["requests_per_s"] / health["requests_per_s"] for single, health in
                      zip(rounds["POST /v1/estimates (IOP, 36 claims)"], rounds["GET /health"])]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    summary = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "workers": args.workers, "connections": args.connections, "duration_s": args.duration,
        "cpu_count": os.cpu_count(),
        "rounds": args.rounds,
        "results": results,
        "single_vs_health_per_round": [round(r, 3) for r in ratios],
        "single_vs_health": round(statistics.median(ratios), 3),
    }
    (OUT / "http.json").write_text(json.dumps(summary, indent=2))
    print(f"medians of {args.rounds} interleaved rounds of {args.duration} s per case\n")
    print("| endpoint | connections | requests/s | p50 ms | p99 ms | worst-round p99 ms | non-2xx |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        print(f"| {name} | {r['connections']} | {r['requests_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
              f"| {r['p99_ms_worst_round']:.2f} | {r['non_2xx']} |")
    print(f"\nsingle-estimate / health throughput, per round: {summary['single_vs_health_per_round']}; "
          f"median {summary['single_vs_health']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
