"""Soak: 60 s of mixed traffic at a fixed rate against a real server with 2 workers.

    .venv/bin/python bench/soak_bench.py [--duration 60] [--rate 50] [--workers 2] [--warmup 90]

Starts `costsvc serve --workers 2` on a fresh database (a new database on the server of
DATABASE_URL if set, dropped afterwards; else the embedded PostgreSQL in bench/.data),
seeded with the demo data, and sends an open-loop schedule of requests (a request is
sent at its time whether or not earlier ones have been answered, so a slow server shows
as latency instead of a lower rate):

  * 45 % POST /v1/estimates, varied (program and level, plan or self-pay, dates, length,
    household: the memo rarely answers)
  * 10 % POST /v1/estimates/batch (10 varied items)
  * 15 % POST /v1/estimates/compare, varied
  * 25 % catalog reads: programs (filtered), payers, plans, a program, levels of care
  * 5 % GET /v1/estimates/{id} of an estimate created earlier in the run
  * once, halfway: POST /v1/imports of a fee schedule for a demo program (eager: the API
    process runs it), which must activate while the traffic goes on.

Before the measured minute, ``--warmup`` seconds (90) of the same traffic, with
``--warmup-imports`` (6) imports from different clients: the pricing memo fills to its
bound and each worker runs its first import, so that the minute shows the steady state.

Latency is measured from each request's scheduled time.  Every second the resident
memory of each server process is sampled; the verdict compares each worker's median
over the first and the last 10 s.  Exit status 1 on any error (a status other than the
expected one, or a transport error), on an import that does not activate, or on memory
growth past ``--max-growth``.  Writes bench/out/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import database_url
from bench.http_bench import free_port, wait_ready

OUT = ROOT / "bench" / "out"
COSTSVC = str(Path(sys.executable).parent / "costsvc")
CLIENTS = 16  # visitors with connections of their own

PAIRS = [
    ("sunrise-recovery", "iop"), ("sunrise-recovery", "php"), ("sunrise-recovery", "outpatient"),
    ("harborview-behavioral-health", "iop"), ("harborview-behavioral-health", "php"),
    ("harborview-behavioral-health", "outpatient"), ("cedar-ridge-treatment", "residential"),
    ("cedar-ridge-treatment", "detox"), ("pinewood-recovery-ranch", "iop"), ("lakeside-medical-bh", "iop"),
]
COMPARE_PROGRAMS = ["sunrise-recovery", "harborview-behavioral-health", "cedar-ridge-treatment",
                    "pinewood-recovery-ranch", "lakeside-medical-bh"]
PLANS = ["acme-ppo-gold", "acme-hmo-silver", "bluepeak-epo-select", "bluepeak-hdhp-bronze", "evergreen-medicaid"]
READS = ["/v1/programs?state=TX", "/v1/programs?level_of_care=iop", "/v1/payers", "/v1/plans",
         "/v1/programs/sunrise-recovery", "/v1/levels-of-care", "/v1/payers/acme/plans"]
#: The imported fee schedule: a demo program's IOP line at a new price, so that activation changes answers.
IMPORT_CSV = (
    "program_id,program_name,npi,tin,state,level_of_care,billing_code,description,frequency,"
    "gross_charge,cash_price,effective_date\n"
    "sunrise-recovery,Sunrise Recovery Center,1645987326,74-2918365,TX,iop,H0015,\"IOP, per day\","
    "per_service,{price},425.00,2026-01-01\n"
)


def _coverage(rng: random.Random) -> dict | None:
    roll = rng.random()
    if roll < 0.15:
        return None  # self-pay
    coverage: dict = {"plan_id": rng.choice(PLANS)}
    if rng.random() < 0.3:
        coverage["accumulators"] = {"in_network": {"deductible_met": f"{rng.randint(0, 300000) / 100:.2f}",
                                                   "oop_met": f"{rng.randint(0, 600000) / 100:.2f}"}}
    return coverage


def _episode(rng: random.Random, level: str | None) -> dict:
    """A length in the level's own terms; a batch or compare (several levels) gives the start only."""
    episode: dict = {"start_date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"}
    if level in ("iop", "php"):
        episode.update(weeks=rng.randint(1, 16), days_per_week=rng.randint(1, 5))
    elif level == "outpatient":
        episode.update(weeks=rng.randint(1, 26), sessions_per_week=rng.randint(1, 3))
    elif level in ("detox", "residential"):
        episode.update(days=rng.randint(3, 60))
    return episode


