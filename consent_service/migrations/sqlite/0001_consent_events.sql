-- The audit log: one append-only row per consent event (C19), chained per site (C22).
CREATE TABLE consent_events (
    seq            INTEGER PRIMARY KEY,
    event_id       TEXT    NOT NULL UNIQUE,
    site_id        TEXT    NOT NULL,
    consent_id     TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    choices        TEXT    NOT NULL,
    policy_version TEXT    NOT NULL,
    texts_hash     TEXT    NOT NULL,
    language       TEXT    NOT NULL,
    widget_version TEXT    NOT NULL,
    page           TEXT    NOT NULL,
    ip             TEXT    NOT NULL,
    browser        TEXT    NOT NULL,
    gpc            INTEGER NOT NULL,
    created_at     TEXT    NOT NULL,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL
);
CREATE INDEX consent_events_site_seq ON consent_events (site_id, seq);
CREATE INDEX consent_events_consent ON consent_events (site_id, consent_id, seq);
CREATE INDEX consent_events_site_time ON consent_events (site_id, created_at);

-- Nothing is ever updated in place.
CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'consent_events is append-only');
END;

-- The exact texts a visitor was shown, kept once per distinct texts_hash, so a proof
-- does not depend on today's configuration.
CREATE TABLE consent_texts (
    texts_hash     TEXT PRIMARY KEY,
    site_id        TEXT NOT NULL,
    language       TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    texts          TEXT NOT NULL,
    first_seen     TEXT NOT NULL
);
