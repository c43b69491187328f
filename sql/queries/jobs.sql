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
