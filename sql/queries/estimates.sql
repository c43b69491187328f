-- name: insert_estimates
INSERT INTO estimates (estimate_id, program_id, level_of_care, body)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::json[]);

-- name: get_estimate
SELECT body::text FROM estimates WHERE estimate_id = $1;
