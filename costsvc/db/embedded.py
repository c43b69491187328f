"""The embedded PostgreSQL used when DATABASE_URL is unset (pgserver ships the binaries)."""

from __future__ import annotations

import logging
import os
import pwd
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


def stop_embedded(data_dir: str | os.PathLike[str]) -> bool:
    """Stop the embedded server of ``data_dir`` whoever started it; False when none runs.

    pgserver's own cleanup stops a server only from the last process holding a handle
    to it, which a later ``costsvc embedded-stop`` never is: pg_ctl stops it outright."""
    from pgserver._commands import pg_ctl  # the binaries pgserver ships, run as it runs them

    pgdata = Path(data_dir).resolve() / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return False
    # As root pgserver runs PostgreSQL as the data folder's owner (its "pgserver" user).
    user = pwd.getpwuid(pgdata.stat().st_uid).pw_name if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)
    log.info("embedded PostgreSQL stopped", extra={"pgdata": str(pgdata)})
    return True
