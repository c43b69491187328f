"""The demo dataset: 4+ programs, 3 payers, 5+ plans, negotiated rates, policies.

Loaded through the same import pipeline as any payer or program file, so the
demo also exercises it.  ``costsvc serve`` seeds it on the embedded database's
first start; with DATABASE_URL set only ``costsvc seed-demo`` does.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec

from costsvc.db.pool import connect
from costsvc.db.queries import Q
from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import import_file

DATA = Path(__file__).parent / "data"
FILES = (
    ("fee_schedule", "fee_schedule.csv"),
    ("coverage_table", "coverage_table.csv"),
    ("negotiated_rates", "negotiated_rates.csv"),
)

# One program with its own sliding scale (a community clinic with deeper discounts)
# and its own payment-plan terms with interest; the others use the defaults.
DEMO_SLIDING_POLICY = {
    "program_id": "harborview-behavioral-health",
    "tiers": [
        {"name": "A", "max_fpl_percent": "100", "nominal_fee": "10.00"},
        {"name": "B", "max_fpl_percent": "150", "discount_percent": "75"},
        {"name": "C", "max_fpl_percent": "200", "discount_percent": "50"},
        {"name": "D", "max_fpl_percent": "250", "discount_percent": "25"},
    ],
}
DEMO_PAYMENT_POLICY = {"program_id": "cedar-ridge-treatment", "terms": [6, 12, 24], "apr": "7.99",
                       "min_monthly": "50.00"}


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
        known = {r["program_id"] for r in await conn.fetch(Q.demo_program_ids)}
        if DEMO_SLIDING_POLICY["program_id"] in known:
            await conn.execute(
                Q.upsert_sliding_policy,
                DEMO_SLIDING_POLICY["program_id"], msgspec.json.encode(DEMO_SLIDING_POLICY["tiers"]).decode(),
            )
        if DEMO_PAYMENT_POLICY["program_id"] in known:
            await conn.execute(
                Q.upsert_payment_plan_policy,
                DEMO_PAYMENT_POLICY["program_id"], DEMO_PAYMENT_POLICY["terms"], Decimal(DEMO_PAYMENT_POLICY["apr"]),
                Decimal(DEMO_PAYMENT_POLICY["min_monthly"]),
            )
        await conn.execute(Q.notify_tariffs_changed, "policies")
        return "demo data: " + "; ".join(lines)
    finally:
        await conn.close()
