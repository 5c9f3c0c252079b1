-- Where a cluster ran a run: the batch system's job id and the node (#15).
ALTER TABLE runs ADD COLUMN executor_job_id TEXT;
ALTER TABLE runs ADD COLUMN executor_node TEXT;
