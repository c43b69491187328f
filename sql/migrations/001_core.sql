-- costsvc core schema.
--
-- Tariffs are versioned.  Every import that passes validation creates one row in
-- tariff_versions and stages its rows under that version id; activation stamps
-- activated_at.  For any key (a program+level, a plan, a payer+program pair,
-- a payer's reference rates) the rows that estimates read are those of the most
-- recently *activated* version that carries the key.  Re-activating an older
-- version (rollback) re-stamps it, so it wins again; nothing is ever deleted.

CREATE TABLE imports (
    import_id      uuid PRIMARY KEY,
    kind           text NOT NULL,
    source         text NOT NULL,            -- file name or server-side path (never PHI)
    sha256         text NOT NULL,
    -- kind, SHA-256 and the options that change what a file means (payer, program):
    -- the same key twice is the same import.
    dedupe_key     text NOT NULL,
    options        jsonb NOT NULL DEFAULT '{}'::jsonb,
    status         text NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'succeeded', 'rejected', 'failed', 'noop')),
    started_by     text NOT NULL DEFAULT 'cli',
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    rows_read      bigint NOT NULL DEFAULT 0,
    rows_accepted  bigint NOT NULL DEFAULT 0,
    rows_rejected  bigint NOT NULL DEFAULT 0,
    version_id     bigint,
    noop_of        uuid REFERENCES imports (import_id),
    message        text
);
CREATE INDEX imports_dedupe ON imports (dedupe_key);
CREATE INDEX imports_kind_status ON imports (kind, status, created_at DESC);
CREATE INDEX imports_created ON imports (created_at DESC);

