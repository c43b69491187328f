-- Benefits verifications and their audit trail (costsvc/services/verifications.py).
-- PHI columns hold Fernet tokens; member_id_hash is the keyed lookup hash.

-- name: verif_insert
INSERT INTO verifications (
    verification_id, created_by_key, source, status, as_of, plan_id, payer_name, plan_name,
    relationship, reference, verified_by, member_id_enc, member_id_hash, patient_enc, notes_enc,
    x12_enc, benefits, accumulators, effective_benefits, discrepancies, parity_flags, unmapped, warnings)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
        $17, $18, $19, $20, $21, $22, $23)
RETURNING created_at;

-- name: verif_get
SELECT * FROM verifications WHERE verification_id = $1;

-- name: verif_page
-- Newest first; the cursor is the (created_at, verification_id) of the last row shown.
SELECT * FROM verifications
WHERE ($1::text IS NULL OR plan_id = $1)
  AND ($2::text IS NULL OR status = $2)
  AND ($3::timestamptz IS NULL OR created_at >= $3)
  AND ($4::timestamptz IS NULL OR created_at < $4)
  AND ($5::timestamptz IS NULL OR (created_at, verification_id) < ($5, $6::uuid))
ORDER BY created_at DESC, verification_id DESC
LIMIT $7;

-- name: verif_by_member
-- Through the keyed hash only (an index lookup): rows are never decrypted to search.
SELECT * FROM verifications WHERE member_id_hash = $1
ORDER BY created_at DESC, verification_id DESC
LIMIT $2;

-- name: verif_audit_insert
INSERT INTO verification_audit (key_id, key_name, action, verification_id, client_address)
SELECT $1, $2, $3, v, $5 FROM unnest($4::uuid[]) AS v;

-- name: verif_audit_page
SELECT audit_id, at, key_id, key_name, action, verification_id, client_address
FROM verification_audit
WHERE ($1::timestamptz IS NULL OR at >= $1)
  AND ($2::timestamptz IS NULL OR at < $2)
  AND ($3::uuid IS NULL OR key_id = $3)
  AND ($4::bigint IS NULL OR audit_id < $4)
ORDER BY audit_id DESC
LIMIT $5;

-- name: verif_phi_batch
-- PHI rotation (costsvc phi rotate): one batch of rows, locked, in key order.
SELECT verification_id, member_id_enc, patient_enc, notes_enc, x12_enc
FROM verifications
WHERE ($1::uuid IS NULL OR verification_id > $1)
ORDER BY verification_id
LIMIT $2
FOR UPDATE;

-- name: verif_phi_update
UPDATE verifications AS v
SET member_id_enc = u.member_id_enc, member_id_hash = u.member_id_hash,
    patient_enc = u.patient_enc, notes_enc = u.notes_enc, x12_enc = u.x12_enc
FROM unnest($1::uuid[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[])
     AS u(verification_id, member_id_enc, member_id_hash, patient_enc, notes_enc, x12_enc)
WHERE v.verification_id = u.verification_id;
