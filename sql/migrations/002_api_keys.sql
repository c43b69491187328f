-- API keys for the authenticated endpoints (costsvc/auth.py).
--
-- A key is `csk_` + 43 URL-safe characters (32 random bytes).  Only its SHA-256
-- (hex) is stored: a key has 256 bits of entropy, so a fast hash is enough — a slow
-- password hash (bcrypt, argon2) protects low-entropy secrets against guessing,
-- which is not a risk here, and would cost every request.  key_prefix (the first
-- characters of the key) lets people tell their keys apart without storing them.
CREATE TABLE api_keys (
    key_id        uuid PRIMARY KEY,
    key_hash      text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    key_prefix    text NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'staff')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
