-- Good Faith Estimates (costsvc/services/documents.py).

-- name: insert_gfe
INSERT INTO gfes (gfe_id, estimate_id, issued_at, issued_on, valid_until, requested_by, program_id,
                  level_of_care, total_expected_charges, deadline, deadline_met, content, phi)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb, $13);

-- name: get_gfe
SELECT content::text AS content, phi FROM gfes WHERE gfe_id = $1;

-- name: list_gfes
-- Issued on $1..$2 (inclusive), after the keyset cursor ($3 issued_at, $4 gfe_id; NULL: from the start).
SELECT gfe_id, estimate_id, issued_at, issued_on, valid_until, requested_by, program_id, level_of_care,
       total_expected_charges, deadline, deadline_met
FROM gfes
WHERE issued_on BETWEEN $1 AND $2
  AND ($3::timestamptz IS NULL OR (issued_at, gfe_id) > ($3, $4))
ORDER BY issued_at, gfe_id
LIMIT $5;

-- name: gfe_phi_batch
-- PHI rotation (costsvc/services/phi_rotation.py): the next batch, locked.
SELECT gfe_id, phi FROM gfes
WHERE $1::text IS NULL OR gfe_id > $1
ORDER BY gfe_id LIMIT $2
FOR UPDATE;

-- name: gfe_phi_update
UPDATE gfes g SET phi = u.phi
FROM unnest($1::text[], $2::bytea[]) AS u (gfe_id, phi)
WHERE g.gfe_id = u.gfe_id;
