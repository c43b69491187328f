"""Protected health information at rest: authenticated encryption and keyed lookup.

PHI (member IDs, patient names, dates of birth, diagnosis codes) is stored only
as Fernet tokens (AES-128-CBC + HMAC-SHA256, from ``cryptography``), under keys
from ``COSTSVC_PHI_KEY``: one or more comma-separated keys, each 32 random bytes
in URL-safe base64 (what ``Fernet.generate_key()`` prints).  The first key
encrypts; every key decrypts, so a new key is put first, ``rotate`` re-encrypts
the stored tokens, and the old key is then dropped.

Lookups (find a member's verifications) never decrypt rows in bulk: the stored
row carries ``lookup_hash`` of the normalized value, an HMAC-SHA256 under a key
that is ``COSTSVC_PHI_HMAC_KEY`` when set, else derived from the *first* PHI key
with HKDF.  A deployment that rotates its PHI keys should set the HMAC key apart,
or the lookup hashes change with the first key (``rotate`` recomputes them).

Nothing here logs a value (only where a generated key file is), and no exception raised here carries a plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from costsvc.settings import Settings

_log = logging.getLogger(__name__)


class PhiKeyError(ValueError):
    """The configured keys cannot be used (never says what a key is)."""


class PhiUnavailable(RuntimeError):
    """No PHI key is configured, so the service refuses to store PHI."""


class PhiDecryptError(RuntimeError):
    """A stored token does not decrypt under any configured key."""


def parse_keys(text: str | None) -> tuple[bytes, ...]:
    """The keys of a ``COSTSVC_PHI_KEY`` value, first (encrypting) key first."""
    if not text or not text.strip():
        return ()
    keys = []
    for position, part in enumerate(text.split(","), start=1):
        key = part.strip().encode("ascii", "replace")
        try:
            raw = base64.urlsafe_b64decode(key)
        except (ValueError, TypeError):
            raw = b""
        if len(raw) != 32:
            raise PhiKeyError(f"PHI key {position} is not 32 bytes of URL-safe base64 (Fernet.generate_key())")
        keys.append(key)
    return tuple(keys)


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def normalize_lookup(value: str) -> str:
    """How a value is compared: NFKC, no surrounding or inner white space, upper case
    (member IDs are typed in many ways: ' abc 123 ' and 'ABC123' are one member)."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


class PhiVault:
    """Encrypts, decrypts and hashes PHI with the configured keys."""

    def __init__(self, keys: Sequence[bytes], hmac_key: bytes | None = None):
        if not keys:
            raise PhiUnavailable("no PHI key is configured (COSTSVC_PHI_KEY); PHI cannot be stored")
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self._first = Fernet(keys[0])
        self._first_raw = base64.urlsafe_b64decode(keys[0])
        self._hmac_key = hmac_key or self.derive_key(b"costsvc phi lookup v1")

    @classmethod
    def from_config(cls, phi_keys: str | None, hmac_key: str | None = None) -> PhiVault | None:
        """None when no key is configured (the caller refuses to store PHI)."""
        keys = parse_keys(phi_keys)
        if not keys:
            return None
        return cls(keys, hmac_key.encode("utf-8") if hmac_key else None)

    def encrypt(self, plaintext: str | bytes) -> bytes:
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
        return self._first.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(bytes(token))
        except InvalidToken:
            raise PhiDecryptError("a stored PHI value does not decrypt under any configured key") from None

    def decrypt_text(self, token: bytes) -> str:
        return self.decrypt(token).decode("utf-8")

    def rotate(self, token: bytes) -> bytes:
        """The token re-encrypted under the first key (same plaintext)."""
        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken:
            raise PhiDecryptError("a stored PHI value does not decrypt under any configured key") from None

    def derive_key(self, purpose: bytes) -> bytes:
        """A 32-byte key for another use, derived (HKDF) from the first key: one secret
        to configure, and knowing the derived key reveals nothing of the PHI key."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(self._first_raw)

    def lookup_hash(self, value: str) -> bytes:
        return hmac.new(self._hmac_key, normalize_lookup(value).encode("utf-8"), hashlib.sha256).digest()


def mask_member_id(member_id: str) -> str:
    """All but the last 4 characters hidden: ``*****6789`` (an ID of 4 characters or
    fewer shows only its last one: showing all four would hide nothing)."""
    keep = 4 if len(member_id) > 4 else min(len(member_id), 1)
    return "*" * (len(member_id) - keep) + member_id[len(member_id) - keep:]


def mask_name(name: str) -> str:
    """The first letter of each word: ``J*** S****``."""
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in name.split())


EMBEDDED_KEY_FILE = "phi.key"


def embedded_key(data_dir: str | Path) -> tuple[str, Path, bool]:
    """The PHI key of the embedded (no ``DATABASE_URL``) setup: read from
    ``<data_dir>/phi.key``, generated there (mode 0600) on first use.  Returns the key,
    its path and whether it was just created.  Several processes starting at once
    agree on one key: the file is created exclusively, and a loser reads the winner's."""
    path = Path(data_dir) / EMBEDDED_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip(), path, False
    key = generate_key()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key, path, True


def vault_from_settings(settings: Settings, *, embedded: bool) -> PhiVault | None:
    """The vault the service uses: ``COSTSVC_PHI_KEY`` when set; else, for the embedded
    database only, a key generated into the data folder (and said so in the log);
    else None (PHI is refused)."""
    keys = settings.phi_keys
    if not keys and embedded:
        keys, path, created = embedded_key(settings.data_dir)
        _log.warning("%s PHI key %s for the embedded database (set COSTSVC_PHI_KEY in production; "
                     "docs/VERIFICATION.md)", "generated a" if created else "using the", path)
    return PhiVault.from_config(keys, settings.phi_hmac_key)
