"""API keys and roles for the authenticated endpoints.

A key is ``csk_`` + 32 random bytes, URL-safe base64 (``costsvc apikey create``
prints it once).  The database keeps only its SHA-256 (``sql/migrations/002_api_keys.sql``
says why a fast hash is right for a random 256-bit secret), its role and its name.
Requests send ``Authorization: Bearer <key>``.

Roles are ranked: ``admin`` may do everything ``staff`` may.  ``require_role(role)``
is a Litestar guard: no or malformed credentials → 401 problem with
``WWW-Authenticate: Bearer``; a valid key of a lower role → 403 problem.

Lookups are cached per process for ``CACHE_TTL`` seconds (by key hash, valid keys
only).  Revocation takes effect at once in every process all the same: revoking
stamps ``revoked_at``, a trigger sends ``NOTIFY api_key_revoked`` with the key's
hash, and each API process's ``RevocationListener`` drops it from its cache.  While
a listener's connection is down its cache is bypassed (every request asks the
database), so a revocation it could not hear about still counts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

import asyncpg
import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from costsvc.db.pool import UNAVAILABLE, open_connection
from costsvc.db.queries import Q
from costsvc.outages import Dependency

Role = Literal["admin", "staff"]
ROLES: tuple[Role, ...] = ("staff", "admin")  # ascending: a role includes those before it
KEY_PREFIX = "csk_"
CACHE_TTL = 5.0  # seconds; a revocation's NOTIFY drops a key sooner
_CACHE_MAX = 1024
KEY_REVOKED = "api_key_revoked"  # NOTIFY channel (sql/migrations/005_verifications.sql)
log = logging.getLogger(__name__)


class ApiKeyPrincipal(msgspec.Struct, frozen=True):
    key_id: uuid.UUID
    name: str
    role: Role

    @property
    def label(self) -> str:
        """Who started something, as recorded (e.g. ``imports.started_by``)."""
        return f"apikey:{self.name}"


class NewApiKey(msgspec.Struct, frozen=True):
    key_id: uuid.UUID
    name: str
    role: Role
    key: str  # shown once; never stored


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def role_satisfies(role: str, required: str) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(required)  # type: ignore[arg-type]


async def create_api_key(conn: asyncpg.Connection, *, role: str, name: str) -> NewApiKey:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    name = name.strip()
    if not name:
        raise ValueError("a key needs a name (who or what uses it)")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = uuid.uuid4()
    await conn.execute(Q.auth_insert_api_key, key_id, hash_key(key), key[:12], name, role)
    return NewApiKey(key_id=key_id, name=name, role=role, key=key)  # type: ignore[arg-type]


async def revoke_api_key(conn: asyncpg.Connection, key_id_or_prefix: str) -> asyncpg.Record | None:
    """Revoke one live key by id or printed prefix; None when none (or several) match."""
    return await conn.fetchrow(Q.auth_revoke_api_key, key_id_or_prefix)


async def list_api_keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(Q.auth_list_api_keys)


class KeyCache:
    """key hash -> (principal, expires_at); only valid keys are kept."""

    def __init__(self, ttl: float = CACHE_TTL, max_entries: int = _CACHE_MAX):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[ApiKeyPrincipal, float]] = {}
        self.enabled = True  # False while revocations cannot be heard (listener down)

    def drop(self, digest: str) -> None:
        self._entries.pop(digest, None)

    def clear(self) -> None:
        self._entries.clear()

    def get(self, digest: str) -> ApiKeyPrincipal | None:
        if not self.enabled:
            return None
        hit = self._entries.get(digest)
        if hit is None:
            return None
        if hit[1] < time.monotonic():
            del self._entries[digest]
            return None
        return hit[0]

    def put(self, digest: str, principal: ApiKeyPrincipal) -> None:
        if not self.enabled:
            return
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[1] >= now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[digest] = (principal, time.monotonic() + self.ttl)


async def authenticate(pool: asyncpg.Pool, key: str, cache: KeyCache | None = None) -> ApiKeyPrincipal | None:
    digest = hash_key(key)
    if cache is not None and (hit := cache.get(digest)) is not None:
        return hit
    async with pool.acquire() as conn:
        row = await conn.fetchrow(Q.auth_use_api_key, digest)
    if row is None:
        return None
    principal = ApiKeyPrincipal(key_id=row["key_id"], name=row["name"], role=row["role"])
    if cache is not None:
        cache.put(digest, principal)
    return principal


class RevocationListener:
    """LISTENs for revoked keys on its own connection and drops them from ``cache``."""

    def __init__(self, dsn: str, cache: KeyCache, *, reconnect_delay: float = 2.0, connect_timeout: float = 2.0,
                 outage: Dependency | None = None):
        self._dsn = dsn
        self.cache = cache
        self._reconnect_delay = reconnect_delay
        self._connect_timeout = connect_timeout
        self._outage = outage
        self._conn: asyncpg.Connection | None = None
        self._lost: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.revocations = 0  # heard so far (tests wait on it)

    async def start(self) -> None:
        await self._listen()
        self._task = asyncio.create_task(self._keep_listening(), name="api-key-revocations")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    def _on_revoked(self, _conn: object, _pid: object, _channel: object, payload: str) -> None:
        self.cache.drop(payload)
        self.revocations += 1

    async def _listen(self) -> None:
        conn = await open_connection(self._dsn, timeout=self._connect_timeout)
        await conn.add_listener(KEY_REVOKED, self._on_revoked)
        lost = asyncio.get_running_loop().create_future()

        def on_lost(_c: object) -> None:
            self.cache.enabled = False  # deaf: ask the database on every request
            self.cache.clear()
            if not lost.done():
                lost.set_result(None)

        conn.add_termination_listener(on_lost)
        self._conn, self._lost = conn, lost
        self.cache.clear()  # whatever was revoked while we were not listening
        self.cache.enabled = True

    async def _keep_listening(self) -> None:
        while True:
            assert self._lost is not None
            await self._lost
            log.warning("API key revocation listener lost its connection; keys are checked on every request "
                        "until it reconnects")
            while True:
                await asyncio.sleep(self._reconnect_delay)
                try:
                    await self._listen()
                except UNAVAILABLE as exc:  # the outage is reported once per interval, not per attempt
                    if self._outage is not None:
                        self._outage.failed(exc)
                    continue
                except Exception:  # noqa: BLE001 - a listener must outlive any error
                    log.exception("API key revocation listener could not reconnect; retrying")
                    continue
                log.info("API key revocation listener reconnected")
                if self._outage is not None:
                    self._outage.ok()
                break


def _challenge(error: str | None = None) -> dict[str, str]:
    value = 'Bearer realm="costsvc"' + (f', error="{error}"' if error else "")
    return {"WWW-Authenticate": value}


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> ApiKeyPrincipal:
    """The caller's key, or a 401.  Memoized on the request scope."""
    cached = connection.scope.get("auth")
    if isinstance(cached, ApiKeyPrincipal):
        return cached
    if not connection.headers.get("authorization"):
        raise NotAuthorizedException(
            detail="This endpoint needs an API key: send 'Authorization: Bearer <key>'.", headers=_challenge()
        )
    token = bearer_token(connection)
    if token is None or not token.startswith(KEY_PREFIX):
        raise NotAuthorizedException(
            detail="The Authorization header must be 'Bearer <key>' with a costsvc API key.",
            headers=_challenge("invalid_request"),
        )
    state = connection.app.state
    cache = state.get("api_key_cache")  # the app's lifespan sets it, with its RevocationListener
    if cache is None:
        cache = KeyCache()
        state["api_key_cache"] = cache
    principal = await authenticate(state.pool, token, cache)
    if principal is None:
        raise NotAuthorizedException(
            detail="The API key is unknown or revoked.", headers=_challenge("invalid_token")
        )
    connection.scope["auth"] = principal
    return principal


def require_role(role: Role) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Any]:
    """A Litestar guard: the caller must present a valid key of ``role`` (or higher)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await current_principal(connection)
        if not role_satisfies(principal.role, role):
            raise PermissionDeniedException(
                detail=f"This endpoint needs the '{role}' role; "
                f"the key '{principal.name}' has '{principal.role}'."
            )

    guard.__name__ = f"require_{role}"
    return guard
