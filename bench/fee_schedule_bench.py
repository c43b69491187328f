#!/usr/bin/env python3
"""Fee schedule import benchmark: 1,000,000 rows through the pipeline vs ``psql \\copy``.

    .venv/bin/python bench/fee_schedule_bench.py [--programs 100000] [--lines 10] [--reuse] [--repeat 1]

1. Writes ``bench/.data/fee_schedule_<N>.csv``: ``--programs`` programs x ``--lines``
   fee lines (default 100,000 x 10 = 1,000,000 rows) in the format of
   ``costsvc/demo/data/fee_schedule.csv``: valid NPIs (Luhn check digit with the
   80840 prefix), TINs (``12-3456789`` or 9 digits), US states, 2-5 levels of care per
   program with their per-diem/per-session codes (HCPCS, CPT, ``REV:`` revenue codes)
   ``per_service`` and intakes ``per_episode``, descriptions with commas (quoted),
   some empty cash prices, two effective dates.  Deterministic for a given ``--seed``.
2. Per round, on a fresh database ``costsvc_bench_fee`` (created, and dropped at the
   end, on ``DATABASE_URL``'s server when set, else on the embedded PostgreSQL in
   ``bench/.data``), migrated, with a staging ``tariff_versions`` row for psql:
   (a) ``psql \\copy fee_lines (...) FROM 'fee_copy.csv' CSV HEADER``: the same
       1,000,000 rows already in the table's column form (the staging version id,
       ``REV:0906`` codes, line numbers) into the same table;
   (b) ``costsvc import fee_schedule FILE``: hash, pandas parse and validation of every
       row, program upsert, COPY into ``fee_lines``, version keys, activation, commit.
   ``fee_lines`` is truncated between (a) and (b) and a CHECKPOINT precedes each, so
   both COPY into an empty table with the same index (``fee_lines_key``).  Odd rounds
   run (a) first, even rounds (b) first.  Each is a fresh process under
   ``/usr/bin/time`` (wall time, peak RSS).
3. Checks: the import succeeded with 1,000,000 rows accepted and stored; psql stored
   1,000,000 rows.  Then, not timed with the import: one ``load_catalog`` (what every
   API process does at start-up, or after an activation that carries many keys) in a
   fresh process: seconds and peak RSS; then, in the same process, a one-program fee
   schedule is imported and ``load_catalog_changes`` (what an API process does on that
   activation's NOTIFY) is timed.

Reports the ratio import / psql (target of the issue: at most 2), writes
``bench/out/fee_schedule.json`` and prints a Markdown table.  ``--profile`` runs one
more import under ``py-spy record`` (``bench/out/fee_import_profile.*``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_url, npi_check_digit, timed  # noqa: E402

DATA = ROOT / "bench" / ".data"
OUT = ROOT / "bench" / "out"
DB_NAME = "costsvc_bench_fee"
RATIO_TARGET = 2.0
PSQL = shutil.which("psql") or "/usr/bin/psql"

HEADER = ["program_id", "program_name", "npi", "tin", "state", "level_of_care", "billing_code", "description",
          "frequency", "gross_charge", "cash_price", "effective_date"]
FEE_LINE_COLUMNS = ["version_id", "program_id", "level_of_care", "billing_code", "description", "frequency",
                    "gross_charge", "cash_price", "effective_date", "line"]

INTAKE = ("90791", "Psychiatric diagnostic evaluation (intake assessment)", "per_episode", 350)
# level -> its lines: (code, description, frequency, typical gross charge); the first is the per-diem unit
LEVELS: dict[str, list[tuple[str, str, str, int]]] = {
    "detox": [
        ("H0011", ("Alcohol and/or drug services; acute detoxification (residential addiction program "
                  "inpatient), per day"), "per_service", 1850),
        ("H0010", ("Alcohol and/or drug services; sub-acute detoxification (residential addiction program "
                  "outpatient), per day"), "per_service", 1200),
        ("REV:0116", "Room and board, private, detoxification", "per_service", 2100),
        ("H0001", "Alcohol and/or drug assessment", "per_episode", 275),
        INTAKE,
    ],
    "residential": [
        ("H0018", ("Behavioral health; short-term residential (non-hospital residential treatment program), "
                  "without room and board, per diem"), "per_service", 1400),
        ("H0019", ("Behavioral health; long-term residential (non-medical, non-acute care in a residential "
                  "treatment program), without room and board, per diem"), "per_service", 950),
        ("REV:1002", "Behavioral health accommodations, residential, chemical dependency", "per_service", 1100),
        ("H0001", "Alcohol and/or drug assessment", "per_episode", 275),
        ("90791", "Psychiatric diagnostic evaluation (admission assessment)", "per_episode", 325),
    ],
    "php": [
        ("H0035", "Mental health partial hospitalization, treatment, less than 24 hours, per day",
         "per_service", 1450),
        ("REV:0913", "Partial hospitalization, intensive, per day", "per_service", 1875),
        ("REV:0912", "Partial hospitalization, less intensive, per day", "per_service", 1350),
        INTAKE,
    ],
    "iop": [
        ("H0015", "Alcohol and/or drug services; intensive outpatient, per day (3-hour block)",
         "per_service", 750),
        ("S9480", "Intensive outpatient psychiatric services, per diem", "per_service", 825),
        ("REV:0906", "Intensive outpatient services, chemical dependency, per day", "per_service", 980),
        ("REV:0905", "Intensive outpatient services, psychiatric, per day", "per_service", 940),
        INTAKE,
    ],
    "outpatient": [
        ("90837", "Psychotherapy, 60 minutes with patient", "per_service", 225),
        ("90834", "Psychotherapy, 45 minutes with patient", "per_service", 175),
        ("90832", "Psychotherapy, 30 minutes with patient", "per_service", 120),
        ("90853", "Group psychotherapy (other than of a multiple-family group)", "per_service", 110),
        ("90847", "Family psychotherapy (conjoint psychotherapy) (with patient present), 50 minutes",
         "per_service", 190),
        ("H0004", "Behavioral health counseling and therapy, per 15 minutes", "per_service", 45),
        ("90792", "Psychiatric diagnostic evaluation with medical services", "per_episode", 420),
        INTAKE,
    ],
}
STATES = ["AL", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME",
          "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK",
          "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC"]
NAME_A = ["Sunrise", "Cedar Ridge", "Harborview", "Pinewood", "Lakeside", "Riverbend", "Blue Mesa", "Willow Creek",
          "Northstar", "Silver Pine", "Oak Hollow", "Summit", "Clearwater", "Red Rock", "Evergreen", "Meadowbrook"]
NAME_B = ["Recovery Center", "Treatment Center", "Behavioral Health", "Recovery Ranch", "Wellness Institute",
          "Counseling Services", "Addiction Services", "Psychiatric Hospital", "Medical Center Behavioral Health"]


# --------------------------------------------------------------------------- the files


def fee_rows(programs: int, lines: int, seed: int):
    """Yield (file row, line number) for the fee schedule; deterministic for ``seed``."""
    rng = random.Random(seed)
    level_names = list(LEVELS)
    line_no = 1
    for i in range(programs):
        a, b = rng.choice(NAME_A), rng.choice(NAME_B)
        pid = f"{a.lower().replace(' ', '-')}-{b.split()[0].lower()}-{i:06d}"
        name = f"{a} {b} #{i}"
        # multipliers coprime with 10^8 / 10^9: distinct, scattered NPIs and TINs for every program
        base9 = f"1{(i * 15485863 + 23456789) % 10**8:08d}"
        npi = base9 + npi_check_digit(base9)
        tin9 = f"{(i * 387420489 + 123456789) % 10**9:09d}"
        tin = f"{tin9[:2]}-{tin9[2:]}" if rng.random() < 0.8 else tin9
        state = rng.choice(STATES)
        chosen: list[tuple[str, tuple[str, str, str, int]]] = []
        order = rng.sample(level_names, len(level_names))
        for level in order:  # levels until there are enough lines; each keeps its per-diem unit
            chosen += [(level, x) for x in LEVELS[level]]
            if len(chosen) >= lines:
                break
        keep = [c for c in chosen if c[1] is LEVELS[c[0]][0]]
        rest = [c for c in chosen if c[1] is not LEVELS[c[0]][0]]
        picked = keep + rng.sample(rest, max(0, min(len(rest), lines - len(keep))))
        picked = picked[:lines]
        effective = "2026-01-01" if rng.random() < 0.85 else "2025-07-01"
        for level, (code, desc, freq, charge) in picked:
            gross = round(charge * rng.uniform(0.7, 1.5), 2)
            cash = f"{gross * rng.uniform(0.5, 0.7):.2f}" if rng.random() < 0.9 else ""
            line_no += 1
            yield [pid, name, npi, tin, state, level, code, desc, freq, f"{gross:.2f}", cash, effective], line_no


def write_fee_schedule(path: Path, programs: int, lines: int, seed: int) -> int:
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for row, _line in fee_rows(programs, lines, seed):
            w.writerow(row)
            n += 1
    tmp.replace(path)
    return n


def write_copy_csv(path: Path, programs: int, lines: int, seed: int, version_id: int) -> int:
    """The same rows in ``fee_lines`` column form (what the import stores)."""
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(FEE_LINE_COLUMNS)
        for row, line in fee_rows(programs, lines, seed):
            pid, _name, _npi, _tin, _state, level, code, desc, freq, gross, cash, eff = row
            w.writerow([version_id, pid, level, code, desc, freq, gross, cash, eff, line])
            n += 1
    tmp.replace(path)
    return n


# --------------------------------------------------------------------------- database


def server_url() -> tuple[str, str]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, "DATABASE_URL server"
    from costsvc.db.embedded import start_embedded

    return start_embedded(DATA), "embedded PostgreSQL (bench/.data)"


async def admin(admin_url: str, *sql: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        for s in sql:
            await conn.execute(s)
    finally:
        await conn.close()


async def fresh_database(admin_url: str, url: str) -> tuple[int, str]:
    """Recreate, migrate, add the staging version psql copies under; (version_id, server version)."""
    from costsvc.db.migrate import migrate
    from costsvc.db.pool import connect

    await admin(admin_url, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)', f'CREATE DATABASE "{DB_NAME}"')
    conn = await connect(url)
    try:
        await migrate(conn)
        vid = await conn.fetchval("INSERT INTO tariff_versions (kind) VALUES ('bench_psql_copy') RETURNING version_id")
        return vid, await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


async def sql(url: str, query: str, *args: object) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def reset_table(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("TRUNCATE fee_lines")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


# --------------------------------------------------------------------------- measurements


def run_psql(url: str, copy_csv: Path) -> dict:
    cmd = (f"\\copy fee_lines ({', '.join(FEE_LINE_COLUMNS)}) FROM '{copy_csv}' "
           "WITH (FORMAT csv, HEADER true)")
    r = timed([PSQL, url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", cmd])
    if r["exit_code"] != 0:
        raise RuntimeError(f"psql \\copy failed: {r['stderr']}")
    r.pop("stdout")
    r.pop("stderr")
    return r


def run_import(url: str, path: Path, *, profile: Path | None = None) -> dict:
    env = dict(os.environ, DATABASE_URL=url, COSTSVC_LOG_LEVEL="WARNING")
    cmd = [str(Path(sys.executable).parent / "costsvc"), "import", "fee_schedule", str(path), "--json"]
    if profile is not None:
        spy = str(Path(sys.executable).parent / "py-spy")
        cmd = [spy, "record", "--rate", "200", "--function", "--format", "raw", "-o", str(profile), "--", *cmd]
    r = timed(cmd, env=env)
    if r["exit_code"] != 0:
        raise RuntimeError(f"import failed (exit {r['exit_code']}): {r['stderr']}\n{r['stdout'][-2000:]}")
    outcome = json.loads([x for x in r.pop("stdout").strip().splitlines() if x.startswith("{")][-1])
    r.pop("stderr")
    r["outcome"] = {k: outcome.get(k) for k in ("import_id", "status", "version_id", "rows_read", "rows_accepted",
                                                 "rows_rejected", "message")}
    r["errors"] = outcome.get("errors", [])[:5]
    return r


CATALOG_CODE = """
import asyncio, gc, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from costsvc.staging.loaders import LOADERS
from costsvc.catalog import load_catalog
from costsvc.db.pool import connect
async def main():
    conn = await connect(sys.argv[2])
    t = time.perf_counter()
    cat = await load_catalog(conn)
    dt = time.perf_counter() - t
    lines = sum(len(v) for p in cat.programs.values() for v in p.levels.values())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the peak of the load itself
    programs = len(cat.programs)
    # what an API process does when a one-program fee schedule is activated next
    from costsvc.catalog import load_catalog_changes
    from costsvc.staging.pipeline import import_file
    outcome = await import_file(conn, "fee_schedule", sys.argv[3], loaders=LOADERS)
    assert outcome.status == "succeeded", outcome
    t = time.perf_counter()
    changed = await load_catalog_changes(conn, cat, [outcome.version_id])
    incremental = time.perf_counter() - t
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del cat, changed
    gc.collect()
    from costsvc.db.queries import Q
    t = time.perf_counter()
    await conn.fetch(Q.catalog_fee_lines)  # the fee-line query alone (second time: warm cache)
    query = time.perf_counter() - t
    await conn.close()
    print(json.dumps({"seconds": dt, "fee_lines_query_seconds": query, "programs": programs,
                      "fee_lines": lines, "peak_rss_mb": rss, "incremental_seconds": incremental,
                      "incremental_lines": outcome.rows_accepted, "peak_rss_after_incremental_mb": rss_after}))