def _common(rng: random.Random, level: str | None = None) -> dict:
    body: dict = {
        "episode": _episode(rng, level),
        "household": {"size": rng.randint(1, 6), "annual_income": f"{rng.randint(900000, 12000000) / 100:.2f}",
                      "state": rng.choice(["CA", "TX", "NY", "FL"])},
    }
    coverage = _coverage(rng)
    if coverage is not None:
        body["coverage"] = coverage
    return body


def estimate(rng: random.Random) -> dict:
    program, level = rng.choice(PAIRS)
    return {"program_id": program, "level_of_care": level, **_common(rng, level)}


def batch(rng: random.Random) -> dict:
    items = [{"program_id": p, "level_of_care": lvl} for p, lvl in rng.sample(PAIRS, 10)]
    return {"items": items, **_common(rng)}


def compare(rng: random.Random) -> dict:
    return {"program_id": rng.choice(COMPARE_PROGRAMS), **_common(rng)}


# ----------------------------------------------------------------------------- memory


def server_processes(pgid: int) -> dict[int, str]:
    """pid → command line of every process in the server's process group (the parent and its workers)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid:  # field 5 of stat: the process group
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
        except (OSError, ValueError):
            continue
    return found


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# ----------------------------------------------------------------------------- the run


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.created: list[str] = []

    def record(self, kind: str, started: float, response: httpx.Response | None, expected: int,
               error: str | None = None) -> None:
        self.latencies[kind].append((time.monotonic() - started) * 1000)
        if error is not None:
            self.errors.append(f"{kind}: {error}")
        elif response is not None and response.status_code != expected:
            self.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")


async def one(client: httpx.AsyncClient, rec: Recorder, rng: random.Random, scheduled: float) -> None:
    roll = rng.random()
    if roll < 0.45:
        kind, method, url, body, expected = "estimate", "POST", "/v1/estimates", estimate(rng), 201
    elif roll < 0.55:
        kind, method, url, body, expected = "batch", "POST", "/v1/estimates/batch", batch(rng), 200
    elif roll < 0.70:
        kind, method, url, body, expected = "compare", "POST", "/v1/estimates/compare", compare(rng), 200
    elif roll < 0.95 or not rec.created:
        kind, method, url, body, expected = "catalog", "GET", rng.choice(READS), None, 200
    else:
        kind, method, url, body, expected = "stored", "GET", f"/v1/estimates/{rng.choice(rec.created)}", None, 200
    try:
        response = await client.request(method, url, json=body)
    except httpx.HTTPError as exc:
        rec.record(kind, scheduled, None, expected, f"{type(exc).__name__}: {exc}")
        return
    rec.record(kind, scheduled, response, expected)
    if kind == "estimate" and response.status_code == 201 and len(rec.created) < 5000:
        rec.created.append(response.json()["estimate_id"])
    elif kind == "batch" and response.status_code == 200:
        for result in response.json()["results"]:
            if "error" in result and result["error"]["status"] >= 500:
                rec.errors.append(f"batch item: {result['error']}")


async def run_import(client: httpx.AsyncClient, admin: str, at: float, rec: Recorder, seed: int = 7) -> dict:
    """An import submitted at ``at`` (a new price from ``seed``: another file), followed until it is activated."""
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    headers = {"Authorization": f"Bearer {admin}"}
    started = time.monotonic()
    price = f"{random.Random(seed).randint(30000, 60000) / 100:.2f}"
    r = await client.post("/v1/imports", headers=headers, data={"kind": "fee_schedule"},
                          files={"file": ("soak-fees.csv", IMPORT_CSV.format(price=price).encode(), "text/csv")})
    if r.status_code != 202:
        rec.errors.append(f"import: {r.status_code} {r.text[:300]}")
        return {"status": f"http {r.status_code}"}
    import_id = r.json()["import_id"]
    while True:
        got = (await client.get(f"/v1/imports/{import_id}", headers=headers)).json()
        if got["status"] not in ("queued", "running") or time.monotonic() - started > 60:
            break
        await asyncio.sleep(0.2)
    outcome = {"status": got["status"], "activated_after_s": round(time.monotonic() - started, 2),
               "version_current": bool(got.get("version") and got["version"]["current"])}
    if got["status"] != "succeeded" or not outcome["version_current"]:
        rec.errors.append(f"import: {got['status']} {got.get('message')}")
    return outcome


async def open_loop(clients: list[httpx.AsyncClient], rec: Recorder, rng: random.Random, rate: float,
                    seconds: float, lag: list[float]) -> None:
    """Requests at ``rate`` per second for ``seconds``, each sent at its time whatever came
    before, round-robin over ``clients`` (each its own connections, as separate visitors'
    browsers would be: one client's keep-alive connections would all sit on one worker)."""
    start = time.monotonic()
    tasks = []
    for i in range(int(rate * seconds)):
        scheduled = start + i / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            lag.append(-delay)
        tasks.append(asyncio.create_task(one(clients[i % len(clients)], rec, rng, scheduled)))
    await asyncio.gather(*tasks)


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def drive(base: str, admin: str, rate: float, duration: float, warmup: float, pgid: int,
                warmup_imports: int = 0) -> dict:
    rec = Recorder()
    rng = random.Random(20261201)
    samples: list[tuple[float, dict[int, float]]] = []
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30, limits=limits))
                   for _ in range(CLIENTS)]
        client = clients[0]
        # Warm up at the same rate; not measured.  Long enough for each worker's pricing
        # memo to fill (it then stays at its bound), and with imports from several clients
        # so that each worker has most likely run one: a process's first import loads code
        # and allocates for good (0.4-3.3 MB, docs/PERFORMANCE.md), a step, not growth.
        warm = Recorder()
        early = time.monotonic()
        first = min(10.0, warmup / 4)  # the imports come first: each starts the memo anew
        imports = [asyncio.create_task(run_import(clients[1 + i % (CLIENTS - 1)], admin,
                                                  early + first * (i + 1) / warmup_imports, warm, seed=100 + i))
                   for i in range(warmup_imports)]
        await open_loop(clients, warm, rng, rate, warmup, [])
        await asyncio.gather(*imports)
        workers = server_processes(pgid)
        cpu_before = {pid: cpu_seconds(pid) for pid in workers}
        start = time.monotonic()
        stop = start + duration

        async def sample() -> None:
            while time.monotonic() < stop:
                samples.append((time.monotonic() - start, {pid: rss_mb(pid) or 0.0 for pid in workers}))
                await asyncio.sleep(1.0)

        sampler = asyncio.create_task(sample())
        importer = asyncio.create_task(run_import(client, admin, start + duration / 2, rec))
        lag: list[float] = []
        await open_loop(clients, rec, rng, rate, duration, lag)
        elapsed = time.monotonic() - start
        imported = await importer
        await sampler
        cpu = {pid: round(cpu_seconds(pid) - cpu_before[pid], 1) for pid in workers}
    return {"rec": rec, "samples": samples, "workers": workers, "elapsed": elapsed, "import": imported,
            "generator_late_ms_p99": round(sorted(lag)[int(len(lag) * 0.99)] * 1000, 1) if lag else 0.0,
            "sent": int(rate * duration), "cpu": cpu}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 1)


