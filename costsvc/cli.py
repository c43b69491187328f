"""``costsvc`` command line: serve, migrate, seed-demo, import, and the job processes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

import msgspec

from costsvc.settings import get_settings

log = logging.getLogger("costsvc")


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _database_url() -> str:
    from costsvc.db.pool import resolve_database_url

    return resolve_database_url(get_settings())


async def _migrate(url: str) -> list[str]:
    from costsvc.db.migrate import migrate
    from costsvc.db.pool import connect

    conn = await connect(url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


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
    import uvicorn

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
    uvicorn.run(
        "costsvc.api.app:create_app", factory=True, host=host, port=port, workers=workers,
        log_level=settings.log_level.lower(), access_log=False, proxy_headers=True,
        http="httptools", loop="uvloop", timeout_graceful_shutdown=10,
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from tariffs.pipeline import ImportOptions, import_file

    path = Path(args.path)
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    payer_names = None
    if args.payer_name:
        payer_names = {}
        for item in args.payer_name:
            name, _, payer_id = item.partition("=")
            payer_names[name.strip().lower()] = payer_id.strip()
    options = ImportOptions(allow_partial=args.allow_partial, payer_id=args.payer_id,
                            program_id=args.program_id, payer_names=payer_names)
    url = _database_url()

    async def run() -> object:
        from costsvc.db.pool import connect

        await _migrate(url)
        conn = await connect(url)
        try:
            return await import_file(conn, args.kind, path, options=options, source=path.name, started_by="cli")
        finally:
            await conn.close()

    outcome = asyncio.run(run())
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

    stop_embedded(get_settings().data_dir)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="costsvc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the HTTP API (migrates first; seeds demo data on the embedded database)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="apply pending SQL migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("seed-demo", help="load the demo dataset").set_defaults(func=cmd_seed_demo)
    sub.add_parser("embedded-stop", help="stop the embedded PostgreSQL").set_defaults(func=cmd_embedded_stop)

    from tariffs.loaders import LOADERS

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(get_settings().log_level)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
