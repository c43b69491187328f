-- The migrator (costsvc/db/migrate.py).

-- name: migrations_lock
SELECT pg_advisory_lock($1);

-- name: migrations_unlock
SELECT pg_advisory_unlock($1);

-- name: migrations_create_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: migrations_applied
SELECT version FROM schema_migrations;

-- name: migrations_record
INSERT INTO schema_migrations (version, name) VALUES ($1, $2);
