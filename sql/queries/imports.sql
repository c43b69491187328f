-- Import records and tariff versions (tariffs/pipeline.py).

-- name: lock_dedupe_key
SELECT pg_advisory_xact_lock(hashtextextended($1, 0));

-- name: find_live_import
-- An earlier import of the same file that succeeded or is still to run.
SELECT import_id, status, version_id FROM imports
WHERE dedupe_key = $1 AND status IN ('queued', 'running', 'succeeded')
ORDER BY (status = 'succeeded') DESC, created_at
LIMIT 1;

-- name: insert_import
INSERT INTO imports (import_id, kind, source, sha256, dedupe_key, options, started_by, path)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: get_import
SELECT import_id, kind, source, sha256, options, status, started_by, created_at, started_at, finished_at,
       rows_read, rows_accepted, rows_rejected, version_id, message
FROM imports WHERE import_id = $1;

-- name: try_lock_import
SELECT pg_try_advisory_lock(hashtextextended($1::uuid::text, 1));

-- name: unlock_import
SELECT pg_advisory_unlock(hashtextextended($1::uuid::text, 1));

-- name: mark_import_running
UPDATE imports SET status = 'running', started_at = now(), message = NULL
WHERE import_id = $1 AND status IN ('queued', 'running', 'failed');

-- name: finish_import
UPDATE imports
SET status = $2, finished_at = clock_timestamp(), rows_read = $3, rows_accepted = $4, rows_rejected = $5,
    version_id = $6, message = $7
WHERE import_id = $1;

-- name: insert_import_errors
INSERT INTO import_errors (import_id, seq, file, line, "column", message)
SELECT $1, s, f, l, c, m FROM unnest($2::int[], $3::text[], $4::bigint[], $5::text[], $6::text[]) AS t(s, f, l, c, m)
ON CONFLICT (import_id, seq) DO NOTHING;

-- name: delete_import_errors
DELETE FROM import_errors WHERE import_id = $1;

-- name: insert_version
INSERT INTO tariff_versions (kind, import_id) VALUES ($1, $2) RETURNING version_id;

-- name: activate_version
UPDATE tariff_versions SET activated_at = clock_timestamp() WHERE version_id = $1 RETURNING version_id;

-- name: notify_tariffs_changed
SELECT pg_notify('tariffs_changed', $1::text);

-- name: upsert_programs
INSERT INTO programs (program_id, name, state, npi, tin)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
ON CONFLICT (program_id) DO UPDATE
SET name = EXCLUDED.name, state = EXCLUDED.state,
    npi = COALESCE(EXCLUDED.npi, programs.npi), tin = COALESCE(EXCLUDED.tin, programs.tin), updated_at = now()
-- An unchanged program is not rewritten: re-importing a schedule of 100,000 programs
-- would otherwise write 100,000 new row versions for nothing.
WHERE (programs.name, programs.state, programs.npi, programs.tin)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.state, COALESCE(EXCLUDED.npi, programs.npi),
                        COALESCE(EXCLUDED.tin, programs.tin));

-- name: upsert_payers
INSERT INTO payers (payer_id, name)
SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT (payer_id) DO UPDATE SET name = EXCLUDED.name, updated_at = now();

-- name: program_identifiers
SELECT program_id, npi, tin FROM programs;

-- name: priced_billing_codes
SELECT DISTINCT f.billing_code
FROM fee_lines f
JOIN current_tariff_versions c
  ON c.scope = 'fee' AND c.version_id = f.version_id AND c.key1 = f.program_id AND c.key2 = f.level_of_care;

-- name: known_payers
SELECT payer_id, name FROM payers;

-- name: program_exists
SELECT EXISTS (SELECT 1 FROM programs WHERE program_id = $1);

-- name: program_current_fee_lines
-- The level and frequency of each code a program bills now (HPT files are placed in them).
SELECT f.level_of_care, f.billing_code, f.frequency
FROM fee_lines f
JOIN current_tariff_versions c
  ON c.scope = 'fee' AND c.version_id = f.version_id AND c.key1 = f.program_id AND c.key2 = f.level_of_care
WHERE f.program_id = $1;

-- name: import_errors_head
SELECT file, line, "column", message FROM import_errors WHERE import_id = $1 ORDER BY seq LIMIT $2;
