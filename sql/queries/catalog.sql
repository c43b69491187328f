-- Queries that load the in-process tariff catalog (costsvc/catalog.py).

-- name: catalog_programs
SELECT program_id, name, state, npi, tin FROM programs ORDER BY program_id;

-- name: catalog_fee_lines
SELECT f.program_id, f.level_of_care, f.billing_code, f.description, f.frequency,
       f.gross_charge, f.cash_price
FROM fee_lines f
JOIN current_tariff_versions c
  ON c.scope = 'fee' AND c.version_id = f.version_id
 AND c.key1 = f.program_id AND c.key2 = f.level_of_care
ORDER BY f.program_id, f.level_of_care, f.billing_code, f.frequency;

-- name: catalog_payers
SELECT payer_id, name FROM payers ORDER BY payer_id;

-- name: catalog_plans
SELECT p.plan_id, p.payer_id, p.plan_name, p.plan_type, p.plan_year_start, p.effective_date, p.version_id
FROM plans p
JOIN current_tariff_versions c
  ON c.scope = 'plan' AND c.version_id = p.version_id AND c.key1 = p.plan_id
ORDER BY p.payer_id, p.plan_id;

-- name: catalog_plan_networks
SELECT n.plan_id, n.network, n.ded_individual, n.ded_family, n.oop_individual, n.oop_family,
       n.allowed_method, n.allowed_pct, n.balance_billing
FROM plan_networks n
JOIN current_tariff_versions c
  ON c.scope = 'plan' AND c.version_id = n.version_id AND c.key1 = n.plan_id;

-- name: catalog_plan_levels
SELECT b.plan_id, b.network, b.level_of_care, b.covered, b.copay, b.copay_unit,
       b.deductible_applies, b.coinsurance_pct, b.limit_units, b.prior_auth
FROM plan_level_benefits b
JOIN current_tariff_versions c
  ON c.scope = 'plan' AND c.version_id = b.version_id AND c.key1 = b.plan_id;

-- name: catalog_negotiated_rates
SELECT r.payer_id, r.program_id, r.billing_code, r.rate_type, r.rate, r.effective_date, r.expiration_date
FROM negotiated_rates r
JOIN current_tariff_versions c
  ON c.scope = 'rates' AND c.version_id = r.version_id
 AND c.key1 = r.payer_id AND c.key2 = r.program_id
ORDER BY r.payer_id, r.program_id, r.billing_code, r.effective_date;

-- name: catalog_reference_rates
SELECT r.payer_id, r.billing_code, r.amount
FROM reference_rates r
JOIN current_tariff_versions c
  ON c.scope = 'reference' AND c.version_id = r.version_id AND c.key1 = r.payer_id;

-- The policies (sql/migrations/008_policies.sql): current version per year / program.

-- name: catalog_poverty_guidelines
SELECT g.year, g.region, g.base, g.per_additional_person
FROM poverty_guidelines g
JOIN current_tariff_versions c
  ON c.scope = 'guidelines' AND c.version_id = g.version_id AND c.key1 = g.year::text
ORDER BY g.year, g.region;

-- name: catalog_sliding_tiers
SELECT t.program_id, t.tier, t.max_fpl_percent, t.discount_percent, t.nominal_fee, t.effective_date,
       t.version_id, v.import_id
FROM sliding_scale_tiers t
JOIN current_tariff_versions c ON c.scope = 'sliding' AND c.version_id = t.version_id AND c.key1 = t.program_id
JOIN tariff_versions v ON v.version_id = t.version_id
ORDER BY t.program_id, t.position;

-- name: catalog_payment_terms
SELECT t.program_id, t.months, t.apr, t.min_monthly_payment, t.min_down_payment, t.effective_date,
       t.version_id, v.import_id
FROM payment_terms t
JOIN current_tariff_versions c ON c.scope = 'payment' AND c.version_id = t.version_id AND c.key1 = t.program_id
JOIN tariff_versions v ON v.version_id = t.version_id
ORDER BY t.program_id, t.months;

-- Incremental loads (costsvc.catalog.load_catalog_changes): the tariffs of a few keys.

-- name: catalog_version_keys
SELECT DISTINCT scope, key1, key2 FROM tariff_version_keys WHERE version_id = ANY($1::bigint[]);

