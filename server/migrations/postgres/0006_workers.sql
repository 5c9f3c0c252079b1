-- Where a run is trained (#15): the executor that ran it and, for an out-of-process worker,
-- the SHA-256 of the job's own token (never the token), and how many of the job's events the
-- server has stored (the ingest API is idempotent on the worker's event seq).
ALTER TABLE runs ADD COLUMN executor TEXT;
ALTER TABLE runs ADD COLUMN worker_token_hash TEXT;
ALTER TABLE runs ADD COLUMN worker_acked BIGINT NOT NULL DEFAULT 0;
