"""Database URL resolution and the asyncpg pool."""

from __future__ import annotations

import logging
import os
from typing import Any

import asyncpg
import msgspec

from costsvc.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded server (started on demand).

    The resolved URL is exported so that child processes (server workers, a
    Celery worker started from the same shell) reach the same database.
    """
    if settings.database_url:
        return settings.database_url
    cached = os.environ.get("COSTSVC_EMBEDDED_URL")
    if cached:
        return cached
    from costsvc.db.embedded import start_embedded

    url = start_embedded(settings.data_dir)
    os.environ["COSTSVC_EMBEDDED_URL"] = url
    return url


def _encode_jsonb(value: object) -> str:
    # Already-encoded JSON (str/bytes) passes through untouched: estimates are
    # encoded once by msgspec and stored as they were sent.
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode()
    return msgspec.json.encode(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    # numeric stays Decimal (asyncpg's default); jsonb decodes to Python objects.
    await conn.set_type_codec("jsonb", encoder=_encode_jsonb, decoder=msgspec.json.decode, schema="pg_catalog")


class DatabaseUnavailable(ConnectionError):
    """No connection to the database could be opened (refused, no socket, timed out)."""


async def open_connection(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """``asyncpg.connect``, with every failure to reach the server one exception: a
    missing Unix socket is a FileNotFoundError, a refused port ConnectionRefusedError,
    a server that never answers TimeoutError."""
    try:
        return await asyncpg.connect(*args, **kwargs)
    except (OSError, asyncpg.exceptions.CannotConnectNowError) as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {type(exc).__name__}") from exc


async def connect(url: str, **kwargs: Any) -> asyncpg.Connection:
    conn = await asyncpg.connect(url, **kwargs)
    await _init_connection(conn)
    return conn


#: What a database that is stopped, frozen, restarting or unreachable raises: the
#: request is answered 503 (an estimate: not stored), never 500.  ``TimeoutError``
#: covers the connect, acquire and statement timeouts; ``OperatorInterventionError``
#: a server shutting down (57P01-57P03) and a statement cancelled by
#: ``statement_timeout`` (57014); ``InterfaceError`` a connection that closed under
#: the call.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError, asyncpg.InterfaceError, ConnectionError, TimeoutError,
)


class Timeouts(msgspec.Struct, frozen=True):
    """Every wait on the database is bounded (docs/ARCHITECTURE.md, "When a dependency fails")."""

    connect: float = 2.0  # a new connection's TCP connect + startup
    acquire: float = 2.0  # waiting for a pooled connection (and resetting it on release)
    statement: float = 3.0  # one statement, client side (asyncpg command_timeout)
    # Returning a connection: a reset is one round trip; a connection whose statement
    # timed out waits for its cancel request first, which a frozen server never reads.
    release: float = 1.0

    @classmethod
    def of(cls, settings: Settings) -> Timeouts:
        return cls(settings.db_connect_timeout, settings.db_acquire_timeout, settings.db_statement_timeout)

    @property
    def request_bound(self) -> float:
        """The longest a request that makes one database call waits for the database."""
        return self.acquire + self.statement + self.release


class Pool(asyncpg.Pool):
    """An asyncpg pool whose acquire and release never wait unbounded.

    asyncpg waits forever by default for a free connection and for the reset of a
    released one (which, on a frozen server, waits for a cancel request nobody
    reads).  Here acquire defaults to ``timeouts.acquire`` and release to
    ``timeouts.release``; a connection whose reset times out is terminated, and
    asyncpg opens a new one when it is needed."""

    def __init__(self, *args: Any, timeouts: Timeouts, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._timeouts = timeouts

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._timeouts.acquire if timeout is None else timeout)

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:
        await super().release(connection, timeout=self._timeouts.release if timeout is None else timeout)


def _quiet_unavailable(record: logging.LogRecord) -> bool:
    """asyncpg's pool logs a traceback each time it fails to reopen its minimum of
    connections (every second or so while the database is away); the outage reporter
    already tells that story in one line per interval."""
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, UNAVAILABLE)


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10,
                      timeouts: Timeouts | None = None) -> asyncpg.Pool:
    t = timeouts or Timeouts()
    pool_log = logging.getLogger("asyncpg.pool")
    if _quiet_unavailable not in pool_log.filters:
        pool_log.addFilter(_quiet_unavailable)
    pool = Pool(url, min_size=min_size, max_size=max_size, init=_init_connection, timeouts=t,
                connect=open_connection, timeout=t.connect, command_timeout=t.statement,
                connection_class=asyncpg.Connection, record_class=asyncpg.Record, max_queries=50_000,
                max_inactive_connection_lifetime=300.0, loop=None)
    await pool
    return pool
