-- The `noop` import status and `noop_of` were never written: a file imported again
-- (same kind, content and scope) is answered with the earlier import instead
-- (costsvc.staging.pipeline.create_import), so nothing records a no-op.
ALTER TABLE imports DROP CONSTRAINT imports_status_check;
ALTER TABLE imports ADD CONSTRAINT imports_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'rejected', 'failed'));
ALTER TABLE imports DROP COLUMN noop_of;
