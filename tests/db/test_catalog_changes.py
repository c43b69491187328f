"""The incremental catalog load (what an API process does on a version's NOTIFY)
gives the same snapshot as a full load, after every kind of import, a new program,
a new plan, a rollback and a roll forward; and the holder uses it."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

import msgspec
import pytest

from costsvc import catalog as catalog_module
from costsvc.catalog import Catalog, CatalogHolder, load_catalog, load_catalog_changes
from costsvc.db.pool import create_pool
from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import ImportOptions, activate, import_file

DEMO = Path(__file__).resolve().parents[2] / "costsvc" / "demo" / "data"
FEE_HEADER = ("program_id,program_name,npi,tin,state,level_of_care,billing_code,description,frequency,"
              "gross_charge,cash_price,effective_date\n")


@pytest.fixture(autouse=True)
def small_fee_line_batches(monkeypatch):
    """A full load reads fee lines through a cursor in batches: here many batches."""
    monkeypatch.setattr(catalog_module, "FEE_LINE_BATCH", 3)


def comparable(c: Catalog) -> dict:
    out = msgspec.to_builtins(msgspec.structs.replace(c, loaded_at=0.0, pricing_memo={}))
    out["program_order"] = list(c.programs)
    out["plan_order"] = list(c.plans)
    out["level_order"] = {p: list(e.levels) for p, e in c.programs.items()}
    return out


async def step(conn, base: Catalog, version_id: int) -> Catalog:
    changed = await load_catalog_changes(conn, base, [version_id])
    assert changed is not None
    full = await load_catalog(conn)
    assert comparable(changed) == comparable(full)
    return changed


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_incremental_loads_equal_full_loads(conn, tmp_path):
    cat = await load_catalog(conn)
    assert "sunrise-recovery" in cat.programs

    # a fee schedule: one level of an existing program changes, a new program (sorted first) appears
    fees = write(tmp_path, "fees.csv", FEE_HEADER
                 + "sunrise-recovery,Sunrise Recovery Center,1645987326,74-2918365,TX,iop,H0015,IOP day,"
                   "per_service,812.00,455.00,2026-01-01\n"
                 + "aaa-first,AAA First Program,,,CA,outpatient,90837,Therapy,per_service,200.00,,2026-01-01\n")
    fee_outcome = await import_file(conn, "fee_schedule", fees, loaders=LOADERS)
    assert fee_outcome.status == "succeeded", fee_outcome
    cat = await step(conn, cat, fee_outcome.version_id)
    assert list(cat.programs)[0] == "aaa-first"
    assert cat.programs["sunrise-recovery"].levels["iop"][0].gross_charge == msgspec.convert("812.00", type=type(
        cat.programs["sunrise-recovery"].levels["iop"][0].gross_charge), strict=False)

    # a coverage table with a new plan of a new payer
    coverage_lines = (DEMO / "coverage_table.csv").read_text().splitlines()
    header, first = coverage_lines[0], coverage_lines[1]
    new_plan = first.replace("acme,Acme Health,acme-ppo-gold,Acme PPO Gold", "aardvark,Aardvark Care,aa-plan,AA Plan")
    coverage = write(tmp_path, "coverage.csv", "\n".join([header, new_plan]) + "\n")
    cov_outcome = await import_file(conn, "coverage_table", coverage, loaders=LOADERS)
    assert cov_outcome.status == "succeeded", cov_outcome
    cat = await step(conn, cat, cov_outcome.version_id)
    assert "aa-plan" in cat.plans and cat.payers["aardvark"] == "Aardvark Care"

    # negotiated rates and reference rates
    rates = write(tmp_path, "rates.csv", "payer_id,program_id,npi,tin,billing_code,rate_type,rate,effective_date,"
                  "expiration_date\nacme,aaa-first,,,90837,dollar,150.00,2026-01-01,\n")
    rate_outcome = await import_file(conn, "negotiated_rates", rates, loaders=LOADERS)
    assert rate_outcome.status == "succeeded", rate_outcome
    cat = await step(conn, cat, rate_outcome.version_id)
    assert ("acme", "aaa-first") in cat.negotiated_rates
    reference = write(tmp_path, "reference.csv", "payer_id,billing_code,amount\nacme,H0015,400.00\n")
    ref_outcome = await import_file(conn, "reference_rates", reference, loaders=LOADERS)
    assert ref_outcome.status == "succeeded", ref_outcome
    cat = await step(conn, cat, ref_outcome.version_id)

    # the policies: a program's sliding scale and terms, a year's guidelines
    policies = (
        ("sliding_scale", "program_id,tier,max_fpl_percent,discount_percent,nominal_fee,effective_date\n"
                          "aaa-first,A,100,,5.00,2026-01-01\naaa-first,B,,30,,2026-01-01\n"),
        ("payment_terms", "program_id,months,apr,min_monthly_payment,min_down_payment,effective_date\n"
                          "aaa-first,9,4.5,30.00,50.00,2026-01-01\n"),
        ("poverty_guidelines", "year,region,base,per_additional_person\n2027,48,16500,5800\n2027,AK,20600,7250\n"
                               "2027,HI,19000,6680\n2026,48,20000,6000\n2026,AK,25000,7500\n2026,HI,23000,6900\n"),
    )
    for kind, text in policies:
        policy_outcome = await import_file(conn, kind, write(tmp_path, f"{kind}.csv", text), loaders=LOADERS)
        assert policy_outcome.status == "succeeded", policy_outcome
        cat = await step(conn, cat, policy_outcome.version_id)
    assert cat.sliding_policies["aaa-first"].tiers[1].max_fpl_percent is None
    assert cat.payment_plan_policy_for("aaa-first").min_down_payment == msgspec.convert("50.00", type=type(
        cat.payment_plan_policy_for("aaa-first").min_down_payment), strict=False)
    def base_of(year: int) -> str:
        return str(next(g.base for g in cat.poverty_guidelines if (g.year, g.region) == (year, "48")))

    assert len(cat.poverty_guidelines) == 9 and base_of(2027) == "16500.00" and base_of(2026) == "20000.00"
    shipped = await conn.fetchval("SELECT min(version_id) FROM tariff_version_keys WHERE scope = 'guidelines'")
    assert await activate(conn, shipped)  # the migration's shipped guidelines again
    cat = await step(conn, cat, shipped)
    assert base_of(2026) == "15960.00" and base_of(2027) == "16500.00"  # 2027 only the new version has

    # roll the fee schedule back to the demo's version, then forward again
    demo_fee_version = await conn.fetchval(
        "SELECT min(version_id) FROM tariff_version_keys WHERE scope = 'fee' AND key1 = 'sunrise-recovery' "
        "AND key2 = 'iop'")
    assert await activate(conn, demo_fee_version)
    cat = await step(conn, cat, demo_fee_version)
    assert "aaa-first" in cat.programs  # master data stays; only its tariffs are versioned
    assert await activate(conn, fee_outcome.version_id)
    cat = await step(conn, cat, fee_outcome.version_id)

    # partial import with a rejected row changes only what it carries
    partial = write(tmp_path, "partial.csv", FEE_HEADER
                    + "aaa-first,AAA First Program,,,CA,outpatient,90834,Therapy 45,per_service,150.00,,2026-01-01\n"
                    + "aaa-first,AAA First Program,,,CA,outpatient,90832,Therapy 30,per_service,-1,,2026-01-01\n")
    part_outcome = await import_file(conn, "fee_schedule", partial, options=ImportOptions(allow_partial=True), loaders=LOADERS)
    assert part_outcome.status == "succeeded"
    cat = await step(conn, cat, part_outcome.version_id)
    assert [f.billing_code for f in cat.programs["aaa-first"].levels["outpatient"]] == ["90834"]


async def test_many_keys_fall_back_to_a_full_load(conn, monkeypatch):
    base = await load_catalog(conn)
    version = await conn.fetchval("SELECT max(version_id) FROM tariff_versions")
    monkeypatch.setattr(catalog_module, "MAX_INCREMENTAL_KEYS", 0)
    assert await load_catalog_changes(conn, base, [version]) is None


async def test_holder_applies_a_notified_version_incrementally(db_url, conn, tmp_path):
    pool = await create_pool(db_url, min_size=1, max_size=2)
    holder = CatalogHolder(pool, db_url, memo_bytes=1024**2)
    try:
        await holder.start()
        assert holder.full_reloads == 1
        fees = write(tmp_path, "fees.csv", FEE_HEADER
                     + "sunrise-recovery,Sunrise Recovery Center,1645987326,74-2918365,TX,iop,H0015,IOP day,"
                       "per_service,833.00,455.00,2026-01-01\n")
        outcome = await import_file(conn, "fee_schedule", fees, loaders=LOADERS)
        for _ in range(100):
            if holder.reloads >= 2:
                break
            await asyncio.sleep(0.05)
        assert holder.reloads == 2 and holder.full_reloads == 1  # the notification's version only
        assert str(holder.current.programs["sunrise-recovery"].levels["iop"][0].gross_charge) == "833.00"
        assert comparable(holder.current) == comparable(await load_catalog(conn))

        await conn.execute("SELECT pg_notify('tariffs_changed', 'policies')")  # not a version: full load
        for _ in range(100):
            if holder.reloads >= 3:
                break
            await asyncio.sleep(0.05)
        assert holder.full_reloads == 2
        assert outcome.version_id is not None
    finally:
        await holder.stop()
        await pool.close()


class _Cycle:
    """Garbage that only the cyclic collector can free (it refers to itself)."""

    def __init__(self) -> None:
        self.me = self


async def test_each_snapshot_gets_a_bounded_memo_and_a_reload_frees_what_the_last_froze(db_url):
    """The holder freezes what is alive after each load (to keep the snapshot out of full
    collections); cyclic garbage caught by one freeze must still be freed by the next reload,
    not kept for the life of the process."""
    pool = await create_pool(db_url, min_size=1, max_size=2)
    holder = CatalogHolder(pool, db_url, memo_bytes=12_345)
    try:
        await holder.start()
        assert holder.current.pricing_memo.maxsize == 12_345
        first_memo = holder.current.pricing_memo
        garbage = _Cycle()
        caught = weakref.ref(garbage)
        gc.disable()  # so that only the holder's own collection can free it
        try:
            del garbage
            gc.freeze()  # as an earlier reload's freeze did, with garbage in cycles alive at that moment
            gc.collect()
            assert caught() is not None  # frozen: a collection alone does not see it
            await holder.reload()
            assert caught() is None
            assert holder.current.pricing_memo is not first_memo  # a new snapshot, a new memo
        finally:
            gc.enable()
    finally:
        await holder.stop()
        await pool.close()