def summarize(run: dict, duration: float) -> dict:
    rec: Recorder = run["rec"]
    every = [v for vs in rec.latencies.values() for v in vs]
    memory = {}
    for pid, cmd in run["workers"].items():
        first = [s[pid] for t, s in run["samples"] if t < 10 and s.get(pid)]
        last = [s[pid] for t, s in run["samples"] if t >= duration - 10 and s.get(pid)]
        if first and last:
            memory[str(pid)] = {"cmd": cmd, "first_10s_mb": round(statistics.median(first), 1),
                                "last_10s_mb": round(statistics.median(last), 1),
                                "every_5s_mb": [round(s[pid], 1) for t, s in run["samples"][::5] if s.get(pid)],
                                "cpu_s": run["cpu"].get(pid)}
    return {
        "sent": run["sent"], "answered": len(every), "elapsed_s": round(run["elapsed"], 1),
        "achieved_rate": round(len(every) / run["elapsed"], 1), "errors": len(rec.errors),
        "first_errors": rec.errors[:10],
        "overall": {"p50_ms": _pct(every, 0.50), "p99_ms": _pct(every, 0.99), "max_ms": _pct(every, 1.0)},
        "by_kind": {k: {"count": len(v), "p50_ms": _pct(v, 0.5), "p99_ms": _pct(v, 0.99)}
                    for k, v in sorted(rec.latencies.items())},
        "import": run["import"], "memory": memory, "generator_late_ms_p99": run["generator_late_ms_p99"],
    }


