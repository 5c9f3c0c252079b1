-- Checkpoint folders of a run, one per saved epoch; written after the epoch's metric row.
CREATE TABLE checkpoints (
    run_id        BIGINT  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch         BIGINT  NOT NULL,
    step          BIGINT  NOT NULL,
    path          TEXT    NOT NULL,
    created_at_ms BIGINT  NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
