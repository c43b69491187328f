"""The SQL of costsvc: numbered migrations and named queries (installed as ``costsvc.sql``)."""
