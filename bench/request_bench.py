"""CPU per request in-process: varied single IOP estimates and /health through the ASGI app.

    DATABASE_URL=postgresql://... .venv/bin/python bench/request_bench.py [--requests 2000] [--rounds 5]

The HTTP bench (``http_bench.py``) measures throughput against a real server; on a shared
VM whose speed drifts from minute to minute, its figures move by ±30 % between runs.  This
bench calls the app itself (``create_app``, its lifespan, a real PostgreSQL: the estimates
are stored) from 16 clients at once (as the HTTP bench's 16 connections; the estimate
writer then groups their rows as it does under load) and counts the process's CPU time, so a change to
the request path shows as microseconds of CPU rather than as a throughput within the
noise.  It leaves out what only a server has (uvicorn's HTTP parsing and sockets; ``/health``
carries those in ``http_bench.py``).

The bodies follow ``http_bench.py``'s varied single estimate (the same mix: 5 % self-pay,
20 % inline benefits, 75 % a stored plan; accumulators, start dates, lengths, tiers and
households at random); the memo is emptied before each round, so every body is priced.
Rounds alternate estimates and ``/health``; medians are reported.

Its 16 clients start together and are all ready at each turn of the event loop, which
requests reaching a server over TCP seldom are: a change that groups concurrent requests
looks better here than over HTTP (docs/PERFORMANCE.md, "pricing together"). Confirm such
a change with ``http_bench.py``.  Needs the database of
DATABASE_URL seeded with the demo data (``costsvc seed-demo``); writes
bench/out/request.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import seeded_database_url  # noqa: E402

IOP_PROGRAMS = ["sunrise-recovery", "harborview-behavioral-health", "pinewood-recovery-ranch", "lakeside-medical-bh"]
PLANS = ["acme-ppo-gold", "acme-hmo-silver", "bluepeak-epo-select", "bluepeak-hdhp-bronze", "evergreen-medicaid"]
PAYERS = ["acme", "bluepeak", "evergreen"]
LEVELS = ["detox", "residential", "php", "iop", "outpatient"]
COPAY_UNITS = ["per_day", "per_visit", "per_admission"]
PLAN_YEARS = ["01-01", "07-01", "10-01"]
STATES = ["CA", "TX", "NY", "AK", "HI", "FL"]
EPOCH = 20454  # 2026-01-01 in days since 1970-01-01


def _cents(rng: random.Random, max_cents: int) -> str:
    c = rng.randint(0, max_cents)
    return f"{c // 100}.{c % 100:02d}"


def _level_benefit(rng: random.Random) -> dict:
    return {"covered": True, "copay": _cents(rng, 5000), "copay_unit": rng.choice(COPAY_UNITS),
            "deductible_applies": rng.random() < 0.8, "coinsurance_pct": str(rng.randint(0, 40)),
            "limit_units": rng.randint(10, 60) if rng.randint(1, 4) == 1 else None,
            "prior_auth": rng.random() < 0.5}


def _benefits(rng: random.Random) -> dict:
    levels = {level: _level_benefit(rng) for level in LEVELS}
    return {
        "payer_id": rng.choice(PAYERS), "plan_year_start": rng.choice(PLAN_YEARS),
        "in_network": {"deductible": {"individual": _cents(rng, 400000), "family": _cents(rng, 800000)},
                       "oop_max": {"individual": _cents(rng, 900000), "family": _cents(rng, 1800000)},
                       "levels": levels},
        "out_of_network": {"deductible": {"individual": _cents(rng, 800000)},
                           "allowed": {"method": "percent_of_billed", "percent": str(rng.randint(40, 90))},
                           "balance_billing": rng.random() < 0.5, "levels": levels},
    }


def _accumulators(rng: random.Random) -> dict:
    return {"in_network": {"deductible_met": _cents(rng, 200000), "oop_met": _cents(rng, 600000),
                           "family_deductible_met": _cents(rng, 300000), "family_oop_met": _cents(rng, 900000)},
            "out_of_network": {"deductible_met": _cents(rng, 100000), "oop_met": _cents(rng, 100000)},
            "units_used": {"iop": rng.randint(0, 20)}}


def varied_estimate(rng: random.Random) -> dict:
    """One body of http_bench.py's varied single IOP estimate."""
    body: dict = {"program_id": rng.choice(IOP_PROGRAMS), "level_of_care": "iop"}
    r = rng.randint(1, 20)
    if r > 1:
        coverage: dict = {"benefits": _benefits(rng)} if r <= 5 else {"plan_id": rng.choice(PLANS)}
        coverage["tier"] = "family" if rng.randint(1, 3) == 1 else "individual"
        coverage["accumulators"] = _accumulators(rng)
        body["coverage"] = coverage
    start = time.strftime("%Y-%m-%d", time.gmtime((EPOCH + rng.randint(0, 729)) * 86400))
    episode: dict = {"start_date": start, "days_per_week": rng.randint(2, 5)}
    weeks = rng.randint(0, 16)  # 0: the level's default length, with its range priced too
    if weeks:
        episode["weeks"] = weeks
    body["episode"] = episode
    if rng.randint(1, 10) <= 3:
        body["household"] = {"size": rng.randint(1, 6), "annual_income": _cents(rng, 12000000),
                             "state": rng.choice(STATES)}
    return body


