-- Import jobs and the scheduled refresh (jobs/tasks.py, jobs/refresh.py).

-- name: jobs_mark_import_failed
-- A job that gave up (retries exhausted, file gone): the import can be run again later.
UPDATE imports SET status = 'failed', finished_at = now(), message = $2
WHERE import_id = $1 AND status IN ('queued', 'running')
RETURNING import_id;

-- name: jobs_try_lock_refresh
SELECT pg_try_advisory_lock(hashtextextended('costsvc:refresh-tariff-sources', 2));

-- name: jobs_unlock_refresh
SELECT pg_advisory_unlock(hashtextextended('costsvc:refresh-tariff-sources', 2));

-- name: jobs_rejected_before
-- The same file (kind, SHA-256, scope) with the same options was rejected already.
SELECT import_id FROM imports
WHERE dedupe_key = $1 AND status = 'rejected' AND options = $2::jsonb
ORDER BY created_at DESC
LIMIT 1;

-- name: jobs_stale_imports
-- Stuck imports: recorded `queued` or `running`, yet nobody is running them.  Every run
-- holds the per-import session advisory lock (try_lock_import) from before it marks the
-- import `running` until its outcome is committed, so a free lock means no process is on
-- it.  A `running` import with a free lock is dead (its process or connection died); a
-- `queued` one is also given $1 seconds since it was recorded or last re-enqueued
-- (COSTSVC_STALE_IMPORT_SECONDS): younger ones are most likely still waiting in the broker.
-- The lock is tried and released at once (same session, same statement), per candidate
-- only.  $2: one import, or NULL for all; $3: at most this many.
WITH candidates AS MATERIALIZED (
    SELECT import_id, kind, source, sha256, path, status, created_at, started_at, requeued_at, requeue_count
    FROM imports
    WHERE status IN ('queued', 'running')
      AND (status = 'running' OR COALESCE(requeued_at, created_at) < now() - make_interval(secs => $1::float8))
      AND ($2::uuid IS NULL OR import_id = $2::uuid)
    ORDER BY created_at
    LIMIT $3
)
SELECT c.*
FROM candidates c
WHERE CASE WHEN pg_try_advisory_lock(hashtextextended(c.import_id::text, 1))
           THEN pg_advisory_unlock(hashtextextended(c.import_id::text, 1))
           ELSE false END
ORDER BY c.created_at;

-- name: jobs_requeue_stale_import
-- Hand a stuck import back to the queue (the caller holds its per-import lock): `queued`
-- again, with the path the job will read.  The staleness test is repeated so that two
-- revivers (a sweep and a new upload of the same file) re-enqueue it once.
UPDATE imports
SET status = 'queued', path = $3, requeued_at = now(), requeue_count = requeue_count + 1, message = $4
WHERE import_id = $1 AND status IN ('queued', 'running')
  AND (status = 'running' OR COALESCE(requeued_at, created_at) < now() - make_interval(secs => $2::float8))
RETURNING import_id;

-- name: jobs_fail_stale_import
-- A stuck import that cannot be run again (its file is gone or changed, or it was
-- re-enqueued too often): `failed`, so the same file sent again makes a new import.
UPDATE imports SET status = 'failed', finished_at = now(), message = $3
WHERE import_id = $1 AND status IN ('queued', 'running')
  AND (status = 'running' OR COALESCE(requeued_at, created_at) < now() - make_interval(secs => $2::float8))
RETURNING import_id;

-- name: jobs_try_lock_sweep
SELECT pg_try_advisory_lock(hashtextextended('costsvc:requeue-stale-imports', 2));

-- name: jobs_unlock_sweep
SELECT pg_advisory_unlock(hashtextextended('costsvc:requeue-stale-imports', 2));

-- name: jobs_known_file_hash
-- The SHA-256 recorded for a source file, if its size and mtime have not changed since.
SELECT sha256 FROM source_file_hashes WHERE path = $1 AND size = $2 AND mtime_ns = $3;

-- name: jobs_record_file_hash
INSERT INTO source_file_hashes (path, size, mtime_ns, sha256) VALUES ($1, $2, $3, $4)
ON CONFLICT (path) DO UPDATE
SET size = EXCLUDED.size, mtime_ns = EXCLUDED.mtime_ns, sha256 = EXCLUDED.sha256, hashed_at = now();
