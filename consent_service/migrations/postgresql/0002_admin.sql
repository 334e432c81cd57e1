-- The privacy officer's side on PostgreSQL: mirrors migrations/sqlite/0002_admin.sql.

-- Extra facts of a non-consent row (a purge checkpoint, C21), as canonical JSON text;
-- NULL on consent rows, and hashed only when not NULL, so every existing hash stays valid.
ALTER TABLE consent_events ADD COLUMN detail text;
CREATE INDEX consent_events_action ON consent_events (action, site_id, seq);

-- Bearer tokens for the admin API: only a SHA-256 of each token is kept.
CREATE TABLE admin_tokens (
    token_id   text        PRIMARY KEY,
    token_hash text        NOT NULL,
    role       text        NOT NULL CHECK (role IN ('officer', 'viewer')),
    sites      text        NOT NULL,   -- JSON array of site ids
    label      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- Who read what, when (C23, GDPR art. 30): every lookup, export, stats and verify.
CREATE TABLE admin_access_log (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL,
    token_id text        NOT NULL,
    role     text        NOT NULL,
    site_id  text,
    action   text        NOT NULL,
    detail   text        NOT NULL      -- JSON object: the query (consent ID, period, format, rows)
);
CREATE INDEX admin_access_log_site ON admin_access_log (site_id, id);