async def call(app, method: str, path: str, body: bytes = b"") -> int:
    """One request through the app's ASGI interface; its status."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 50000), "server": ("bench", 80), "state": {}}
    delivered = False
    status = 0

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def clients(app, n: int, method: str, path: str, bodies: list[bytes]) -> set[int]:
    """``bodies`` sent by ``n`` clients at once, each waiting for its answer before its next
    request (as wrk's connections do): the estimate writer groups what arrives together."""
    async def client(share: list[bytes]) -> set[int]:
        return {await call(app, method, path, body) for body in share}

    return set().union(*await asyncio.gather(*(client(bodies[i::n]) for i in range(n))))


async def run(args: argparse.Namespace) -> dict:
    from costsvc.api.app import create_app

    rng = random.Random(args.seed)
    bodies = [json.dumps(varied_estimate(rng), separators=(",", ":")).encode() for _ in range(args.requests)]
    app = create_app(database_url=os.environ["DATABASE_URL"])
    estimate_us: list[float] = []
    health_us: list[float] = []
    async with app.lifespan():
        for body in bodies[:100]:  # warm up: code paths, the writer's connection, caches
            await call(app, "POST", "/v1/estimates", body)
        gc.freeze()  # what start-up allocated is not the requests' garbage
        for _ in range(args.rounds):
            app.state.catalog.current.pricing_memo.clear()
            t0 = time.process_time_ns()
            statuses = await clients(app, args.clients, "POST", "/v1/estimates", bodies)
            estimate_us.append((time.process_time_ns() - t0) / len(bodies) / 1000)
            if statuses != {201}:
                raise SystemExit(f"unexpected statuses {statuses}")
            t0 = time.process_time_ns()
            await clients(app, args.clients, "GET", "/health", [b""] * len(bodies))
            health_us.append((time.process_time_ns() - t0) / len(bodies) / 1000)
    return {"estimate_us": estimate_us, "health_us": health_us}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000, help="bodies per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--clients", type=int, default=16, help="requests in flight at once (http_bench: 16)")
    args = parser.parse_args()
    if seeded_database_url() is None:
        return 2
    os.environ["COSTSVC_RATE_LIMIT_PER_MINUTE"] = "0"  # one client: it would measure 429s
    os.environ.setdefault("COSTSVC_LOG_LEVEL", "WARNING")
    load_before = os.getloadavg()[0]
    result = asyncio.run(run(args))
    estimate, health = statistics.median(result["estimate_us"]), statistics.median(result["health_us"])
    summary = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "load_1min_before": round(load_before, 2), "load_1min_after": round(os.getloadavg()[0], 2),
        "rounds": {k: [round(v, 1) for v in vs] for k, vs in result.items()},
        "estimate_us": round(estimate, 1), "health_us": round(health, 1),
    }
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "out" / "request.json").write_text(json.dumps(summary, indent=2))
    print(f"varied single IOP estimate: {estimate:.1f} µs CPU per request (rounds: "
          f"{', '.join(f'{v:.0f}' for v in result['estimate_us'])})")
    print(f"/health: {health:.1f} µs CPU per request; health / estimate {health / estimate:.3f}")
    print(f"load average {summary['load_1min_before']} before, {summary['load_1min_after']} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
