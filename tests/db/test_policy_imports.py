"""The policy kinds through the pipeline itself (the CLI's path): a policy is all or
nothing even with allow_partial, and a rejected file leaves the policies in force."""

from __future__ import annotations

from costsvc.catalog import load_catalog
from costsvc.staging.loaders import LOADERS
from costsvc.staging.pipeline import ImportOptions, import_file

SLIDING = "program_id,tier,max_fpl_percent,discount_percent,nominal_fee,effective_date\n"


async def test_allow_partial_imports_whole_programs_only(conn, tmp_path):
    before = (await load_catalog(conn)).sliding_policies["harborview-behavioral-health"]
    path = tmp_path / "tiers.csv"
    path.write_text(SLIDING
                    + "harborview-behavioral-health,A,100,,1.00,2026-01-01\n"
                    + "harborview-behavioral-health,B,90,50,,2026-01-01\n"  # spoils harborview's policy
                    + "sunrise-recovery,A,120,,15.00,2026-01-01\n"
                    + "sunrise-recovery,B,,30,,2026-01-01\n"
                    + "nowhere,A,100,,1.00,2026-01-01\n")  # unknown program
    outcome = await import_file(conn, "sliding_scale", path, loaders=LOADERS,
                                options=ImportOptions(allow_partial=True))
    assert outcome.status == "succeeded", outcome
    assert [(e.line, e.column) for e in outcome.errors] == [(3, "max_fpl_percent"), (6, "program_id")]
    assert (outcome.rows_read, outcome.rows_accepted) == (5, 2)
    after = await load_catalog(conn)
    assert after.sliding_policies["harborview-behavioral-health"] == before  # untouched, not half replaced
    assert [t.name for t in after.sliding_policies["sunrise-recovery"].tiers] == ["A", "B"]
    assert "nowhere" not in after.sliding_policies


async def test_a_rejected_policy_file_leaves_every_policy_in_force(conn, tmp_path):
    before = await load_catalog(conn)
    path = tmp_path / "tiers.csv"
    path.write_text(SLIDING + "sunrise-recovery,A,120,,15.00,2026-01-01\nsunrise-recovery,B,110,30,,2026-01-01\n")
    outcome = await import_file(conn, "sliding_scale", path, loaders=LOADERS)
    assert outcome.status == "rejected" and outcome.version_id is None
    assert [(e.file, e.line, e.column) for e in outcome.errors] == [("tiers.csv", 3, "max_fpl_percent")]
    after = await load_catalog(conn)
    assert after.sliding_policies == before.sliding_policies and "sunrise-recovery" not in after.sliding_policies
    assert await conn.fetchval("SELECT count(*) FROM sliding_scale_tiers WHERE program_id = 'sunrise-recovery'") == 0
