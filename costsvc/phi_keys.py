"""Where the PHI vault's keys come from.

``COSTSVC_PHI_KEY`` (and optionally ``COSTSVC_PHI_HMAC_KEY``) when set.  Without
them, the embedded default database (no ``DATABASE_URL``) gets a key generated
once into ``<data_dir>/phi.key`` (mode 0600), so that ``make run`` can store PHI
on a bare machine; the log says so, never what the key is.  A deployment with
its own database and no key refuses to store PHI (``vault_from_settings``
returns None and the use cases answer with a clear problem).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from costsvc.phi import PhiVault, generate_key
from costsvc.settings import Settings

log = logging.getLogger(__name__)
KEY_FILE = "phi.key"


def embedded_key(data_dir: str | os.PathLike[str]) -> str:
    """The embedded database's PHI key, generated on first use."""
    path = Path(data_dir) / KEY_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    # O_EXCL: two processes starting together keep whichever key was written first.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    log.warning("generated a PHI encryption key for the embedded database into %s; "
                "set COSTSVC_PHI_KEY in production", path)
    return key


def vault_from_settings(settings: Settings) -> PhiVault | None:
    if settings.phi_keys:
        return PhiVault.from_config(settings.phi_keys, settings.phi_hmac_key)
    if settings.database_url is None:
        return PhiVault.from_config(embedded_key(settings.data_dir), settings.phi_hmac_key)
    return None
