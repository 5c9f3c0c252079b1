-- The dataset registry (#25): each registered name's versions, immutable once written. The data
-- itself is a cache file named by its SHA-256 under <data dir>/datasets/; `info` is the
-- DatasetInfo JSON (shape, classes, per-class counts, normalisation statistics, source).
CREATE TABLE datasets (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    hash          TEXT    NOT NULL,
    info          TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    UNIQUE (name, version),
    UNIQUE (name, hash)
);