-- name: catalog_current_versions_of_keys
-- The current version of each (key1, key2) of scope $1, by the rule of the
-- current_tariff_versions view (the version carrying the key activated last), looked
-- up key by key through the primary key instead of computed for every key.
SELECT k.key1, k.key2, cur.version_id
FROM unnest($2::text[], $3::text[]) AS k(key1, key2)
CROSS JOIN LATERAL (
    SELECT vk.version_id
    FROM tariff_version_keys vk
    JOIN tariff_versions v USING (version_id)
    WHERE vk.scope = $1 AND vk.key1 = k.key1 AND vk.key2 = k.key2 AND v.activated_at IS NOT NULL
    ORDER BY v.activated_at DESC, v.version_id DESC
    LIMIT 1
) AS cur;

-- name: catalog_programs_by_id
SELECT program_id, name, state, npi, tin FROM programs WHERE program_id = ANY($1::text[]);

-- name: catalog_fee_lines_of_versions
SELECT f.program_id, f.level_of_care, f.billing_code, f.description, f.frequency,
       f.gross_charge, f.cash_price
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS k(version_id, program_id, level_of_care)
JOIN fee_lines f
  ON f.version_id = k.version_id AND f.program_id = k.program_id AND f.level_of_care = k.level_of_care
ORDER BY f.program_id, f.level_of_care, f.billing_code, f.frequency;

-- name: catalog_plans_of_versions
SELECT p.plan_id, p.payer_id, p.plan_name, p.plan_type, p.plan_year_start, p.effective_date, p.version_id
FROM unnest($1::bigint[], $2::text[]) AS k(version_id, plan_id)
JOIN plans p ON p.version_id = k.version_id AND p.plan_id = k.plan_id;

-- name: catalog_plan_networks_of_versions
SELECT n.plan_id, n.network, n.ded_individual, n.ded_family, n.oop_individual, n.oop_family,
       n.allowed_method, n.allowed_pct, n.balance_billing
FROM unnest($1::bigint[], $2::text[]) AS k(version_id, plan_id)
JOIN plan_networks n ON n.version_id = k.version_id AND n.plan_id = k.plan_id;

-- name: catalog_plan_levels_of_versions
SELECT b.plan_id, b.network, b.level_of_care, b.covered, b.copay, b.copay_unit,
       b.deductible_applies, b.coinsurance_pct, b.limit_units, b.prior_auth
FROM unnest($1::bigint[], $2::text[]) AS k(version_id, plan_id)
JOIN plan_level_benefits b ON b.version_id = k.version_id AND b.plan_id = k.plan_id;

-- name: catalog_negotiated_rates_of_versions
SELECT r.payer_id, r.program_id, r.billing_code, r.rate_type, r.rate, r.effective_date, r.expiration_date
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS k(version_id, payer_id, program_id)
JOIN negotiated_rates r
  ON r.version_id = k.version_id AND r.payer_id = k.payer_id AND r.program_id = k.program_id
ORDER BY r.payer_id, r.program_id, r.billing_code, r.effective_date;

-- name: catalog_reference_rates_of_versions
SELECT r.payer_id, r.billing_code, r.amount
FROM unnest($1::bigint[], $2::text[]) AS k(version_id, payer_id)
JOIN reference_rates r ON r.version_id = k.version_id AND r.payer_id = k.payer_id;

-- name: catalog_poverty_guidelines_of_versions
SELECT g.year, g.region, g.base, g.per_additional_person
FROM unnest($1::bigint[], $2::text[]) AS k(version_id, year)
JOIN poverty_guidelines g ON g.version_id = k.version_id AND g.year::text = k.year
ORDER BY g.year, g.region;

-- name: catalog_sliding_tiers_of_versions
SELECT t.program_id, t.tier, t.max_fpl_percent, t.discount_percent, t.nominal_fee, t.effective_date,
       t.version_id, v.import_id
FROM unnest($1::bigint[], $2::text[]) AS k(version_id, program_id)
JOIN sliding_scale_tiers t ON t.version_id = k.version_id AND t.program_id = k.program_id
JOIN tariff_versions v ON v.version_id = t.version_id
ORDER BY t.program_id, t.position;

-- name: catalog_payment_terms_of_versions
SELECT t.program_id, t.months, t.apr, t.min_monthly_payment, t.min_down_payment, t.effective_date,
       t.version_id, v.import_id
FROM unnest($1::bigint[], $2::text[]) AS k(version_id, program_id)
JOIN payment_terms t ON t.version_id = k.version_id AND t.program_id = k.program_id
JOIN tariff_versions v ON v.version_id = t.version_id
ORDER BY t.program_id, t.months;
-- name: catalog_latest_version
-- The tariff version activated last (a rollback re-activates an older one): the
-- catalog's version in the metrics (costsvc_catalog_version).
SELECT version_id FROM tariff_versions WHERE activated_at IS NOT NULL
ORDER BY activated_at DESC, version_id DESC LIMIT 1;
