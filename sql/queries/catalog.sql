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

-- name: catalog_poverty_guidelines
SELECT year, region, base, per_additional_person FROM poverty_guidelines ORDER BY year, region;

-- name: catalog_sliding_policies
SELECT program_id, tiers FROM sliding_scale_policies;

-- name: catalog_payment_plan_policies
SELECT program_id, terms, apr, min_monthly FROM payment_plan_policies;
