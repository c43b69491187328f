"""The embedded PostgreSQL used when DATABASE_URL is unset (pgserver ships the binaries)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def start_embedded(data_dir: str | os.PathLike[str]) -> str:
    """Start (or join) the embedded server keeping its data in ``data_dir/pg``; return its URL.

    The server is left running when this process exits (``cleanup_mode=None``) so that
    server workers, the CLI and tests started later share it; ``costsvc embedded-stop``
    stops it.  pgserver serialises concurrent starts on the same folder itself.
    """
    import pgserver  # heavy import: only when the embedded default is used

    pgdata = Path(data_dir).resolve() / "pg"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    url = server.get_uri()
    log.info("embedded PostgreSQL running", extra={"pgdata": str(pgdata)})
    return url


def stop_embedded(data_dir: str | os.PathLike[str]) -> None:
    import pgserver

    pgdata = Path(data_dir).resolve() / "pg"
    if not (pgdata / "PG_VERSION").exists():
        return
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    server.cleanup()
