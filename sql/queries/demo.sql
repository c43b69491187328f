-- The demo dataset's policies (costsvc/demo).

-- name: demo_program_ids
SELECT program_id FROM programs;

-- name: upsert_sliding_policy
INSERT INTO sliding_scale_policies (program_id, tiers) VALUES ($1, $2)
ON CONFLICT (program_id) DO UPDATE SET tiers = EXCLUDED.tiers, updated_at = now();

-- name: upsert_payment_plan_policy
INSERT INTO payment_plan_policies (program_id, terms, apr, min_monthly) VALUES ($1, $2, $3, $4)
ON CONFLICT (program_id) DO UPDATE
SET terms = EXCLUDED.terms, apr = EXCLUDED.apr, min_monthly = EXCLUDED.min_monthly, updated_at = now();
