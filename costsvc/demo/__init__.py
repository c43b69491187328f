"""The demo dataset: 4+ programs, 3 payers, 5+ plans, negotiated rates, policies.

Loaded through the same import pipeline as any payer or program file, so the
demo also exercises it.  ``costsvc serve`` seeds it on the embedded database's
first start; with DATABASE_URL set only ``costsvc seed-demo`` does.
"""

from __future__ import annotations

from pathlib import Path

from costsvc.db.pool import connect
from costsvc.db.queries import Q
from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import import_file

DATA = Path(__file__).parent / "data"
# The policies come after the fee schedule: a program's policy needs the program.  One
# program has its own sliding scale (a community clinic with deeper discounts), one its
# own payment terms with interest; the others use the defaults.
FILES = (
    ("fee_schedule", "fee_schedule.csv"),
    ("coverage_table", "coverage_table.csv"),
    ("negotiated_rates", "negotiated_rates.csv"),
    ("sliding_scale", "sliding_scale.csv"),
    ("payment_terms", "payment_terms.csv"),
)


async def seed_demo(url: str, *, force: bool) -> str:
    conn = await connect(url)
    try:
        if not force and await conn.fetch(Q.demo_program_ids):
            return "demo data: database already has programs; not seeding"
        lines = []
        for kind, name in FILES:
            outcome = await import_file(conn, kind, DATA / name, source=f"demo/{name}", started_by="seed-demo", loaders=LOADERS)
            if outcome.status == "rejected":
                raise RuntimeError(f"demo file {name} rejected: {outcome.errors[:3]}")
            lines.append(f"{kind}: {outcome.status}{' (already loaded)' if outcome.deduplicated else ''}")
        return "demo data: " + "; ".join(lines)
    finally:
        await conn.close()
