-- The import API (costsvc/api/imports.py).

-- name: imports_api_list
SELECT i.import_id, i.kind, i.source, i.sha256, i.options, i.status, i.started_by, i.created_at,
       i.started_at, i.finished_at, i.rows_read, i.rows_accepted, i.rows_rejected, i.version_id, i.message,
       v.created_at AS version_created_at, v.activated_at AS version_activated_at,
       cur.version_id IS NOT NULL AS version_current
FROM imports i
LEFT JOIN tariff_versions v ON v.version_id = i.version_id
LEFT JOIN (SELECT DISTINCT version_id FROM current_tariff_versions) cur ON cur.version_id = i.version_id
WHERE ($1::text IS NULL OR i.kind = $1) AND ($2::text IS NULL OR i.status = $2)
ORDER BY i.created_at DESC, i.import_id DESC
LIMIT $3 OFFSET $4;

-- name: imports_api_count
SELECT count(*) FROM imports
WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR status = $2);

-- name: imports_api_get
SELECT i.import_id, i.kind, i.source, i.sha256, i.options, i.status, i.started_by, i.created_at,
       i.started_at, i.finished_at, i.rows_read, i.rows_accepted, i.rows_rejected, i.version_id, i.message,
       v.created_at AS version_created_at, v.activated_at AS version_activated_at,
       EXISTS (SELECT 1 FROM current_tariff_versions c WHERE c.version_id = i.version_id) AS version_current
FROM imports i
LEFT JOIN tariff_versions v ON v.version_id = i.version_id
WHERE i.import_id = $1;

-- name: imports_api_errors
SELECT seq, file, line, "column", message FROM import_errors
WHERE import_id = $1 ORDER BY seq LIMIT $2 OFFSET $3;

-- name: imports_api_error_count
SELECT count(*) FROM import_errors WHERE import_id = $1;
