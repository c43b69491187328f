"""Database URL resolution and the asyncpg pool."""

from __future__ import annotations

import os

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


async def connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await _init_connection(conn)
    return conn


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=_init_connection)