asyncio.run(main())
"""


def run_catalog_load(url: str, fee_csv: Path) -> dict:
    one_program = DATA / "fee_schedule_one_program.csv"
    with open(fee_csv, newline="", encoding="utf-8") as src, open(one_program, "w", newline="", encoding="utf-8") as out:
        rows = csv.reader(src)
        w = csv.writer(out)
        w.writerow(next(rows))
        first = next(rows)
        program = first[0]
        row = first
        while row and row[0] == program:  # the first program's lines, charges raised by 1 %
            row[9] = f"{float(row[9]) * 1.01:.2f}"
            w.writerow(row)
            row = next(rows, None)
    r = timed([sys.executable, "-c", CATALOG_CODE, str(ROOT), url, str(one_program)])
    if r["exit_code"] != 0:
        raise RuntimeError(f"catalog load failed: {r['stderr']}")
    out = json.loads(r.pop("stdout").strip().splitlines()[-1])
    r.pop("stderr")
    r.update(load_seconds=round(out["seconds"], 2), fee_lines_query_seconds=round(out["fee_lines_query_seconds"], 2),
             programs=out["programs"], fee_lines=out["fee_lines"], peak_rss_mb=round(out["peak_rss_mb"], 1),
             incremental_seconds=round(out["incremental_seconds"], 3), incremental_lines=out["incremental_lines"],
             peak_rss_after_incremental_mb=round(out["peak_rss_after_incremental_mb"], 1))
    return r


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--programs", type=int, default=100_000)
    p.add_argument("--lines", type=int, default=10, help="fee lines per program (default 10, at most 27)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--reuse", action="store_true", help="reuse the CSV files written earlier")
    p.add_argument("--repeat", type=int, default=1, help="rounds (a fresh database each; order alternates)")
    p.add_argument("--profile", action="store_true", help="one more import under py-spy (bench/out/)")
    p.add_argument("--no-catalog", action="store_true", help="skip the catalog load measurement")
    p.add_argument("--keep-db", action="store_true")
    a = p.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    rows_expected = a.programs * a.lines

    admin_url, server = server_url()
    url = database_url(admin_url, DB_NAME)
    DATA.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(parents=True, exist_ok=True)
    fee_csv = DATA / f"fee_schedule_{a.programs}x{a.lines}_s{a.seed}.csv"
    if not (a.reuse and fee_csv.is_file()):
        print(f"writing {fee_csv.relative_to(ROOT)}...", file=sys.stderr)
        n = write_fee_schedule(fee_csv, a.programs, a.lines, a.seed)
        if n != rows_expected:
            raise SystemExit(f"wrote {n} rows, expected {rows_expected} (--lines too high?)")

    rounds = []
    failures: list[str] = []
    catalog = None
    try:
        for i in range(a.repeat):
            version_id, server_version = asyncio.run(fresh_database(admin_url, url))
            copy_csv = DATA / f"fee_copy_{a.programs}x{a.lines}_s{a.seed}_v{version_id}.csv"
            if not (a.reuse and copy_csv.is_file()):
                write_copy_csv(copy_csv, a.programs, a.lines, a.seed, version_id)
            order = ["psql", "import"] if i % 2 == 0 else ["import", "psql"]
            res: dict = {"round": i + 1, "order": order}
            for step in order:
                asyncio.run(reset_table(url))  # empty fee_lines, same index, checkpointed
                print(f"[round {i + 1}] {step}...", file=sys.stderr)
                if step == "psql":
                    res["psql"] = run_psql(url, copy_csv)
                    res["psql"]["stored_rows"] = asyncio.run(
                        sql(url, "SELECT count(*) FROM fee_lines WHERE version_id = $1", version_id))
                else:
                    res["import"] = run_import(url, fee_csv)
                    o = res["import"]["outcome"]
                    res["import"]["stored_rows"] = asyncio.run(
                        sql(url, "SELECT count(*) FROM fee_lines WHERE version_id = $1", o["version_id"]))
            o = res["import"]["outcome"]
            problems = []
            if o["status"] != "succeeded" or o["rows_accepted"] != rows_expected or o["rows_rejected"]:
                problems.append(f"import {o['status']}: accepted {o['rows_accepted']}, rejected {o['rows_rejected']}"
                                f" ({o['message']}; {res['import']['errors']})")
            if res["import"]["stored_rows"] != rows_expected:
                problems.append(f"import stored {res['import']['stored_rows']} rows, expected {rows_expected}")
            if res["psql"]["stored_rows"] != rows_expected:
                problems.append(f"psql stored {res['psql']['stored_rows']} rows, expected {rows_expected}")
            res["ratio"] = round(res["import"]["wall_seconds"] / res["psql"]["wall_seconds"], 2)
            res["verified"] = not problems
            res["problems"] = problems
            failures += [f"round {i + 1}: {x}" for x in problems]
            rounds.append(res)
        profile = None
        if a.profile:
            asyncio.run(fresh_database(admin_url, url))
            raw = OUT / "fee_import_profile.txt"
            print("profiled import (py-spy)...", file=sys.stderr)
            prof = run_import(url, fee_csv, profile=raw)
            profile = {"raw": str(raw.relative_to(ROOT)), "wall_seconds": prof["wall_seconds"],
                       "top": top_frames(raw)}
        if not a.no_catalog:
            # the fee lines of the last import must still be there (psql's round truncated them)
            if not a.profile and rounds[-1]["order"][-1] != "import":
                asyncio.run(fresh_database(admin_url, url))
                run_import(url, fee_csv)
            print("catalog load...", file=sys.stderr)
            catalog = run_catalog_load(url, fee_csv)
    finally:
        if not a.keep_db:
            asyncio.run(admin(admin_url, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))

    best = min(rounds, key=lambda r: r["ratio"])
    summary = {
        "benchmark": "fee_schedule_import",
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "cpu": _cpu_model()},
        "database": {"server": server, "server_version": server_version, "name": DB_NAME,
                     "psql": subprocess.run([PSQL, "--version"], capture_output=True, text=True,
                                            check=False).stdout.strip()},
        "file": {"path": str(fee_csv.relative_to(ROOT)), "bytes": fee_csv.stat().st_size, "rows": rows_expected,
                 "programs": a.programs, "lines_per_program": a.lines},
        "rounds": rounds,
        "catalog_load": catalog,
        "profile": profile,
        "target": {"ratio_at_most": RATIO_TARGET, "ratios": [r["ratio"] for r in rounds],
                   "met": all(r["ratio"] <= RATIO_TARGET for r in rounds)},
        "verified": not failures,
        "failures": failures,
    }
    (OUT / "fee_schedule.json").write_text(json.dumps(summary, indent=2, default=str))

    print(f"{fee_csv.name}: {rows_expected:,} rows, {a.programs:,} programs, {fee_csv.stat().st_size / 1e6:.0f} MB")
    print("\n| round | run | wall s | rows/s | peak RSS MB | rows stored |\n| --- | --- | ---: | ---: | ---: | ---: |")
    for r in rounds:
        for step in r["order"]:
            m = r[step]
            name = "`psql \\copy` (same rows, table form)" if step == "psql" else "`costsvc import fee_schedule`"
            print(f"| {r['round']} | {name} | {m['wall_seconds']:.2f} | {rows_expected / m['wall_seconds']:,.0f} | "
                  f"{m['peak_rss_mb']:.0f} | {m['stored_rows']:,} |")
        print(f"| {r['round']} | **ratio import / psql** | **{r['ratio']:.2f}** | | | |")
    if catalog:
        print(f"\ncatalog load after activation: {catalog['load_seconds']:.1f} s (of which the fee-line query "
              f"{catalog['fee_lines_query_seconds']:.1f} s), peak RSS {catalog['peak_rss_mb']:.0f} MB "
              f"({catalog['programs']:,} programs, {catalog['fee_lines']:,} fee lines); then a one-program fee "
              f"schedule ({catalog['incremental_lines']} lines): incremental reload {catalog['incremental_seconds']:.3f} s, "
              f"peak RSS after it {catalog['peak_rss_after_incremental_mb']:.0f} MB")
    print(f"\nbest ratio {best['ratio']:.2f} (target <= {RATIO_TARGET}: "
          f"{'met' if summary['target']['met'] else 'NOT met in every round'}); bench/out/fee_schedule.json")
    if profile:
        print("\nprofile (py-spy, inclusive share of the import process's CPU samples):")
        for name, share in profile["top"][:25]:
            print(f"  {share:5.1f}%  {name}")
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    return 1 if failures else 0


_PROFILE_FRAMES = ("tariffs/", "asyncpg/", "pandas/io/parsers", "costsvc/db")


def top_frames(raw: Path, limit: int = 30) -> list[tuple[str, float]]:
    """Inclusive share of the CPU samples per function of the project, asyncpg and the pandas
    CSV reader, from py-spy's raw (collapsed stacks) output; idle waits are not sampled."""
    totals: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        samples += n
        for frame in set(stack.split(";")):
            if any(k in frame for k in _PROFILE_FRAMES):
                totals[frame] = totals.get(frame, 0) + n
    return [(f, round(100 * n / samples, 1)) for f, n in sorted(totals.items(), key=lambda kv: -kv[1])[:limit]]


def _cpu_model() -> str | None:
    try:
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:
        return None
    return m.group(1).strip() if m else None


if __name__ == "__main__":
    raise SystemExit(main())
