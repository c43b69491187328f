-- API keys (costsvc/auth.py).

-- name: auth_insert_api_key
INSERT INTO api_keys (key_id, key_hash, key_prefix, name, role)
VALUES ($1, $2, $3, $4, $5)
RETURNING created_at;

-- name: auth_use_api_key
-- Look a key up by its hash and stamp its use, in one round trip.
UPDATE api_keys SET last_used_at = now()
WHERE key_hash = $1 AND revoked_at IS NULL
RETURNING key_id, name, role;

-- name: auth_revoke_api_key
-- By key id or by the printed prefix (which must then match one live key only).
UPDATE api_keys SET revoked_at = now()
WHERE revoked_at IS NULL
  AND key_id IN (SELECT key_id FROM api_keys
                 WHERE revoked_at IS NULL AND (key_id::text = $1 OR key_prefix = $1))
  AND (SELECT count(*) FROM api_keys WHERE revoked_at IS NULL AND (key_id::text = $1 OR key_prefix = $1)) = 1
RETURNING key_id, name, role;

-- name: auth_list_api_keys
SELECT key_id, key_prefix, name, role, created_at, last_used_at, revoked_at
FROM api_keys ORDER BY created_at, key_id;
