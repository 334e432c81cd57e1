-- Daily rollups of each site's decisions: mirrors migrations/sqlite/0005_rollups.sql
-- (the dimensions are described there and in store/rollups.py). Derived data: the
-- append (one statement per batch, a CTE beside the rows) and the purge keep it in
-- their transactions; `consent-service stats rebuild` recomputes it.
CREATE TABLE consent_rollups (
    site_id text   NOT NULL,
    day     date   NOT NULL,   -- UTC date
    dim     text   NOT NULL,
    key     text   NOT NULL,
    choices text   NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (site_id, dim, day, key, choices)
);
-- The period's sums per language, policy, browser and page (GROUP BY key) read this
-- covering index in key order.
CREATE INDEX consent_rollups_by_key ON consent_rollups (site_id, dim, key, choices, day, n);
