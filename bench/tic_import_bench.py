#!/usr/bin/env python3
"""TiC in-network import benchmark: a >= 1 GB payer file, against plain ijson, same run.

    .venv/bin/python bench/tic_import_bench.py [--size-mb 1024] [--reuse] [--gzip] [--repeat 1]

1. A fresh database ``costsvc_bench_tic`` (created, and dropped at the end, on the
   server of ``DATABASE_URL`` when it is set, else on the embedded PostgreSQL kept in
   ``bench/.data``), migrated and seeded with the demo data.
2. A synthetic TiC in-network file (``bench/gen_tic.py``, schema 2.x, provider
   references first) of ``--size-mb`` MiB under ``bench/.data/``: 5,000 provider
   reference groups (~400,000 NPIs), mostly codes outside behavioral health; the
   matching NPIs/TINs are the demo programs' and the behavioral codes are the codes
   the demo programs price.  ``--reuse`` keeps a file generated earlier with the same
   parameters.  ``--gzip`` also writes and measures the gzip variant (same content).
3. For each file, in the same run (after one read that puts the file in the page
   cache, so that every measurement reads it from memory), each measurement in a
   fresh process under
   ``/usr/bin/time`` (wall time, peak RSS of that process):
   (a) the baseline: ``ijson.basic_parse`` over the file with an empty loop
       (``tic_stream_baseline.run_basic``; the event floor ``tariffs.tic`` builds on),
   (b) ``costsvc import tic_in_network FILE --payer-id acme`` with ``DATABASE_URL``
       set to the bench database.
4. Checks: the import succeeded with no row errors, read every ``in_network`` item,
   accepted as many rates as the generator says a de-duplicating parser keeps, and
   stored per program exactly the rows those (NPI, TIN) pairs map to.

MB/s = 10^6 bytes of *uncompressed* JSON per second of wall time of the whole
process (interpreter start, SHA-256 of the file, migration check, parse, COPY,
commit for the import).  Writes ``bench/out/tic_import.json`` and prints a Markdown
table.  Target (the issue): peak RSS of the import under 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import TIME, database_url, drop_database, migrate_and_seed, recreate_database, timed  # noqa: E402

DATA = ROOT / "bench" / ".data"
OUT = ROOT / "bench" / "out"
DB_NAME = "costsvc_bench_tic"
PAYER = "acme"
RSS_TARGET_MB = 300

BASELINE_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); import tic_stream_baseline as b; "
    "t = __import__('time').perf_counter(); n = b.run_{mode}(sys.argv[2]); "
    "print(__import__('json').dumps({{'count': n, 'loop_seconds': __import__('time').perf_counter() - t}}))"
)


# --------------------------------------------------------------------------- database


def server_url() -> tuple[str, str]:
    """(admin URL, description) of the server the bench database goes on."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, "DATABASE_URL server"
    from costsvc.db.embedded import start_embedded

    return start_embedded(DATA), "embedded PostgreSQL (bench/.data)"


async def prepare_database(admin_url: str, url: str) -> dict:
    """Fresh database, migrated and seeded with the demo; returns what the TiC filter
    will use: the demo programs' identifiers and the billing codes they price."""
    from costsvc.db.pool import connect
    from costsvc.db.queries import Q

    await recreate_database(admin_url, DB_NAME)
    await migrate_and_seed(url)
    conn = await connect(url)
    try:
        programs = [dict(r) for r in await conn.fetch(Q.program_identifiers)]
        codes = sorted(r["billing_code"] for r in await conn.fetch(Q.priced_billing_codes))
        server_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return {"programs": programs, "codes": codes, "server_version": server_version}


async def stored_rows(url: str, version_id: int) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT program_id, count(*) AS n FROM negotiated_rates WHERE version_id = $1 GROUP BY program_id",
            version_id,
        )
        return {r["program_id"]: r["n"] for r in rows}
    finally:
        await conn.close()


# --------------------------------------------------------------------------- the file


def gen_code(code: str) -> str:
    """Our billing code -> gen_tic's TYPE:CODE."""
    if code.startswith("REV:"):
        return "RC:" + code[4:]
    return ("CPT:" if code[:1].isdigit() else "HCPCS:") + code


def generate(size_mb: int, npis: list[str], tins: list[str], codes: list[str], *, gzip: bool,
             reuse: bool) -> tuple[Path, dict]:
    args = ["--size-mb", str(size_mb)]
    for n in npis:
        args += ["--npi", n]
    for t in tins:
        args += ["--tin", t]
    for c in codes:
        args += ["--behavioral-code", gen_code(c)]
    tag = hashlib.sha256(" ".join(args).encode()).hexdigest()[:10]
    path = DATA / (f"tic_{size_mb}mb_{tag}.json" + (".gz" if gzip else ""))
    meta_path = path.with_name(path.name + ".meta.json")
    if gzip:
        args.append("--gzip")
    if reuse and path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("args") == args and meta.get("file_bytes") == path.stat().st_size:
            print(f"reusing {path.relative_to(ROOT)}", file=sys.stderr)
            return path, meta
    DATA.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    print(f"generating {path.relative_to(ROOT)} ({size_mb} MiB{', gzip' if gzip else ''})...", file=sys.stderr)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gen_tic.py"), str(tmp), *args],
                          capture_output=True, text=True, check=True)
    gen = json.loads(proc.stderr.strip().splitlines()[-1])
    tmp.replace(path)
    meta = {"args": args, "gen": gen, "file_bytes": path.stat().st_size,
            "generate_seconds": round(time.perf_counter() - t0, 1)}
    meta_path.write_text(json.dumps(meta, indent=2))
    return path, meta


