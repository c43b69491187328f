#!/usr/bin/env python3
"""X12 271 reader benchmark: ``read_271`` against only splitting the same body into segments.

    .venv/bin/python bench/x12_bench.py [--subscribers 1000] [--runs 9] [--seed 271]
    .venv/bin/python bench/x12_bench.py --reads N   # for callgrind: N untimed reads, nothing else

Generates one 5010 interchange with ``--subscribers`` subscribers (2000C), about 60 % of
them with one to three dependents (2000D), in batches of 100 people per ST/SE. Each
person has what a large payer's response carries: TRN, NM1 with a member ID, N3/N4,
DMG, INS, REF*6P/18, DTP*307/346, then 2110 loops — active coverage with the plan name,
IND/FAM deductibles and out-of-pocket maximums (plan, remaining, year to date) in and
out of network, copays and coinsurance for behavioral and medical service types
(repeated service types with ``^``), visit/day limits with remaining counts, a
non-covered service, prior-auth flags, MSG notes, DTPs and a 2120 LS/LE loop.

Times (wall and CPU), as the median of ``--runs`` runs in this process:
  (a) ``read_271(body)``;
  (b) splitting only: decode, split at the segment terminator, strip, split each segment
      into elements (what any X12 reader must do at the least);
  (c) the reader's own tokenizer alone (``tariffs.x12.envelope.iter_segments``).
Prints a Markdown table and writes ``bench/out/x12.json``.

Instruction counts do not depend on what else the machine runs.  ``--reads N`` generates
the same body and reads it N times without timing or checking; under callgrind the
count of ``--reads 2`` less that of ``--reads 1`` is one ``read_271`` (warm caches):

    for n in 1 2; do PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=bench/out/cg.$n \
        .venv/bin/python bench/x12_bench.py --reads $n; done
    grep -h '^summary' bench/out/cg.1 bench/out/cg.2
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tariffs.x12 import read_271
from tariffs.x12.envelope import decode, iter_segments

OUT = ROOT / "bench" / "out"
PEOPLE_PER_TRANSACTION = 100
BEHAVIORAL = ["MH", "A4", "AI", "AJ", "AK", "RT", "BB", "A7", "A8", "CE", "CF", "CG", "CH", "A6", "CI", "CJ"]
MEDICAL = ["1", "33", "35", "47", "48", "50", "86", "88", "98", "AL", "UC", "BZ"]
FIRST = ["JANE", "JOHN", "MARIA", "WEI", "AISHA", "LUIS", "SAM", "ANN", "OMAR", "PRIYA"]
LAST = ["DOE", "SMITH", "GARCIA", "CHEN", "KHAN", "NGUYEN", "BROWN", "LOPEZ", "PATEL", "KIM"]


def person_segments(rng: random.Random, entity: str, member_id: str | None) -> list[str]:
    id_part = f"****MI*{member_id}" if member_id else ""
    segs = [
        f"TRN*2*{rng.randrange(10**8):08d}*9877281234",
        f"NM1*{entity}*1*{rng.choice(LAST)}*{rng.choice(FIRST)}{id_part}",
        f"N3*{rng.randrange(1, 9999)} MAIN STREET*APT {rng.randrange(1, 400)}",
        "N4*KANSAS CITY*MO*64108",
        f"DMG*D8*{rng.randrange(1940, 2020)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}*{rng.choice('MF')}",
        f"INS*{'Y' if entity == 'IL' else 'N'}*{'18' if entity == 'IL' else '19'}",
        f"REF*6P*GRP{rng.randrange(10**5):05d}*EMPLOYER GROUP",
        f"REF*18*PLN{rng.randrange(10**4):04d}",
        "DTP*346*D8*20260101",
        "DTP*307*D8*20261102",
        "EB*1**30^MH^AI**GOLD PPO 1500",
        "MSG*COVERAGE ACTIVE",
        "EB*L",
        "LS*2120",
        "NM1*P3*1*WELBY*MARCUS****XX*1234567893",
        "PER*IC**TE*8005551234",
        "LE*2120",
    ]
    for tier, scale in (("IND", 1), ("FAM", 2)):
        for network, factor in (("Y", 1), ("N", 2)):
            ded, oop = 1500 * scale * factor, 6000 * scale * factor
            met_cents = rng.randrange(0, ded * 100 + 1)
            left = ded * 100 - met_cents
            segs += [
                f"EB*C*{tier}*30***23*{ded}*****{network}",
                "DTP*292*RD8*20260101-20261231",
                f"EB*C*{tier}*30***29*{left // 100}.{left % 100:02d}*****{network}",
                f"EB*C*{tier}*30***24*{met_cents // 100}.{met_cents % 100:02d}*****{network}",
                f"EB*G*{tier}*30***23*{oop}*****{network}",
                f"EB*G*{tier}*30***29*{oop - met_cents // 100}*****{network}",
            ]
    for code in rng.sample(BEHAVIORAL, 6):
        network = rng.choice("YN")
        segs += [
            f"EB*B**{code}^{rng.choice(MEDICAL)}*HM*GOLD PPO 1500*27*{rng.choice([0, 20, 35, 50])}.00****{rng.choice('YN')}*{network}",
            f"EB*A**{code}***27**.{rng.choice([1, 2, 3])}****{rng.choice('YN')}*{network}",
            "MSG*PER VISIT",
        ]
    for code in rng.sample(BEHAVIORAL, 2):
        limit = rng.choice([20, 30, 60])
        segs += [f"EB*F**{code}***23***VS*{limit}", f"EB*F**{code}***29***VS*{rng.randrange(limit + 1)}"]
    for code in rng.sample(MEDICAL, 5):
        segs += [f"EB*B**{code}***27*25.00*****Y", f"EB*A**{code}***27**.2*****Y"]
    segs += ["EB*I**35", "MSG*DENTAL NOT COVERED", "EB*CB**30", "EB*P", "MSG*THIS IS NOT A GUARANTEE OF PAYMENT"]
    return segs


def generate(subscribers: int, seed: int) -> tuple[bytes, int, int]:
    rng = random.Random(seed)
    isa = "*".join(["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "ACMEHEALTH".ljust(15), "ZZ", "SUNRISE".ljust(15),
                    "261102", "1200", "^", "00501", "000000001", "0", "P", ":"])
    out = [isa, "GS*HB*ACMEHEALTH*SUNRISE*20261102*1200*1*X*005010X279A1"]
    people = transactions = 0
    remaining = subscribers
    while remaining:
        transactions += 1
        control = f"{transactions:04d}"
        tx = [f"ST*271*{control}*005010X279A1", f"BHT*0022*11*TRACE{transactions}*20261102*1200",
              "HL*1**20*1", "NM1*PR*2*ACME HEALTH*****PI*12345", "HL*2*1*21*1", "NM1*1P*2*SUNRISE RECOVERY*****XX*1234567893"]
        hl = 2
        in_tx = 0
        while remaining and in_tx < PEOPLE_PER_TRANSACTION:
            remaining -= 1
            hl += 1
            sub_hl = hl
            dependents = rng.choice([0, 0, 0, 0, 1, 1, 2, 2, 3, 3]) if rng.random() < 0.99 else 0
            tx += [f"HL*{sub_hl}*2*22*{1 if dependents else 0}",
                   *person_segments(rng, "IL", f"W{rng.randrange(10**9):09d}")]
            in_tx += 1
            for _ in range(dependents):
                hl += 1
                tx += [f"HL*{hl}*{sub_hl}*23*0", *person_segments(rng, "03", None)]
                in_tx += 1
        people += in_tx
        tx.append(f"SE*{len(tx) + 1}*{control}")
        out += tx
    out += [f"GE*{transactions}*1", "IEA*1*000000001"]
    return ("~\n".join(out) + "~\n").encode(), people, len(out)


def split_only(data: bytes) -> int:
    text = decode(data)
    n = 0
    for raw in text.split("~"):
        raw = raw.strip()
        if raw:
            raw.split("*")
            n += 1
    return n


def tokenizer_only(data: bytes) -> int:
    return sum(1 for _ in iter_segments(decode(data)))


def median_seconds(fn, data: bytes, runs: int) -> tuple[float, float, list[float]]:
    """Median wall and median CPU seconds of ``runs`` calls (CPU time is what the shared
    machine's other processes do not inflate as much), and every wall time."""
    wall, cpu = [], []
    for _ in range(runs):
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        fn(data)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--seed", type=int, default=271)
    parser.add_argument("--reads", type=int, default=None, help="only read the body this many times (for callgrind)")
    args = parser.parse_args()

    data, people, segments = generate(args.subscribers, args.seed)
    if args.reads is not None:
        for _ in range(args.reads):
            gc.collect()
            read_271(data)
        return
    result = read_271(data)
    assert len(result.people) == people, (len(result.people), people)
    assert result.warnings == [], result.warnings
    assert all(p.status == "active" and p.accumulators and p.benefits and not p.warnings for p in result.people)
    assert split_only(data) == tokenizer_only(data) == segments
    del result  # not kept alive while timing: every full GC pass would walk its 2,000 people

    read_s, read_cpu, read_all = median_seconds(read_271, data, args.runs)
    split_s, split_cpu, split_all = median_seconds(split_only, data, args.runs)
    token_s, token_cpu, token_all = median_seconds(tokenizer_only, data, args.runs)
    tracemalloc.start()
    read_271(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    report = {
        "subscribers": args.subscribers,
        "people": people,
        "segments": segments,
        "eb_segments": sum(1 for line in data.split(b"~") if line.strip().startswith(b"EB*")),
        "bytes": len(data),
        "runs": args.runs,
        "read_271_median_s": round(read_s, 4),
        "read_271_median_cpu_s": round(read_cpu, 4),
        "split_only_median_s": round(split_s, 4),
        "split_only_median_cpu_s": round(split_cpu, 4),
        "tokenizer_only_median_s": round(token_s, 4),
        "tokenizer_only_median_cpu_s": round(token_cpu, 4),
        "ratio_read_to_split": round(read_s / split_s, 1),
        "read_271_peak_traced_mb": round(peak / 2**20, 1),
        "all_wall_runs_s": {"read_271": [round(t, 4) for t in read_all], "split_only": [round(t, 4) for t in split_all],
                            "tokenizer_only": [round(t, 4) for t in token_all]},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "x12.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{people} people ({args.subscribers} subscribers), {segments} segments ({report['eb_segments']} EB), "
          f"{len(data) / 2**20:.1f} MiB; median of {args.runs} runs, load {report['load_1min']} on {os.cpu_count()} CPUs")
    print("| step | median wall s | median CPU s |")
    print("| --- | --- | --- |")
    print(f"| read_271 | {read_s:.3f} | {read_cpu:.3f} |")
    print(f"| split into segments and elements only | {split_s:.3f} | {split_cpu:.3f} |")
    print(f"| the reader's tokenizer alone | {token_s:.3f} | {token_cpu:.3f} |")
    print(f"read_271 / split = {read_s / split_s:.1f}; read_271 peak traced memory {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
