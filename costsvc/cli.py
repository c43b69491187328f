"""``costsvc`` command line: serve, migrate, seed-demo, import, and the job processes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import msgspec

from costsvc.observe import logs
from costsvc.settings import Settings, get_settings
from costsvc.staging.loaders import LOADERS

log = logging.getLogger("costsvc")


def _database_url() -> str:
    from costsvc.db.pool import resolve_database_url

    return resolve_database_url(get_settings())


async def _migrate(url: str) -> list[str]:
    from costsvc.db.migrate import migrate_url

    return await migrate_url(url)


def cmd_migrate(args: argparse.Namespace) -> int:
    applied = asyncio.run(_migrate(_database_url()))
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from costsvc.demo import seed_demo

    url = _database_url()
    asyncio.run(_migrate(url))
    print(asyncio.run(seed_demo(url, force=True)))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    url = _database_url()  # starts the embedded server when DATABASE_URL is unset
    asyncio.run(_migrate(url))
    seed = settings.seed_demo if settings.seed_demo is not None else settings.database_url is None
    if seed:
        from costsvc.demo import seed_demo

        print(asyncio.run(seed_demo(url, force=False)))
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    print(f"costsvc serving on http://{host}:{port} (docs: http://{host}:{port}/schema)", flush=True)
    with _metrics_folder(workers):
        if args.server == "granian":
            _serve_granian(host, port, workers, settings.log_level.lower())
            return 0
        import uvicorn

        uvicorn.run(
            "costsvc.api.app:serve_app", factory=True, host=host, port=port, workers=workers,
            # Logging is the app's (costsvc.observe.logs, configured in each worker by
            # serve_app); its middleware writes the access lines and judges proxies itself
            # (COSTSVC_TRUSTED_PROXIES): uvicorn's proxy handling would hide the peer from it.
            log_config=None, log_level=settings.log_level.lower(), access_log=False, proxy_headers=False,
            http="httptools", loop="uvloop", timeout_graceful_shutdown=10,
        )
    return 0


@contextlib.contextmanager
def _metrics_folder(workers: int) -> Iterator[None]:
    """The folder where several workers' metrics meet (prometheus-client's multiprocess
    mode): ``PROMETHEUS_MULTIPROC_DIR`` when set, emptied first as the client requires;
    else, with more than one worker, a new temporary folder, removed at exit.  Set in the
    environment before the workers start, so each reads it on its first import."""
    from costsvc.observe.metrics import MULTIPROC_ENV, prepare_folder

    given = os.environ.get(MULTIPROC_ENV)
    if given:
        prepare_folder(given)
        yield
        return
    if workers <= 1:
        yield  # one process: its own registry is the whole picture
        return
    folder = Path(tempfile.mkdtemp(prefix="costsvc-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def _serve_granian(host: str, port: int, workers: int, log_level: str) -> None:
    """The app on Granian (a Rust HTTP server, ASGI interface).  Not faster than uvicorn +
    httptools on this service's bench (docs/PERFORMANCE.md), so it stays optional:
    ``pip install 'costsvc[granian]'``."""
    try:
        from granian import Granian
    except ImportError:
        raise SystemExit("granian is not installed: pip install 'costsvc[granian]'") from None

    Granian(
        "costsvc.api.app:serve_app", factory=True, address=host, port=port, workers=workers,
        interface="asgi", loop="uvloop", http="1", websockets=False, log_level=log_level,
        log_access=False,
    ).serve()


def cmd_import(args: argparse.Namespace) -> int:
    from costsvc.staging.pipeline import ImportOptions, import_file
    from tariffs.options import parse_payer_name_pairs
    from tariffs.tabular.bulk import allow_gc_suspension

    allow_gc_suspension()  # this process runs one import and exits: nothing else to starve

    path = Path(args.path)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    payer_names = parse_payer_name_pairs(args.payer_name or ())
    options = ImportOptions(allow_partial=args.allow_partial, payer_id=args.payer_id,
                            program_id=args.program_id, payer_names=payer_names)
    url = _database_url()

    async def run() -> object:
        from costsvc.db.pool import connect

        await _migrate(url)
        conn = await connect(url)
        try:
            return await import_file(conn, args.kind, path, options=options, source=path.name, started_by="cli", loaders=LOADERS)
        finally:
            await conn.close()

    from costsvc.staging.pipeline import ImportBusy

    try:
        outcome = asyncio.run(run())
    except ImportBusy:
        print("this file's import is being run by another process right now; try again when it has finished",
              file=sys.stderr)
        return 75  # EX_TEMPFAIL: nothing was decided about the file
    if args.json:
        print(msgspec.json.encode(outcome).decode())
    else:
        _print_outcome(outcome)
    return 1 if outcome.status == "rejected" else 0  # type: ignore[attr-defined]


def _print_outcome(outcome: object) -> None:
    o = outcome  # ImportOutcome
    if o.deduplicated and o.status == "succeeded":  # type: ignore[attr-defined]
        print(f"no-op: this file was already imported as {o.import_id} (version {o.version_id})")  # type: ignore[attr-defined]
        return
    print(f"import {o.import_id}: {o.status} — read {o.rows_read}, accepted {o.rows_accepted}, "  # type: ignore[attr-defined]
          f"rejected {o.rows_rejected}" + (f", version {o.version_id}" if o.version_id else ""))  # type: ignore[attr-defined]
    if o.message:  # type: ignore[attr-defined]
        print(o.message)  # type: ignore[attr-defined]
    for e in o.errors:  # type: ignore[attr-defined]
        where = e.file + (f":{e.line}" if e.line else "") + (f" [{e.column}]" if e.column else "")
        print(f"  {where}: {e.message}")


def cmd_embedded_stop(args: argparse.Namespace) -> int:
    from costsvc.db.embedded import stop_embedded

    data_dir = get_settings().data_dir
    stopped = stop_embedded(data_dir)
    print(f"embedded PostgreSQL in {data_dir}/pg: {'stopped' if stopped else 'not running'}")
    return 0


# ----------------------------------------------------------------------------- jobs and API keys


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "jobs.celery_app", *args]


def cmd_worker(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not settings.celery_broker_url:
        print("error: CELERY_BROKER_URL is not set. Without a broker, jobs run eagerly inside the API and "
              "`costsvc import`; a worker needs redis://... or amqp://... (docs/JOBS.md).", file=sys.stderr)
        return 2
    asyncio.run(_migrate(_database_url()))  # tasks may arrive before the API has migrated
    if settings.worker_metrics_port:
        _worker_metrics_folder(settings)
    argv = _celery("worker", "--loglevel", args.loglevel or settings.log_level, "--without-gossip",
                   "--without-mingle", "-O", "fair")
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    if args.queues:
        argv += ["-Q", args.queues]
    if args.hostname:
        argv += ["-n", args.hostname]
    argv += [a for a in args.celery_args if a != "--"]
    sys.stdout.flush()
    os.execv(sys.executable, argv)  # the worker replaces this process (signals reach Celery directly)
    return 0  # pragma: no cover


def _worker_metrics_folder(settings: Settings) -> None:
    """The folder the worker's pool processes share their metrics in: given, or one per
    metrics port under the data folder; emptied before Celery starts (it replaces this
    process, so there is no exit to clean up at)."""
    from costsvc.observe.metrics import MULTIPROC_ENV, prepare_folder

    folder = os.environ.get(MULTIPROC_ENV) or str(Path(settings.data_dir) / f"worker-metrics-{settings.worker_metrics_port}")
    prepare_folder(folder)
    os.environ[MULTIPROC_ENV] = folder


def cmd_beat(args: argparse.Namespace) -> int:
    settings = get_settings()
    schedule = Path(args.schedule or Path(settings.data_dir) / "celerybeat-schedule")
    schedule.parent.mkdir(parents=True, exist_ok=True)
    if not settings.celery_broker_url:
        print("note: CELERY_BROKER_URL is not set: the scheduled refresh runs inside this process (eager).",
              file=sys.stderr)
    argv = _celery("beat", "--loglevel", args.loglevel or settings.log_level, "--schedule", str(schedule))
    argv += [a for a in args.celery_args if a != "--"]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
    return 0  # pragma: no cover


def cmd_refresh(args: argparse.Namespace) -> int:
    from jobs.refresh import refresh_sources
    from tariffs.tabular.bulk import allow_gc_suspension

    allow_gc_suspension()  # imports only, then exits

    sources = args.sources or get_settings().tariff_sources
    if not sources:
        print("error: no sources file: pass one or set COSTSVC_TARIFF_SOURCES", file=sys.stderr)
        return 2
    url = _database_url()

    async def run() -> object:
        from costsvc.db.pool import connect

        await _migrate(url)
        conn = await connect(url)
        try:
            return await refresh_sources(conn, sources, rehash=args.rehash)
        finally:
            await conn.close()

    report = asyncio.run(run())
    print(msgspec.json.encode(report).decode() if args.json else report.summary())  # type: ignore[attr-defined]
    return 0


def cmd_requeue_stale(args: argparse.Namespace) -> int:
    from costsvc.services.imports import requeue_stale_imports
    from jobs.tasks import CeleryImportQueue

    url = _database_url()

    async def run() -> object:
        from costsvc.db.pool import connect

        await _migrate(url)
        conn = await connect(url)
        try:
            return await requeue_stale_imports(
                conn, queue=CeleryImportQueue(database_url=url), settings=get_settings(), stale_after=args.older_than
            )
        finally:
            await conn.close()

    report = asyncio.run(run())
    if args.json:
        print(msgspec.json.encode(report).decode())
        return 0
    print(report.summary())  # type: ignore[attr-defined]
    for item in report.requeued:  # type: ignore[attr-defined]
        print(f"  {item['import_id']} ({item['was']}) re-enqueued from {item['path']}")
    for item in report.failed:  # type: ignore[attr-defined]
        print(f"  {item['import_id']} failed: {item['message']}")
    return 0


def _with_connection(fn):  # type: ignore[no-untyped-def]
    async def run() -> object:
        from costsvc.db.pool import connect

        url = _database_url()
        await _migrate(url)
        conn = await connect(url)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    return asyncio.run(run())


def cmd_apikey_create(args: argparse.Namespace) -> int:
    from costsvc.auth import create_api_key

    new = _with_connection(lambda conn: create_api_key(conn, role=args.role, name=args.name))
    print(f"created {new.role} key '{new.name}' (id {new.key_id}, prefix {new.key[:12]}).")  # type: ignore[attr-defined]
    print("Store it now: it is not shown again. Send it as 'Authorization: Bearer <key>'.")
    print(new.key)  # type: ignore[attr-defined]  # the last line is the key
    return 0


def cmd_apikey_list(args: argparse.Namespace) -> int:
    from costsvc.auth import list_api_keys

    for r in _with_connection(list_api_keys):  # type: ignore[attr-defined]
        state = f"revoked {r['revoked_at']:%Y-%m-%d}" if r["revoked_at"] else "active"
        used = f"{r['last_used_at']:%Y-%m-%d %H:%M}" if r["last_used_at"] else "never"
        print(f"{r['key_id']}  {r['key_prefix']}…  {r['role']:<5}  {state:<18} last used {used}  {r['name']}")
    return 0


def cmd_apikey_revoke(args: argparse.Namespace) -> int:
    from costsvc.auth import revoke_api_key

    row = _with_connection(lambda conn: revoke_api_key(conn, args.key))
    if row is None:
        print(f"error: no single active key matches {args.key!r} (give its id or its printed prefix)",
              file=sys.stderr)
        return 1
    print(f"revoked key '{row['name']}' ({row['key_id']}); it stops working at once in every API process")  # type: ignore[index]
    return 0


def cmd_phi_rotate(args: argparse.Namespace) -> int:
    from costsvc.phi import PhiKeyError, vault_from_settings
    from costsvc.services.phi_rotation import rotate_all

    settings = get_settings()
    try:
        vault = vault_from_settings(settings, embedded=settings.database_url is None)
    except PhiKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if vault is None:
        print("error: no PHI key: set COSTSVC_PHI_KEY (new key first, then the old ones)", file=sys.stderr)
        return 2
    report = _with_connection(lambda conn: rotate_all(conn, vault))
    print(report.summary())  # type: ignore[attr-defined]
    return 0


def cmd_phi_generate_key(args: argparse.Namespace) -> int:
    from costsvc.phi import generate_key

    print(generate_key())
    return 0


def _add_job_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("worker", help="run a Celery worker for import and refresh jobs (needs CELERY_BROKER_URL)")
    p.add_argument("--concurrency", "-c", type=int, help="pool processes (default: number of CPUs)")
    p.add_argument("--queues", "-Q", help="comma-separated queues to consume (default: COSTSVC_CELERY_QUEUE)")
    p.add_argument("--hostname", "-n", help="worker node name, e.g. imports1@%%h")
    p.add_argument("--loglevel", "-l")
    p.add_argument("celery_args", nargs=argparse.REMAINDER, help="further `celery worker` options after --")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("beat", help="run the scheduler (one per deployment) that refreshes the tariff sources")
    p.add_argument("--schedule", help="beat state file (default: <data_dir>/celerybeat-schedule)")
    p.add_argument("--loglevel", "-l")
    p.add_argument("celery_args", nargs=argparse.REMAINDER, help="further `celery beat` options after --")
    p.set_defaults(func=cmd_beat)

    p = sub.add_parser("refresh", help="refresh the tariff sources once, now, in this process")
    p.add_argument("sources", nargs="?", help="sources file (default: COSTSVC_TARIFF_SOURCES)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--rehash", action="store_true",
                   help="hash every file again, even those whose size and modification time are unchanged")
    p.set_defaults(func=cmd_refresh)

    p = sub.add_parser("requeue-stale", help="re-enqueue stuck imports (queued/running, nobody running them) "
                       "now; without a broker they run in this process")
    p.add_argument("--older-than", type=float, metavar="SECONDS",
                   help="a queued import is stuck after this long (default: COSTSVC_STALE_IMPORT_SECONDS)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_requeue_stale)

    p = sub.add_parser("apikey", help="manage API keys")
    keys = p.add_subparsers(dest="apikey_command", required=True)
    k = keys.add_parser("create", help="create a key; the last line printed is the key")
    k.add_argument("--role", required=True, choices=["admin", "staff"])
    k.add_argument("--name", required=True, help="who or what uses the key")
    k.set_defaults(func=cmd_apikey_create)
    keys.add_parser("list", help="list keys (never the keys themselves)").set_defaults(func=cmd_apikey_list)
    k = keys.add_parser("revoke", help="revoke a key by id or printed prefix")
    k.add_argument("key", help="key id or prefix (csk_xxxxxxxx)")
    k.set_defaults(func=cmd_apikey_revoke)

    p = sub.add_parser("phi", help="protected health information at rest (docs/VERIFICATION.md)")
    phi = p.add_subparsers(dest="phi_command", required=True)
    phi.add_parser("rotate", help="re-encrypt all stored PHI under the first key of COSTSVC_PHI_KEY"
                   ).set_defaults(func=cmd_phi_rotate)
    phi.add_parser("generate-key", help="print a new PHI key (32 random bytes, URL-safe base64)"
                   ).set_defaults(func=cmd_phi_generate_key)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="costsvc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the HTTP API (migrates first; seeds demo data on the embedded database)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn",
                   help="HTTP server (default uvicorn; granian needs the granian extra)")
    p.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply pending SQL migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("seed-demo", help="load the demo dataset").set_defaults(func=cmd_seed_demo)
    sub.add_parser("embedded-stop", help="stop the embedded PostgreSQL").set_defaults(func=cmd_embedded_stop)


    p = sub.add_parser("import", help="import a tariff file (exit 0: imported or no-op; 1: rejected)")
    p.add_argument("kind", choices=sorted(LOADERS))
    p.add_argument("path")
    p.add_argument("--allow-partial", action="store_true", help="import the good rows of a file with bad ones")
    p.add_argument("--payer-id", help="the payer a TiC, allowed-amounts or reference file belongs to")
    p.add_argument("--program-id", help="the hospital-based program an HPT file prices")
    p.add_argument("--payer-name", action="append", metavar="NAME=PAYER_ID",
                   help="HPT: map a payer name in the file to a payer id (repeatable)")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(func=cmd_import)
    _add_job_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(get_settings())
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
