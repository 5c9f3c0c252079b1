-- Loss-landscape jobs: queued like runs, computed once, and kept (the result JSON) so that a
-- finished landscape reopens instantly.
CREATE TABLE landscapes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    source_kind     TEXT    NOT NULL CHECK (source_kind IN ('run', 'sweep')),
    source_id       INTEGER NOT NULL,
    spec            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    phase           TEXT,
    done            INTEGER NOT NULL DEFAULT 0,
    total           INTEGER NOT NULL DEFAULT 0,
    message         TEXT,
    result          TEXT,
    created_at_ms   INTEGER NOT NULL,
    finished_at_ms  INTEGER
);
CREATE INDEX landscapes_by_status ON landscapes (status, id);
CREATE INDEX landscapes_by_source ON landscapes (source_kind, source_id);
