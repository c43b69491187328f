"""Summarize what ``bench/probe/sitecustomize.py`` recorded in the server (bench/out/probe-*.json).

    .venv/bin/python bench/probe_summary.py

Per process: the garbage collector's collections after the catalog was frozen (count,
total and longest, by generation) and before it (start-up), and the distribution of
``price_batch`` and of the estimate INSERTs (groups of 50 rows or more, and smaller).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))] * 1000


def _dist(label: str, values: list[float]) -> None:
    if values:
        print(f"  {label}: {len(values)}, p50 {_ms(values, .5):.2f} ms, p90 {_ms(values, .9):.2f}, "
              f"p99 {_ms(values, .99):.2f}, max {_ms(values, 1):.2f}")


def main() -> int:
    files = sorted(OUT.glob("probe-*.json"))
    if not files:
        print("no bench/out/probe-*.json: run the server with PYTHONPATH=bench/probe", file=sys.stderr)
        return 2
    for path in files:
        log = json.loads(path.read_text())
        print(path.name)
        for frozen, when in ((True, "after the catalog's freeze"), (False, "at start-up")):
            for generation in (0, 1, 2):
                pauses = [g[1] for g in log["gc"] if g[0] == generation and g[3] is frozen]
                if pauses:
                    print(f"  gc gen {generation} {when}: {len(pauses)} collections, total "
                          f"{sum(pauses) * 1000:.1f} ms, longest {max(pauses) * 1000:.2f} ms")
        _dist("price_batch", [p[0] for p in log["price_batch"]])
        _dist("INSERT, 50 rows or more", [i[1] for i in log["insert"] if i[0] >= 50])
        _dist("INSERT, fewer rows", [i[1] for i in log["insert"] if i[0] < 50])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
