#!/usr/bin/env python3
"""Raw ijson throughput over a TiC in-network file, to compare ``tariffs.tic`` with.

Modes (``--mode``, default ``all`` = the three baselines, then the parser):

* ``basic``  — ``ijson.basic_parse``: every event, no prefixes (the floor for any
  event-driven parser written in Python);
* ``parse``  — ``ijson.parse``: every event with its prefix;
* ``items``  — ``ijson.items(f, "in_network.item")``: each in_network item built by
  the C backend (fastest, but memory grows with the largest item);
* ``parser`` — ``tariffs.tic.TicInNetworkReader`` with ``--npi``/``--tin``/``--code``
  (default: the behavioral codes of ``bench/gen_tic.py``).

Loops run inside functions (local variables), so the figures are comparable.  Prints
one JSON line per mode: MB/s (10^6 bytes of uncompressed JSON per second), events or
items, seconds, and this process's peak RSS so far.  For a clean peak-RSS figure per
mode run one mode per process under ``/usr/bin/time -v``.

    python bench/tic_stream_baseline.py FILE [--mode basic|parse|items|parser|all]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import time
from pathlib import Path

import ijson

BEHAVIORAL = ["H0015", "90837", "90834", "90791", "H0018", "H0035", "H0010", "REV:0906", "REV:1002", "S9480"]


def _open(path: str):
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def run_basic(path: str) -> int:
    n = 0
    with _open(path) as f:
        for _event, _value in ijson.basic_parse(f):
            n += 1
    return n


def run_parse(path: str) -> int:
    n = 0
    with _open(path) as f:
        for _prefix, _event, _value in ijson.parse(f):
            n += 1
    return n


def run_items(path: str) -> int:
    n = 0
    with _open(path) as f:
        for _item in ijson.items(f, "in_network.item"):
            n += 1
    return n


def run_parser(path: str, npis: list[str], tins: list[str], codes: list[str]) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tariffs.tic import TicFilter, TicInNetworkReader

    reader = TicInNetworkReader(
        path,
        payer_id="bench",
        keep=TicFilter(npis=frozenset(npis), tins=frozenset(tins), billing_codes=frozenset(codes)),
    )
    n = sum(1 for _ in reader)
    print(
        json.dumps(
            {"parser_stats": dict(reader.stats), "passes": reader.passes, "errors": reader.error_count}
        ),
        file=sys.stderr,
    )
    return n


def uncompressed_size(path: str) -> int:
    with open(path, "rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return os.path.getsize(path)
    total = 0
    with gzip.open(path, "rb") as g:
        while chunk := g.read(1 << 20):
            total += len(chunk)
    return total


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file")
    p.add_argument("--mode", default="all", choices=["basic", "parse", "items", "parser", "all"])
    p.add_argument("--npi", action="append", default=None)
    p.add_argument("--tin", action="append", default=None)
    p.add_argument("--code", action="append", default=None)
    a = p.parse_args(argv)
    size = uncompressed_size(a.file)
    modes = ["basic", "parse", "items", "parser"] if a.mode == "all" else [a.mode]
    print(json.dumps({"file": a.file, "ijson_backend": ijson.backend, "uncompressed_bytes": size}))
    for mode in modes:
        t0 = time.perf_counter()
        if mode == "basic":
            n = run_basic(a.file)
        elif mode == "parse":
            n = run_parse(a.file)
        elif mode == "items":
            n = run_items(a.file)
        else:
            n = run_parser(a.file, a.npi or ["1234567893"], a.tin or ["987654321"], a.code or BEHAVIORAL)
        dt = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            json.dumps(
                {
                    "mode": mode,
                    "count": n,
                    "seconds": round(dt, 2),
                    "MB_per_s": round(size / dt / 1e6, 1),
                    "peak_rss_MiB_so_far": round(rss, 1),
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
