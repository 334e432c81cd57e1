-- The privacy officer's side: admin tokens, the access log, and purge checkpoints.

-- Extra facts of a non-consent row (a purge checkpoint, C21), as JSON; NULL on
-- consent rows, and hashed only when not NULL, so every existing hash stays valid.
ALTER TABLE consent_events ADD COLUMN detail TEXT;
CREATE INDEX consent_events_action ON consent_events (action, site_id, seq);

-- Bearer tokens for the admin API: only a SHA-256 of each token is kept.
CREATE TABLE admin_tokens (
    token_id   TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('officer', 'viewer')),
    sites      TEXT NOT NULL,   -- JSON array of site ids
    label      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- Who read what, when (C23, GDPR art. 30): every lookup, export, stats and verify.
CREATE TABLE admin_access_log (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    token_id TEXT NOT NULL,
    role     TEXT NOT NULL,
    site_id  TEXT,
    action   TEXT NOT NULL,
    detail   TEXT NOT NULL      -- JSON object: the query (consent ID, period, format, rows)
);
CREATE INDEX admin_access_log_site ON admin_access_log (site_id, id);
