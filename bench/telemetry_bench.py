"""What the request telemetry costs per request, in process (no server, no network):
the ``RequestTelemetry`` wrapper (request id, bound log context, HTTP metrics, access
line) around an ASGI app that answers at once, against the bare app.

    .venv/bin/python bench/telemetry_bench.py [--requests 50000] [--multiprocess]

Prints microseconds per request for: the bare app; wrapped, access lines off
(``COSTSVC_LOG_LEVEL=WARNING``); wrapped, access lines on (INFO, JSON, to /dev/null).
``--multiprocess`` records the metrics in a PROMETHEUS_MULTIPROC_DIR (what
``costsvc serve --workers N`` does), where every sample is a write to a shared file.
The HTTP bench (bench/http_bench.py) gives the estimate route's cost to compare with.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def bare(scope, receive, send):  # type: ignore[no-untyped-def]
    scope["route_handler"], scope["path_template"] = object(), "/v1/estimates"
    await send({"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def measure(app, requests: int) -> float:  # type: ignore[no-untyped-def]
    async def receive():  # type: ignore[no-untyped-def]
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):  # type: ignore[no-untyped-def]
        return None

    headers = [(b"host", b"localhost"), (b"content-type", b"application/json"), (b"x-request-id", b"lb-1")]
    start = time.perf_counter()
    for _ in range(requests):
        scope = {"type": "http", "method": "POST", "path": "/v1/estimates", "headers": headers,
                 "client": ("10.0.0.5", 40000)}
        await app(scope, receive, send)
    return (time.perf_counter() - start) / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--multiprocess", action="store_true")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="costsvc-bench-metrics-")  # removed at exit
    if args.multiprocess:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder.name

    import logging

    from costsvc.api.clients import parse_trusted
    from costsvc.api.telemetry import RequestTelemetry
    from costsvc.observe import logs
    from costsvc.settings import Settings

    wrapped = RequestTelemetry(bare, parse_trusted("127.0.0.1"))
    results: dict[str, list[float]] = {"bare app": [], "wrapped, access lines off (WARNING)": [],
                                       "wrapped, access lines on (INFO, JSON)": []}
    with open(os.devnull, "w") as devnull:
        for _ in range(args.rounds):
            results["bare app"].append(asyncio.run(measure(bare, args.requests)))
            logs.configure(Settings(log_level="WARNING"), devnull)
            results["wrapped, access lines off (WARNING)"].append(asyncio.run(measure(wrapped, args.requests)))
            logs.configure(Settings(log_level="INFO"), devnull)
            results["wrapped, access lines on (INFO, JSON)"].append(asyncio.run(measure(wrapped, args.requests)))
            logging.getLogger().setLevel(logging.WARNING)
    base = statistics.median(results["bare app"])
    mode = "multiprocess (shared files)" if args.multiprocess else "one process"
    print(f"metrics {mode}; median of {args.rounds} rounds of {args.requests} requests; 1-min load "
          f"{os.getloadavg()[0]:.2f}\n")
    print("| case | µs per request | added µs |\n| --- | ---: | ---: |")
    for name, runs in results.items():
        median = statistics.median(runs)
        print(f"| {name} | {median:.1f} | {median - base:.1f} |")
    folder.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
