-- Benefits verifications (docs/VERIFICATION.md), their audit trail, and the
-- notification that makes a revoked API key fail at once in every API process.
--
-- PHI never lands here in the clear: member ids, patient names and dates of birth,
-- staff notes and (when kept) the raw 271 are Fernet tokens (costsvc/phi.py);
-- member_id_hash is an HMAC-SHA256 of the normalized member id, the only way a
-- member is looked up.  Everything else on a row is plan data, not PHI.
CREATE TABLE verifications (
    verification_id     uuid PRIMARY KEY,          -- UUIDv7: time-ordered
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by_key      uuid REFERENCES api_keys (key_id),
    source              text NOT NULL CHECK (source IN ('phone', 'portal', 'x12_271')),
    status              text NOT NULL CHECK (status IN ('active', 'inactive')),
    as_of               date NOT NULL,
    plan_id             text,
    payer_name          text,
    plan_name           text,
    relationship        text,
    reference           text,
    verified_by         text,
    member_id_enc       bytea NOT NULL,
    member_id_hash      bytea NOT NULL,
    patient_enc         bytea,                     -- {"name", "date_of_birth"} as JSON
    notes_enc           bytea,
    x12_enc             bytea,                     -- only with COSTSVC_KEEP_X12=1
    benefits            jsonb NOT NULL,            -- verified fields only
    accumulators        jsonb NOT NULL,            -- clamped to the effective maximums
    effective_benefits  jsonb NOT NULL,            -- snapshot at creation
    discrepancies       jsonb NOT NULL DEFAULT '[]'::jsonb,
    parity_flags        jsonb NOT NULL DEFAULT '[]'::jsonb,
    unmapped            jsonb NOT NULL DEFAULT '[]'::jsonb,
    warnings            jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX verifications_member ON verifications (member_id_hash, created_at DESC);
CREATE INDEX verifications_created ON verifications (created_at DESC, verification_id DESC);
CREATE INDEX verifications_plan ON verifications (plan_id, created_at DESC);

-- Who read, wrote or revealed which verification, when, from where.  No PHI.
CREATE TABLE verification_audit (
    audit_id         bigserial PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    key_id           uuid NOT NULL,
    key_name         text NOT NULL,
    action           text NOT NULL CHECK (action IN ('create', 'read', 'list', 'search', 'reveal', 'price')),
    verification_id  uuid,
    client_address   text
);
CREATE INDEX verification_audit_at ON verification_audit (at DESC, audit_id DESC);
CREATE INDEX verification_audit_key ON verification_audit (key_id, at DESC);

-- Append-only, whatever the client: no route changes or deletes audit records, and
-- the database refuses it too (a trigger catches UPDATE and DELETE, row by row;
-- TRUNCATE has its own statement trigger).
CREATE FUNCTION verification_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'verification_audit is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER verification_audit_no_update_delete
    BEFORE UPDATE OR DELETE ON verification_audit
    FOR EACH ROW EXECUTE FUNCTION verification_audit_append_only();
CREATE TRIGGER verification_audit_no_truncate
    BEFORE TRUNCATE ON verification_audit
    FOR EACH STATEMENT EXECUTE FUNCTION verification_audit_append_only();

-- Revocation, announced whoever revokes (CLI, SQL, a future route): every API process
-- LISTENs on api_key_revoked and drops that key from its cache (costsvc/auth.py).
-- The payload is the key's SHA-256, which is what the caches are keyed by.
CREATE FUNCTION api_key_revoked_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('api_key_revoked', NEW.key_hash);
    RETURN NEW;
END
$$;
CREATE TRIGGER api_key_revoked_notify
    AFTER UPDATE OF revoked_at ON api_keys
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION api_key_revoked_notify();
