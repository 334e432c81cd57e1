-- Scan reports (issue 20): each stored whole, signed by the log key, and recorded in the
-- site's audit log by a row of action 'scan' whose detail carries the report's SHA-256.
CREATE TABLE scan_reports (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id    text        NOT NULL,
    created_at timestamptz NOT NULL,
    seq        bigint,                 -- the audit row that records it; NULL until appended
    sha256     text        NOT NULL,   -- of the report's canonical JSON
    summary    text        NOT NULL,   -- JSON object: what the audit row's detail holds
    report     text        NOT NULL,   -- the report's canonical JSON
    signature  text        NOT NULL    -- signed-note signature line over the report's statement
);
CREATE INDEX scan_reports_site ON scan_reports (site_id, id);
