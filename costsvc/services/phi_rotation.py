"""Re-encrypt stored PHI under the first configured key (``costsvc phi rotate``).

Procedure (docs/VERIFICATION.md): put a new key first in ``COSTSVC_PHI_KEY``
(``new,old``), restart the API processes (they now encrypt with the new key and
still read the old), run ``costsvc phi rotate``, then drop the old key.  Each
batch of rows is locked, re-encrypted and committed on its own, so the command can
run while the service serves and can be re-run after an interruption (a token
already under the first key is simply re-encrypted again).  Lookup hashes are
recomputed too: they change with the first key unless ``COSTSVC_PHI_HMAC_KEY``
is set apart.

Other features that store PHI add a rotator to ``ROTATORS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from costsvc.db.queries import Q
from costsvc.phi import PhiVault

BATCH = 500


class RotationReport(msgspec.Struct):
    rows: dict[str, int]  # table -> rows re-encrypted

    def summary(self) -> str:
        return "re-encrypted under the first PHI key: " + ", ".join(f"{n} {t} row(s)" for t, n in self.rows.items())


def _again(vault: PhiVault, token: bytes | None) -> bytes | None:
    return vault.rotate(token) if token is not None else None


async def _in_batches(conn: asyncpg.Connection, batch_query: str, key: str, update_query: str,
                      columns: Callable[[list[asyncpg.Record]], tuple[list[Any], ...]], batch: int) -> int:
    """Lock, rewrite and commit ``batch`` rows at a time, in ``key`` order, until none are left."""
    done, after = 0, None
    while True:
        async with conn.transaction():
            rows = await conn.fetch(batch_query, after, batch)
            if not rows:
                return done
            await conn.execute(update_query, [r[key] for r in rows], *columns(rows))
        done += len(rows)
        after = rows[-1][key]


async def rotate_verifications(conn: asyncpg.Connection, vault: PhiVault, batch: int = BATCH) -> int:
    def columns(rows: list[asyncpg.Record]) -> tuple[list[Any], ...]:
        return (
            [vault.rotate(r["member_id_enc"]) for r in rows],
            [vault.lookup_hash(vault.decrypt_text(r["member_id_enc"])) for r in rows],
            [_again(vault, r["patient_enc"]) for r in rows],
            [_again(vault, r["notes_enc"]) for r in rows],
            [_again(vault, r["x12_enc"]) for r in rows],
        )

    return await _in_batches(conn, Q.verif_phi_batch, "verification_id", Q.verif_phi_update, columns, batch)


async def rotate_gfes(conn: asyncpg.Connection, vault: PhiVault, batch: int = BATCH) -> int:
    def columns(rows: list[asyncpg.Record]) -> tuple[list[Any], ...]:
        return ([vault.rotate(r["phi"]) for r in rows],)

    return await _in_batches(conn, Q.gfe_phi_batch, "gfe_id", Q.gfe_phi_update, columns, batch)


ROTATORS: dict[str, Callable[[asyncpg.Connection, PhiVault], Awaitable[int]]] = {
    "verifications": rotate_verifications,
    "gfes": rotate_gfes,
}


async def rotate_all(conn: asyncpg.Connection, vault: PhiVault) -> RotationReport:
    return RotationReport({table: await rotate(conn, vault) for table, rotate in ROTATORS.items()})
