"""In-process cost of pricing one episode, by episode length, for both engines.

    .venv/bin/python bench/engine_bench.py [--repeats 300] [--calls 20]

Prices in-network estimates (deductible, 20 % coinsurance, out-of-pocket maximum,
an intake plus one per-day line, negotiated dollar rates) the way the service asks
for them (``include_claims`` off, length fixed so no range re-pricing), with the fast
engine (``engine.price_episode``) and the claim-by-claim reference
(``price_episode_by_claims``).  Each figure is the median over ``--repeats``
timings (CPU time of this process, so that other programs on the shared machine
do not count)
of ``--calls`` consecutive calls, in microseconds per call.  Targets: a
104-week IOP estimate at most 1.5x a 4-week one, a 60-day residential at most 1.5x a
5-day detox.  Writes bench/out/engine.json.

    .venv/bin/python bench/engine_bench.py --instructions [--engine fast|reference]

counts instead the machine instructions per call under valgrind's callgrind (``apt-get
install valgrind``): each case is run for 10 and for 210 calls and the difference is
divided by 200, so start-up and imports cancel out.  The counts do not depend on the
machine's load (other programs on the shared cores), so they show a change in-process
where timings cannot; they are a proxy for time (a Decimal operation and a Python
opcode do not cost the same per instruction), not a replacement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from costsvc.domain.engine import price_episode, price_episode_by_claims
from costsvc.domain.model import (
    Accumulators,
    Amounts,
    Benefits,
    EpisodeRequest,
    FeeLine,
    LevelBenefit,
    NegotiatedRate,
    NetworkAccumulators,
    NetworkBenefits,
    PricingRequest,
)

JAN1 = dt.date(2026, 1, 1)
START = dt.date(2026, 3, 2)
FEES = {
    "iop": (FeeLine("90791", "Intake assessment", "per_episode", D("250.00")),
            FeeLine("H0015", "IOP day", "per_service", D("450.00"), D("300.00"))),
    "residential": (FeeLine("90791", "Intake assessment", "per_episode", D("250.00")),
                    FeeLine("H0018", "Residential day", "per_service", D("900.00"))),
    "detox": (FeeLine("H0012", "Detox day", "per_service", D("1100.00")),),
}
RATES = tuple(NegotiatedRate(code, "dollar", D(amount), JAN1) for code, amount in
              (("90791", "180.00"), ("H0015", "310.00"), ("H0018", "700.00"), ("H0012", "850.00")))


def benefits() -> Benefits:
    level = LevelBenefit(coinsurance_pct=D(20), prior_auth=True)
    return Benefits(
        payer_id="acme",
        in_network=NetworkBenefits(
            deductible=Amounts(D("1500.00"), D("3000.00")),
            oop_max=Amounts(D("6000.00"), D("12000.00")),
            levels={"iop": level, "residential": level, "detox": level},
        ),
    )


def request(level: str, episode: EpisodeRequest) -> PricingRequest:
    return PricingRequest(
        program_id="sunrise-recovery", level_of_care=level, fee_lines=FEES[level], episode=episode,
        today=START, benefits=benefits(), network="in_network",
        accumulators=Accumulators(in_network=NetworkAccumulators(D("250.00"), D("400.00"))),
        negotiated_rates=RATES, include_claims=False,
    )


CASES = {
    "iop 4 weeks x 3 days": request("iop", EpisodeRequest(START, weeks=4, days_per_week=3)),
    "iop 104 weeks x 3 days": request("iop", EpisodeRequest(START, weeks=104, days_per_week=3)),
    "detox 5 days": request("detox", EpisodeRequest(START, days=5)),
    "residential 60 days": request("residential", EpisodeRequest(START, days=60)),
}
RATIOS = (("iop 104 weeks x 3 days", "iop 4 weeks x 3 days"), ("residential 60 days", "detox 5 days"))


def per_call_us(price, req: PricingRequest, repeats: int, calls: int) -> float:
    for _ in range(calls):
        price(req)  # warm caches (episode offsets, Decimal constants)
    timings = []
    for _ in range(repeats):
        t0 = time.process_time_ns()
        for _ in range(calls):
            price(req)
        timings.append((time.process_time_ns() - t0) / calls / 1000)
    return statistics.median(timings)


def _collected(case: str, calls: int, engine: str) -> int:
    """Instructions callgrind counts for a process that prices ``case`` ``calls`` times."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
           "--price-only", case, str(calls), engine]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def instructions(engine: str) -> int:
    if not shutil.which("valgrind"):
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    counts = {name: (_collected(name, 210, engine) - _collected(name, 10, engine)) // 200 for name in CASES}
    print(f"| case | {engine} engine, instructions per call |\n| --- | ---: |")
    for name, n in counts.items():
        print(f"| {name} | {n:,} |")
    for a, b in RATIOS:
        print(f"{a} / {b}: {counts[a] / counts[b]:.2f}x")
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "out" / f"engine-instructions-{engine}.json").write_text(json.dumps(counts, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--instructions", action="store_true", help="count instructions with callgrind")
    parser.add_argument("--engine", choices=["fast", "reference"], default="fast")
    parser.add_argument("--price-only", nargs=3, metavar=("CASE", "CALLS", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.price_only:
        case, calls, engine = args.price_only
        price = price_episode if engine == "fast" else price_episode_by_claims
        for _ in range(int(calls)):
            price(CASES[case])
        return 0
    if args.instructions:
        return instructions(args.engine)
    load_before = os.getloadavg()[0]
    results: dict[str, dict[str, float]] = {}
    # Interleaved by round so background load on the shared machine hits every case alike
    # (10 rounds: with 3, the host's drift between two cases moved their ratio by ±5 %).
    rounds = 10
    samples: dict[str, dict[str, list[float]]] = {name: {"fast": [], "reference": []} for name in CASES}
    for _ in range(rounds):
        for name, req in CASES.items():
            samples[name]["fast"].append(per_call_us(price_episode, req, args.repeats // rounds, args.calls))
            samples[name]["reference"].append(
                per_call_us(price_episode_by_claims, req, max(args.repeats // rounds // 10, 5), args.calls))
    for name, s in samples.items():
        results[name] = {engine: round(statistics.median(v), 1) for engine, v in s.items()}
    ratios = {f"{a} / {b}": round(results[a]["fast"] / results[b]["fast"], 2) for a, b in RATIOS}
    summary = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "load_1min_before": round(load_before, 2), "load_1min_after": round(os.getloadavg()[0], 2),
        "us_per_call": results, "fast_engine_ratios": ratios,
    }
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "out" / "engine.json").write_text(json.dumps(summary, indent=2))
    print("| case | fast engine µs | reference engine µs |\n| --- | ---: | ---: |")
    for name, r in results.items():
        print(f"| {name} | {r['fast']:.1f} | {r['reference']:.1f} |")
    for label, ratio in ratios.items():
        print(f"{label}: {ratio:.2f}x (target <= 1.5x)")
    print(f"load average {summary['load_1min_before']} before, {summary['load_1min_after']} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