# --------------------------------------------------------------------------- measurements


def run_baseline(path: Path, size: int, mode: str) -> dict:
    r = timed([sys.executable, "-c", BASELINE_CODE.format(mode=mode), str(ROOT / "bench"), str(path)])
    if r["exit_code"] != 0:
        raise RuntimeError(f"baseline {mode} failed: {r['stderr']}")
    out = json.loads(r.pop("stdout").strip().splitlines()[-1])
    r.pop("stderr")
    r.update(events_or_items=out["count"], loop_seconds=round(out["loop_seconds"], 2),
             mb_per_s=round(size / r["wall_seconds"] / 1e6, 1))
    return r


def run_import(path: Path, size: int, url: str) -> dict:
    env = dict(os.environ, DATABASE_URL=url, COSTSVC_LOG_LEVEL="WARNING")
    costsvc = str(Path(sys.executable).parent / "costsvc")
    r = timed([costsvc, "import", "tic_in_network", str(path), "--payer-id", PAYER, "--json"], env=env)
    if r["exit_code"] != 0:
        raise RuntimeError(f"import failed (exit {r['exit_code']}): {r['stderr']}\n{r['stdout']}")
    outcome = json.loads(r.pop("stdout").strip().splitlines()[-1])
    r.pop("stderr")
    r.update(outcome={k: outcome.get(k) for k in ("import_id", "status", "version_id", "rows_read",
                                                   "rows_accepted", "rows_rejected", "message")},
             errors=outcome.get("errors", [])[:5], mb_per_s=round(size / r["wall_seconds"] / 1e6, 1))
    return r


def sha256_seconds(path: Path) -> float:
    """What the import's first step (hashing the file for deduplication) costs alone."""
    from costsvc.staging.pipeline import sha256_of

    t0 = time.perf_counter()
    sha256_of(path)
    return round(time.perf_counter() - t0, 2)


def expected_by_program(meta: dict, programs: list[dict]) -> dict[str, int]:
    """Rows a correct import stores per program: each kept record of a (npi, tin) pair
    goes to every program with that NPI or that TIN (costsvc.staging.loaders.ProgramDirectory)."""
    out: dict[str, int] = {}
    for pair, n in meta["gen"]["expected_unique_by_pair"].items():
        npi, _, tin = pair.partition("/")
        matched = {p["program_id"] for p in programs
                   if (npi != "-" and p["npi"] == npi) or (tin != "-" and p["tin"] == tin)}
        for pid in matched:
            out[pid] = out.get(pid, 0) + n
    return out


