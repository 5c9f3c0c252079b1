-- Runs and their event log. Portable SQL (SQLite and Postgres); times are ms since the epoch.
CREATE TABLE runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL,
    spec           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    message        TEXT,
    backend        TEXT,
    device         TEXT,
    parent_id      INTEGER REFERENCES runs (id),
    branch_step    INTEGER,
    created_at_ms  INTEGER NOT NULL,
    started_at_ms  INTEGER,
    finished_at_ms INTEGER,
    heartbeat_ms   INTEGER
);
CREATE INDEX runs_status ON runs (status, id);

-- Every metric row and status change of a run, in order. `seq` is the SSE event id.
CREATE TABLE run_events (
    run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    step          INTEGER,
    data          TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
);
