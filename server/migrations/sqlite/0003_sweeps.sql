-- Decay sweeps: a main run and its branches. A branch of a network run waits for its
-- parent's checkpoint at `wait_epoch`; toy branches replay the main path, so they never wait.
CREATE TABLE sweeps (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    spec          TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL
);
ALTER TABLE runs ADD COLUMN sweep_id INTEGER REFERENCES sweeps (id);
ALTER TABLE runs ADD COLUMN wait_epoch INTEGER;
CREATE INDEX runs_sweep ON runs (sweep_id, id);
