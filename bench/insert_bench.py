"""Latency of the estimate INSERT (a batch's 50 rows, durable commit), alone and beside busy cores.

    DATABASE_URL=postgresql://... .venv/bin/python bench/insert_bench.py [--seconds 10] [--busy 0 1 2]

The batch tail of the HTTP bench is its INSERT (docs/PERFORMANCE.md, "The batch tail").
This bench asks whether the disk or the CPU makes that INSERT slow now and then: it prices
groups of 50 varied estimates (``request_bench.py``'s mix, the memo emptied, as a batch's
items would be) and stores each group with ``services.estimates.insert``, as the estimate
writer does, timing only the INSERT. It does so once per ``--busy`` figure, with that many
processes spinning on the CPU meanwhile (the HTTP bench's server, wrk and PostgreSQL's
other work share the machine's two cores the same way). It reports p50, p90, p99 and max.
It writes to the estimates tables of DATABASE_URL (seeded with ``costsvc seed-demo``);
writes bench/out/insert.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg

from bench.common import load_demo_catalog, seeded_database_url
from bench.request_bench import varied_estimate
from costsvc.domain.model import convert_checked
from costsvc.services import estimates as service
from costsvc.services.requests import EstimateRequest

GROUP = 50


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _ms(ordered: list[float], q: float) -> float:
    return round(ordered[round(q * (len(ordered) - 1))] * 1000, 2)


async def _inserts(url: str, seconds: float, seed: int) -> list[float]:
    catalog = await load_demo_catalog(url)
    conn = await asyncpg.connect(url)
    try:
        rng = random.Random(seed)
        today = dt.date.today()
        requests = [convert_checked(varied_estimate(rng), EstimateRequest) for _ in range(500)]
        latencies: list[float] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            catalog.pricing_memo.clear()
            group = [service.price(catalog, rng.choice(requests), today) for _ in range(GROUP)]
            t0 = time.perf_counter()
            await service.insert(conn, group, set())
            latencies.append(time.perf_counter() - t0)
        return sorted(latencies)
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1, 2], help="spinning processes per run")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    url = seeded_database_url()
    if url is None:
        return 2
    runs = []
    for busy in args.busy:
        spinners = [multiprocessing.Process(target=_spin, args=(args.seconds + 5,)) for _ in range(busy)]
        for p in spinners:
            p.start()
        try:
            ordered = asyncio.run(_inserts(url, args.seconds, args.seed))
        finally:
            for p in spinners:
                p.terminate()
                p.join()
        run = {"busy": busy, "inserts": len(ordered), "p50_ms": _ms(ordered, .5), "p90_ms": _ms(ordered, .9),
               "p99_ms": _ms(ordered, .99), "max_ms": _ms(ordered, 1)}
        runs.append(run)
        print(f"{busy} busy: {run['inserts']} INSERTs of {GROUP} rows, p50 {run['p50_ms']} ms, "
              f"p90 {run['p90_ms']}, p99 {run['p99_ms']}, max {run['max_ms']}")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "insert.json").write_text(json.dumps({
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
