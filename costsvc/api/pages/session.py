"""The staff console's session cookie and CSRF tokens.

The cookie holds the staff member's API key and a CSRF secret, sealed with Fernet
(AES-128-CBC + HMAC-SHA256, from ``cryptography``): the browser can neither read the
key nor change a byte unnoticed.  It is ``HttpOnly`` (no script reads it),
``SameSite=Strict`` (no other site's page sends it), ``Secure`` unless
``COSTSVC_SESSION_COOKIE_SECURE=0``, scoped to ``/staff``, and lives
``COSTSVC_SESSION_TTL`` seconds from sign-in: the Fernet timestamp is the sign-in
time, checked on every request, so an expired cookie is refused even when a browser
keeps it.

The key inside is checked against the database on every request through
``costsvc.auth.authenticate`` and the API's key cache, which the revocation listener
empties of a revoked key at once: revoking a key ends its console sessions on their
next request.

Why our own few lines and not Litestar's session and CSRF middleware: those treat a
forged session cookie like no cookie (the console must say which happened) and
their CSRF cookie is not bound to the session.  Here every form carries the
session's own CSRF secret (a synchronizer token), compared in constant time.  A
visitor who has not signed in gets an anonymous session (a CSRF secret, no key), so
the sign-in form is protected too; signing in starts a new session with a new
secret.

The session key is ``COSTSVC_SESSION_KEY`` (a Fernet key) when set, else derived
(HKDF) from the first PHI key: one secret fewer to configure, the same in every
worker process.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from typing import Any, Literal

import msgspec
from cryptography.fernet import Fernet, InvalidToken

from costsvc.phi import PhiVault
from costsvc.settings import Settings

COOKIE = "costsvc_staff"
COOKIE_PATH = "/staff"
CSRF_FIELD = "csrf_token"
CLOCK_SKEW = 60  # seconds a cookie's time may be ahead of ours (several processes, one clock each)

Reason = Literal["expired", "invalid", "revoked", "signed-out", "unavailable"]

#: What the sign-in page says after each reason (the reason travels in the query: it is no PHI).
MESSAGES: dict[str, str] = {
    "expired": "Your session expired. Sign in again to continue.",
    "invalid": "Your session could not be read (the cookie was changed or is from another server). "
               "Sign in again.",
    "revoked": "The API key of your session is no longer valid (it was revoked). Sign in with a current key.",
    "signed-out": "You are signed out.",
    "unavailable": "The staff console is not configured on this server: set COSTSVC_SESSION_KEY or "
                   "COSTSVC_PHI_KEY.",
}


class Session(msgspec.Struct, frozen=True, omit_defaults=True):
    csrf: str
    key: str | None = None  # the API key; None before sign-in


class SessionRefused(Exception):
    """The cookie cannot be used; ``reason`` says why (never what it held)."""

    def __init__(self, reason: Reason):
        super().__init__(reason)
        self.reason = reason


class SessionCodec:
    """Seals sessions into cookie values and opens them again."""

    def __init__(self, fernet_key: bytes, ttl: int, *, secure: bool = True):
        self._fernet = Fernet(fernet_key)
        self.ttl = ttl
        self.secure = secure

    @classmethod
    def from_settings(cls, settings: Settings, vault: PhiVault | None) -> SessionCodec | None:
        """None when neither a session key nor a PHI key is configured."""
        if settings.session_key:
            key = settings.session_key.strip().encode("ascii", "replace")
            try:
                Fernet(key)
            except ValueError:
                raise ValueError("COSTSVC_SESSION_KEY is not a Fernet key (32 random bytes, URL-safe base64: "
                                 "`costsvc phi generate-key` prints one)") from None
        elif vault is not None:
            key = base64.urlsafe_b64encode(vault.derive_key(b"costsvc staff session v1"))
        else:
            return None
        return cls(key, settings.session_ttl, secure=settings.session_cookie_secure)

    def new(self, key: str | None = None) -> Session:
        return Session(csrf=secrets.token_urlsafe(32), key=key)

    def seal(self, session: Session, now: float | None = None) -> str:
        data = msgspec.json.encode(session)
        stamp = int(time.time() if now is None else now)
        return self._fernet.encrypt_at_time(data, stamp).decode("ascii")

    def open(self, value: str, now: float | None = None) -> Session:
        now = time.time() if now is None else now
        try:
            token = value.encode("ascii")
            data = self._fernet.decrypt(token)  # authenticates before it decrypts
            issued = self._fernet.extract_timestamp(token)
            session = msgspec.json.decode(data, type=Session)
        except (InvalidToken, UnicodeError, msgspec.DecodeError, msgspec.ValidationError):
            raise SessionRefused("invalid") from None
        if issued > now + CLOCK_SKEW:
            raise SessionRefused("invalid")
        if now - issued > self.ttl:
            raise SessionRefused("expired")
        return session

    def cookie_header(self, value: str) -> str:
        attributes = [f"{COOKIE}={value}", f"Path={COOKIE_PATH}", f"Max-Age={self.ttl}", "HttpOnly",
                      "SameSite=Strict"]
        if self.secure:
            attributes.append("Secure")
        return "; ".join(attributes)

    def clearing_header(self) -> str:
        attributes = [f"{COOKIE}=", f"Path={COOKIE_PATH}", "Max-Age=0", "HttpOnly", "SameSite=Strict"]
        if self.secure:
            attributes.append("Secure")
        return "; ".join(attributes)


def csrf_matches(session: Session, submitted: Any) -> bool:
    return isinstance(submitted, str) and bool(submitted) and hmac.compare_digest(
        submitted.encode("utf-8", "replace"), session.csrf.encode("ascii"))
