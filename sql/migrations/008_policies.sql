-- Policies as data (docs/FORMATS.md, "Policies"): sliding scales, payment terms and
-- poverty guidelines become versioned import kinds, activated and rolled back like the
-- tariffs.  Their keys: ('sliding', program), ('payment', program), ('guidelines', year).
--
-- The unversioned tables of 001 go: what they hold (the shipped guidelines, policies
-- the demo seeded) becomes one activated version per kind, with no import behind it.
-- Their service-wide default rows (program_id NULL) were never written by any code
-- path: a program without a policy uses the defaults of costsvc.domain.

ALTER TABLE tariff_version_keys DROP CONSTRAINT tariff_version_keys_scope_check;
ALTER TABLE tariff_version_keys ADD CONSTRAINT tariff_version_keys_scope_check
    CHECK (scope IN ('fee', 'plan', 'rates', 'reference', 'sliding', 'payment', 'guidelines'));

-- One row per tier, in the program's order (position); an empty max_fpl_percent is
-- the open-ended last tier.
CREATE TABLE sliding_scale_tiers (
    version_id        bigint NOT NULL REFERENCES tariff_versions (version_id),
    program_id        text NOT NULL,
    position          integer NOT NULL,
    tier              text NOT NULL,
    max_fpl_percent   numeric(9, 3) CHECK (max_fpl_percent >= 0),
    discount_percent  numeric(7, 3) CHECK (discount_percent BETWEEN 0 AND 100),
    nominal_fee       numeric(14, 2) CHECK (nominal_fee >= 0),
    effective_date    date NOT NULL,
    line              bigint,
    PRIMARY KEY (version_id, program_id, position),
    CHECK ((discount_percent IS NULL) <> (nominal_fee IS NULL))
);

-- One row per term a program offers.
CREATE TABLE payment_terms (
    version_id           bigint NOT NULL REFERENCES tariff_versions (version_id),
    program_id           text NOT NULL,
    months               integer NOT NULL CHECK (months BETWEEN 1 AND 120),
    apr                  numeric(6, 3) NOT NULL CHECK (apr BETWEEN 0 AND 36),
    min_monthly_payment  numeric(12, 2) NOT NULL CHECK (min_monthly_payment >= 0),
    min_down_payment     numeric(12, 2) CHECK (min_down_payment >= 0),
    effective_date       date NOT NULL,
    line                 bigint,
    PRIMARY KEY (version_id, program_id, months)
);

-- poverty_guidelines keeps its name and gains a version: one version per year.
ALTER TABLE poverty_guidelines ADD COLUMN version_id bigint REFERENCES tariff_versions (version_id);
ALTER TABLE poverty_guidelines ADD COLUMN line bigint;

WITH v AS (
    INSERT INTO tariff_versions (kind, activated_at)
    SELECT 'poverty_guidelines', now() WHERE EXISTS (SELECT 1 FROM poverty_guidelines)
    RETURNING version_id
)
UPDATE poverty_guidelines SET version_id = v.version_id FROM v;
INSERT INTO tariff_version_keys (version_id, scope, key1)
SELECT DISTINCT version_id, 'guidelines', year::text FROM poverty_guidelines;
ALTER TABLE poverty_guidelines ALTER COLUMN version_id SET NOT NULL;
ALTER TABLE poverty_guidelines DROP CONSTRAINT poverty_guidelines_pkey;
ALTER TABLE poverty_guidelines ADD PRIMARY KEY (version_id, year, region);

-- Policies stored by the earlier demo seed (programs only).
WITH v AS (
    INSERT INTO tariff_versions (kind, activated_at)
    SELECT 'sliding_scale', now() WHERE EXISTS (SELECT 1 FROM sliding_scale_policies WHERE program_id IS NOT NULL)
    RETURNING version_id
)
INSERT INTO sliding_scale_tiers (version_id, program_id, position, tier, max_fpl_percent, discount_percent,
                                 nominal_fee, effective_date)
SELECT v.version_id, p.program_id, t.position::integer,
       COALESCE(t.tier ->> 'name', chr(64 + t.position::integer)),
       (t.tier ->> 'max_fpl_percent')::numeric, (t.tier ->> 'discount_percent')::numeric,
       (t.tier ->> 'nominal_fee')::numeric, p.updated_at::date
FROM v, sliding_scale_policies p, jsonb_array_elements(p.tiers) WITH ORDINALITY AS t(tier, position)
WHERE p.program_id IS NOT NULL;
INSERT INTO tariff_version_keys (version_id, scope, key1)
SELECT DISTINCT version_id, 'sliding', program_id FROM sliding_scale_tiers;

WITH v AS (
    INSERT INTO tariff_versions (kind, activated_at)
    SELECT 'payment_terms', now() WHERE EXISTS (SELECT 1 FROM payment_plan_policies WHERE program_id IS NOT NULL)
    RETURNING version_id
)
INSERT INTO payment_terms (version_id, program_id, months, apr, min_monthly_payment, effective_date)
SELECT DISTINCT ON (p.program_id, m.months) v.version_id, p.program_id, m.months, p.apr, p.min_monthly,
       p.updated_at::date
FROM v, payment_plan_policies p, unnest(p.terms) AS m(months)
WHERE p.program_id IS NOT NULL AND m.months BETWEEN 1 AND 120 AND p.apr BETWEEN 0 AND 36;
INSERT INTO tariff_version_keys (version_id, scope, key1)
SELECT DISTINCT version_id, 'payment', program_id FROM payment_terms;

DROP TABLE sliding_scale_policies;
DROP TABLE payment_plan_policies;
