"""What each stage of a varied estimate costs in-process, with the CPU's caches warm and cold.

    DATABASE_URL=postgresql://... .venv/bin/python bench/price_bench.py [--requests 1500] [--repeats 5]

The bodies are ``request_bench.py``'s varied single IOP estimates (the HTTP bench's mix).
Each stage runs over all of them in turn (decode, body checks, conversion to Structs,
resolution against the catalog, the engine, the document's encoding, and
``services.estimates.price`` as a whole with its memo emptied), and the median over
``--repeats`` passes is reported in µs of this process's CPU per request.

A loop like this keeps the stage's code and data in the CPU's caches; a server does not,
since between two estimates it runs uvicorn, Litestar and the writer. So the whole
``price`` is timed a second time with ``--evict-mb`` of memory written between two calls
(one byte in every 64, so every cache line). The gap between the two figures is what the
caches are worth to a served estimate. Reads the catalog from DATABASE_URL (seeded with
``costsvc seed-demo``); writes nothing. Writes bench/out/price.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import msgspec

from bench.common import load_demo_catalog, seeded_database_url
from bench.request_bench import varied_estimate
from costsvc.api.validation import problems_of
from costsvc.catalog import Catalog
from costsvc.domain.engine import price_episode
from costsvc.domain.model import convert_checked
from costsvc.services import estimates as service
from costsvc.services.requests import EstimateRequest


def _each(stage, items: list, repeats: int) -> tuple[float, list]:
    """Median µs of CPU per item of ``stage`` over ``items``, and its results."""
    passes, results = [], []
    for _ in range(repeats):
        t0 = time.process_time_ns()
        results = [stage(item) for item in items]
        passes.append((time.process_time_ns() - t0) / len(items) / 1000)
    return statistics.median(passes), results


def _price_cold(catalog: Catalog, requests: list[EstimateRequest], today: dt.date, repeats: int,
                evict_mb: int) -> float:
    """Median µs per ``price`` call with ``evict_mb`` MB written between two calls (not timed)."""
    scratch = bytearray(evict_mb << 20)
    lines = len(scratch[::64])
    passes = []
    for _ in range(repeats):
        spent = 0
        for request in requests:
            scratch[::64] = b"\x01" * lines
            catalog.pricing_memo.clear()
            t0 = time.process_time_ns()
            service.price(catalog, request, today)
            spent += time.process_time_ns() - t0
        passes.append(spent / len(requests) / 1000)
    return statistics.median(passes)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--evict-mb", type=int, default=4, help="memory written between two cold calls")
    args = parser.parse_args()
    url = seeded_database_url()
    if url is None:
        return 2
    catalog = asyncio.run(load_demo_catalog(url))
    rng = random.Random(args.seed)
    bodies = [json.dumps(varied_estimate(rng), separators=(",", ":")).encode() for _ in range(args.requests)]
    today = dt.date.today()
    figures: dict[str, float] = {}

    figures["decode JSON"], decoded = _each(msgspec.json.decode, bodies, args.repeats)
    figures["body checks (problems_of)"], _ = _each(lambda d: problems_of(d, EstimateRequest), decoded, args.repeats)
    figures["conversion to Structs"], requests = _each(lambda d: convert_checked(d, EstimateRequest), decoded,
                                                       args.repeats)
    figures["resolution (build_pricing_request)"], pricing = _each(
        lambda r: service.build_pricing_request(catalog, r, today)[0], requests, args.repeats)
    for p in pricing:
        p.include_claims = False
    figures["engine (price_episode)"], priced = _each(price_episode, pricing, args.repeats)
    figures["document (document_tail)"], _ = _each(lambda p: service.document_tail(p, None, None), priced,
                                                   args.repeats)

    def price_afresh(request: EstimateRequest) -> service.Priced:
        catalog.pricing_memo.clear()
        return service.price(catalog, request, today)

    figures["price, caches warm"], _ = _each(price_afresh, requests, args.repeats)
    figures[f"price, {args.evict_mb} MB written between calls"] = _price_cold(
        catalog, requests, today, args.repeats, args.evict_mb)

    width = max(map(len, figures))
    for name, us in figures.items():
        print(f"{name:<{width}}  {us:7.1f} µs")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "price.json").write_text(json.dumps({
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "load_1min": round(os.getloadavg()[0], 2), "us_per_request": {k: round(v, 1) for k, v in figures.items()},
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
