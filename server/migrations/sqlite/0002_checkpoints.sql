-- Checkpoint folders of a run, one per saved epoch; written after the epoch's metric row.
CREATE TABLE checkpoints (
    run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch         INTEGER NOT NULL,
    step          INTEGER NOT NULL,
    path          TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
