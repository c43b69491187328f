-- Where an import's file is, and how often a stuck import was re-enqueued
-- (docs/JOBS.md, "Stuck imports").
--
-- path: the file the job reads — the stored upload (<data_dir>/uploads/<import_id>/<name>),
-- the server-side source path, or the refresh's source file; absolute.  The job's task
-- message carries it too, but a message can be lost (the API died between its commit and
-- the publish; an eager import died with its process): the stale-import sweep re-enqueues
-- from this column.  NULL for imports recorded before this migration.
ALTER TABLE imports ADD COLUMN path text;
-- When the sweep (or a new upload of the same file) last re-enqueued a stuck import, and
-- how many times: a re-enqueued import gets the same grace period as a new one, and one
-- that never finishes is given up on after COSTSVC_STALE_IMPORT_MAX_REQUEUES attempts.
ALTER TABLE imports ADD COLUMN requeued_at timestamptz;
ALTER TABLE imports ADD COLUMN requeue_count integer NOT NULL DEFAULT 0;
-- The sweep reads the unfinished imports only.
CREATE INDEX imports_unfinished ON imports (created_at) WHERE status IN ('queued', 'running');