CREATE TABLE import_errors (
    import_id  uuid NOT NULL REFERENCES imports (import_id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    file       text NOT NULL,
    line       bigint,
    "column"   text,
    message    text NOT NULL,
    PRIMARY KEY (import_id, seq)
);

CREATE TABLE tariff_versions (
    version_id    bigserial PRIMARY KEY,
    kind          text NOT NULL,
    import_id     uuid REFERENCES imports (import_id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    activated_at  timestamptz
);
-- The keys a version carries: ('fee', program, level), ('plan', plan, ''),
-- ('rates', payer, program), ('reference', payer, '').  Small, so finding the
-- current version of every key never scans the tariff rows themselves.
CREATE TABLE tariff_version_keys (
    version_id  bigint NOT NULL REFERENCES tariff_versions (version_id),
    scope       text NOT NULL CHECK (scope IN ('fee', 'plan', 'rates', 'reference')),
    key1        text NOT NULL,
    key2        text NOT NULL DEFAULT '',
    PRIMARY KEY (scope, key1, key2, version_id)
);

CREATE VIEW current_tariff_versions AS
SELECT DISTINCT ON (k.scope, k.key1, k.key2) k.scope, k.key1, k.key2, k.version_id
FROM tariff_version_keys k
JOIN tariff_versions v USING (version_id)
WHERE v.activated_at IS NOT NULL
ORDER BY k.scope, k.key1, k.key2, v.activated_at DESC, v.version_id DESC;

ALTER TABLE imports ADD CONSTRAINT imports_version_fk
    FOREIGN KEY (version_id) REFERENCES tariff_versions (version_id);

-- Master data: upserted when a version that names them is activated.
CREATE TABLE programs (
    program_id  text PRIMARY KEY,
    name        text NOT NULL,
    state       char(2) NOT NULL,
    npi         text,
    tin         text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX programs_npi ON programs (npi) WHERE npi IS NOT NULL;
CREATE INDEX programs_tin ON programs (tin) WHERE tin IS NOT NULL;

CREATE TABLE payers (
    payer_id    text PRIMARY KEY,
    name        text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE fee_lines (
    version_id      bigint NOT NULL REFERENCES tariff_versions (version_id),
    program_id      text NOT NULL,
    level_of_care   text NOT NULL,
    billing_code    text NOT NULL,
    description     text NOT NULL DEFAULT '',
    frequency       text NOT NULL CHECK (frequency IN ('per_service', 'per_episode')),
    gross_charge    numeric(14, 2) NOT NULL CHECK (gross_charge >= 0),
    cash_price      numeric(14, 2) CHECK (cash_price >= 0),
    effective_date  date NOT NULL,
    line            bigint
);
CREATE INDEX fee_lines_key ON fee_lines (program_id, level_of_care, version_id);

CREATE TABLE plans (
    version_id       bigint NOT NULL REFERENCES tariff_versions (version_id),
    plan_id          text NOT NULL,
    payer_id         text NOT NULL,
    plan_name        text NOT NULL,
    plan_type        text,
    plan_year_start  text NOT NULL DEFAULT '01-01',
    effective_date   date NOT NULL,
    PRIMARY KEY (version_id, plan_id)
);
CREATE INDEX plans_key ON plans (plan_id, version_id);

CREATE TABLE plan_networks (
    version_id       bigint NOT NULL,
    plan_id          text NOT NULL,
    network          text NOT NULL CHECK (network IN ('in_network', 'out_of_network')),
    ded_individual   numeric(14, 2),
    ded_family       numeric(14, 2),
    oop_individual   numeric(14, 2),
    oop_family       numeric(14, 2),
    allowed_method   text CHECK (allowed_method IN ('percent_of_billed', 'percent_of_reference')),
    allowed_pct      numeric(7, 3),
    balance_billing  boolean NOT NULL DEFAULT false,
    PRIMARY KEY (version_id, plan_id, network),
    FOREIGN KEY (version_id, plan_id) REFERENCES plans (version_id, plan_id)
);

CREATE TABLE plan_level_benefits (
    version_id          bigint NOT NULL,
    plan_id             text NOT NULL,
    network             text NOT NULL,
    level_of_care       text NOT NULL,
    covered             boolean NOT NULL,
    copay               numeric(14, 2) NOT NULL DEFAULT 0,
    copay_unit          text NOT NULL DEFAULT 'per_day'
                        CHECK (copay_unit IN ('per_day', 'per_visit', 'per_admission')),
    deductible_applies  boolean NOT NULL,
    coinsurance_pct     numeric(7, 3) NOT NULL,
    limit_units         integer,
    prior_auth          boolean NOT NULL DEFAULT false,
    PRIMARY KEY (version_id, plan_id, network, level_of_care),
    FOREIGN KEY (version_id, plan_id, network) REFERENCES plan_networks (version_id, plan_id, network)
);

CREATE TABLE negotiated_rates (
    version_id       bigint NOT NULL REFERENCES tariff_versions (version_id),
    payer_id         text NOT NULL,
    program_id       text NOT NULL,
    billing_code     text NOT NULL,
    rate_type        text NOT NULL CHECK (rate_type IN ('dollar', 'percent_of_billed')),
    rate             numeric(14, 3) NOT NULL CHECK (rate >= 0),
    effective_date   date NOT NULL,
    expiration_date  date,
    line             bigint
);
CREATE INDEX negotiated_rates_key ON negotiated_rates (payer_id, program_id, version_id);

CREATE TABLE reference_rates (
    version_id    bigint NOT NULL REFERENCES tariff_versions (version_id),
    payer_id      text NOT NULL,
    billing_code  text NOT NULL,
    amount        numeric(14, 2) NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (version_id, payer_id, billing_code)
);

-- Plans named in payer files (TiC reporting_plans); informational.
CREATE TABLE payer_file_plans (
    version_id        bigint NOT NULL REFERENCES tariff_versions (version_id),
    payer_id          text NOT NULL,
    plan_name         text NOT NULL,
    plan_id           text,
    plan_id_type      text,
    plan_market_type  text
);

CREATE TABLE poverty_guidelines (
    year                   integer NOT NULL,
    region                 text NOT NULL CHECK (region IN ('48', 'AK', 'HI')),
    base                   numeric(12, 2) NOT NULL,
    per_additional_person  numeric(12, 2) NOT NULL,
    PRIMARY KEY (year, region)
);
INSERT INTO poverty_guidelines (year, region, base, per_additional_person) VALUES
    (2025, '48', 15650, 5500), (2025, 'AK', 19550, 6880), (2025, 'HI', 17990, 6330),
    (2026, '48', 15960, 5680), (2026, 'AK', 19950, 7100), (2026, 'HI', 18360, 6530);

-- program_id NULL is the service-wide default (used when a program has no policy).
CREATE TABLE sliding_scale_policies (
    program_id  text UNIQUE REFERENCES programs (program_id),
    tiers       jsonb NOT NULL,         -- [{"name","max_fpl_percent","discount_percent"|"nominal_fee"}]
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payment_plan_policies (
    program_id   text UNIQUE REFERENCES programs (program_id),
    terms        integer[] NOT NULL,
    apr          numeric(6, 3) NOT NULL DEFAULT 0,
    min_monthly  numeric(12, 2) NOT NULL DEFAULT 25.00,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- An estimate is stored as its own id and time plus a reference to its priced
-- document.  Documents are content-addressed (SHA-256 of the document after its id
-- and time): the locator asks the same questions many times, and each distinct
-- answer is stored once instead of a few KB of identical JSON per request.
-- GET /v1/estimates/{id} rebuilds exactly the bytes that were returned.
CREATE TABLE estimate_documents (
    digest      bytea PRIMARY KEY,
    tail        text NOT NULL,   -- the JSON document after `{"estimate_id":…,"created_at":…`
    created_at  timestamptz NOT NULL DEFAULT now()
)
-- A few KB each: keep them inline and uncompressed (pglz on every row cost more
-- CPU than the INSERT itself).
WITH (toast_tuple_target = 8160);

CREATE TABLE estimates (
    estimate_id    uuid PRIMARY KEY,    -- UUIDv7: time-ordered
    created_at     timestamptz NOT NULL,
    program_id     text NOT NULL,
    level_of_care  text NOT NULL,
    digest         bytea NOT NULL REFERENCES estimate_documents (digest)
);
