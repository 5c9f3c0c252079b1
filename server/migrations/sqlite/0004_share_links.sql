-- Share links: a frozen snapshot of a result page behind a random token. Only the token's
-- SHA-256 is stored, so a copy of the database cannot open any link.
CREATE TABLE share_links (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL,
    target_id     INTEGER NOT NULL,
    title         TEXT    NOT NULL,
    snapshot      TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER,
    revoked_at_ms INTEGER
);