def verify(result: dict, meta: dict, stored: dict[str, int], expected: dict[str, int]) -> list[str]:
    o = result["outcome"]
    gen = meta["gen"]
    problems = []
    if o["status"] != "succeeded":
        problems.append(f"status {o['status']}: {o['message']}")
    if o["rows_rejected"]:
        problems.append(f"{o['rows_rejected']} row error(s): {result['errors']}")
    if o["rows_read"] != gen["items"]:
        problems.append(f"rows_read {o['rows_read']} != in_network items {gen['items']}")
    if o["rows_accepted"] != gen["expected_unique_records"]:
        problems.append(f"rows_accepted {o['rows_accepted']} != expected {gen['expected_unique_records']}")
    if stored != expected:
        problems.append(f"stored rows by program {stored} != expected {expected}")
    return problems


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mb", type=int, default=1024, help="uncompressed size of the file in MiB (default 1024)")
    p.add_argument("--reuse", action="store_true", help="reuse a file generated earlier with the same parameters")
    p.add_argument("--gzip", action="store_true", help="also measure the gzip variant of the file")
    p.add_argument("--repeat", type=int, default=1, help="measure each file N times (a fresh database each)")
    p.add_argument("--baseline", default="basic", choices=["basic", "parse", "items"],
                   help="the ijson baseline (default basic: ijson.basic_parse, what tariffs.tic iterates)")
    p.add_argument("--keep-db", action="store_true", help="do not drop the bench database at the end")
    a = p.parse_args(argv)
    if not Path(TIME).exists():
        print(f"{TIME} is needed (apt-get install time)", file=sys.stderr)
        return 2

    started = dt.datetime.now(dt.UTC)
    admin_url, server = server_url()
    url = database_url(admin_url, DB_NAME)
    info = asyncio.run(prepare_database(admin_url, url))
    npis = sorted({p["npi"] for p in info["programs"] if p["npi"]})
    tins = sorted({p["tin"] for p in info["programs"] if p["tin"]})
    files = [generate(a.size_mb, npis, tins, info["codes"], gzip=False, reuse=a.reuse)]
    if a.gzip:
        files.append(generate(a.size_mb, npis, tins, info["codes"], gzip=True, reuse=a.reuse))

    runs = []
    failures = []
    try:
        for path, meta in files:
            size = meta["gen"]["uncompressed_bytes"]
            expected = expected_by_program(meta, info["programs"])
            # read once first: every measurement then reads the file from the page cache
            first_read = sha256_seconds(path)
            for i in range(a.repeat):
                if runs:  # the first round uses the database prepared above
                    asyncio.run(prepare_database(admin_url, url))
                print(f"[{path.name} #{i + 1}] baseline ijson.{a.baseline}...", file=sys.stderr)
                base = run_baseline(path, size, a.baseline)
                print(f"[{path.name} #{i + 1}] costsvc import tic_in_network...", file=sys.stderr)
                imp = run_import(path, size, url)
                stored = asyncio.run(stored_rows(url, imp["outcome"]["version_id"]))
                hash_seconds = sha256_seconds(path)
                imp["stored_rows"] = sum(stored.values())
                imp["expected_rows"] = sum(expected.values())
                problems = verify(imp, meta, stored, expected)
                failures += [f"{path.name} #{i + 1}: {x}" for x in problems]
                runs.append({"file": path.name, "gzip": path.suffix == ".gz", "round": i + 1,
                             "sha256_seconds": hash_seconds, "first_read_sha256_seconds": first_read,
                             "baseline": base, "import": imp, "verified": not problems, "problems": problems})
    finally:
        if not a.keep_db:
            asyncio.run(drop_database(admin_url, DB_NAME))

    peak = max(r["import"]["peak_rss_mb"] for r in runs)
    summary = {
        "benchmark": "tic_import",
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "cpu": _cpu_model()},
        "database": {"server": server, "server_version": info["server_version"], "name": DB_NAME},
        "ijson": _ijson_info(),
        "filter": {"npis": npis, "tins": tins, "billing_codes": info["codes"]},
        "files": [{"path": str(pth.relative_to(ROOT)), "bytes_on_disk": m["file_bytes"], **m["gen"],
                   "generate_seconds": m.get("generate_seconds")} for pth, m in files],
        "runs": runs,
        "target": {"peak_rss_mb_below": RSS_TARGET_MB, "peak_rss_mb": peak, "met": peak < RSS_TARGET_MB},
        "verified": not failures,
        "failures": failures,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "tic_import.json").write_text(json.dumps(summary, indent=2, default=str))

    for (path, m) in files:
        g = m["gen"]
        print(f"{path.name}: {g['uncompressed_bytes'] / 1e6:,.0f} MB uncompressed ({m['file_bytes'] / 1e6:,.0f} MB "
              f"on disk), {g['items']:,} in_network items ({g['behavioral_items']:,} behavioral), "
              f"{g['expected_unique_records']:,} rates expected")
    print("\n| file | run | wall s | MB/s | peak RSS MB | rates stored / expected |\n"
          "| --- | --- | ---: | ---: | ---: | --- |")
    for r in runs:
        b, i = r["baseline"], r["import"]
        kind = "gzip" if r["gzip"] else "json"
        print(f"| {kind} #{r['round']} | baseline `ijson.{a.baseline}` (empty loop) | {b['wall_seconds']:.1f} | "
              f"{b['mb_per_s']:.1f} | {b['peak_rss_mb']:.0f} | - |")
        ok = "ok" if r["verified"] else "MISMATCH"
        print(f"| {kind} #{r['round']} | `costsvc import tic_in_network` | {i['wall_seconds']:.1f} | "
              f"{i['mb_per_s']:.1f} | {i['peak_rss_mb']:.0f} | {i['stored_rows']:,} / {i['expected_rows']:,} {ok} |")
    for r in runs:
        print(f"\n{r['file']} #{r['round']}: import / baseline throughput "
              f"{r['import']['mb_per_s'] / r['baseline']['mb_per_s']:.2f}; SHA-256 of the file alone "
              f"(the import's deduplication pass) {r['sha256_seconds']:.1f} s", end="")
    print()
    print(f"\npeak RSS of the import: {peak:.0f} MB (target < {RSS_TARGET_MB} MB: "
          f"{'met' if peak < RSS_TARGET_MB else 'NOT met'}); results in bench/out/tic_import.json")
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    return 1 if failures else 0


def _cpu_model() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return m.group(1).strip() if m else None


def _ijson_info() -> dict:
    import ijson

    return {"version": getattr(ijson, "__version__", None), "backend": ijson.backend}


if __name__ == "__main__":
    raise SystemExit(main())