def _create_key(env: dict[str, str]) -> str:
    out = subprocess.run([COSTSVC, "apikey", "create", "--role", "admin", "--name", "soak"], env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip().splitlines()[-1]


def _admin_sql(admin_url: str, sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second, fixed (open loop)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=90.0,
                        help="seconds of traffic before the measurement (the memo fills in about 60 s at 50/s)")
    parser.add_argument("--warmup-imports", type=int, default=6,
                        help="imports sent during the warm-up, from different clients (so both workers run one)")
    parser.add_argument("--max-growth", type=float, default=0.10,
                        help="largest accepted growth of a process's median RSS, first vs last 10 s")
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("COSTSVC_DATA_DIR", str(ROOT / "bench" / ".data"))
    env["COSTSVC_SEED_DEMO"] = "true"
    env["COSTSVC_LOG_LEVEL"] = "WARNING"
    # The limiter stays in the path (its cost is part of the figures), above this one client's rate.
    env["COSTSVC_RATE_LIMIT_PER_MINUTE"] = str(int(args.rate * 60 * 4))
    env.pop("CELERY_BROKER_URL", None)  # eager: the import runs inside an API process, beside the traffic
    admin_url = os.environ.get("DATABASE_URL")
    database = None
    if admin_url:
        database = f"costsvc_soak_{uuid.uuid4().hex[:8]}"
        _admin_sql(admin_url, f'CREATE DATABASE "{database}"')
        env["DATABASE_URL"] = database_url(admin_url, database)
    port = free_port()
    server = subprocess.Popen(
        [COSTSVC, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    load = [os.getloadavg()[0]]
    try:
        wait_ready(base, timeout=120)
        admin = _create_key(env)
        run = asyncio.run(drive(base, admin, args.rate, args.duration, args.warmup, server.pid,
                               args.warmup_imports))
        load.append(os.getloadavg()[0])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if database:
            _admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    result = summarize(run, args.duration)
    result.update({"rate": args.rate, "duration_s": args.duration, "workers": args.workers,
                   "load_1min": [round(x, 2) for x in load], "cpus": os.cpu_count()})
    grown = {pid: m for pid, m in result["memory"].items()
             if m["last_10s_mb"] > m["first_10s_mb"] * (1 + args.max_growth)}
    result["memory_flat"] = not grown
    (OUT / "soak.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    ok = result["errors"] == 0 and result["memory_flat"] and result["import"].get("status") == "succeeded"
    print("PASS" if ok else "FAIL", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
