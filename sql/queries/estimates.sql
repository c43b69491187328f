-- Estimates and their content-addressed documents (costsvc/services/estimates.py).

-- name: insert_estimates
-- $1-$2: documents not yet known to be stored (may be empty); $3-$7: the estimates.
WITH documents AS (
    INSERT INTO estimate_documents (digest, tail)
    SELECT * FROM unnest($1::bytea[], $2::text[])
    ON CONFLICT (digest) DO NOTHING
)
INSERT INTO estimates (estimate_id, created_at, program_id, level_of_care, digest)
SELECT * FROM unnest($3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::bytea[]);

-- name: get_estimate
SELECT e.estimate_id, e.created_at, d.tail
FROM estimates e JOIN estimate_documents d USING (digest)
WHERE e.estimate_id = $1;
