-- The demo dataset (costsvc/demo).

-- name: demo_program_ids
SELECT program_id FROM programs;
