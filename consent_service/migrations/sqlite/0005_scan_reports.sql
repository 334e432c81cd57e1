-- Scan reports (issue 20): each stored whole, signed by the log key, and recorded in the
-- site's audit log by a row of action 'scan' whose detail carries the report's SHA-256.
CREATE TABLE scan_reports (
    id         INTEGER PRIMARY KEY,
    site_id    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seq        INTEGER,            -- the audit row that records it; NULL until appended
    sha256     TEXT NOT NULL,      -- of the report's canonical JSON
    summary    TEXT NOT NULL,      -- JSON object: what the audit row's detail holds
    report     TEXT NOT NULL,      -- the report's canonical JSON
    signature  TEXT NOT NULL       -- signed-note signature line over the report's statement
);
CREATE INDEX scan_reports_site ON scan_reports (site_id, id);
