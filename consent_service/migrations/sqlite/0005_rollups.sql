-- Daily rollups of each site's decisions, so the officer's dashboard reads a few rows a
-- day instead of every audit row (store/rollups.py says what each dimension counts).
-- Derived data, like chain_heads: the append and the purge keep it in their own
-- transactions, `consent-service stats rebuild` recomputes it, and verify never reads it.
--   dim     'action' (key: the action; decisions and withdrawals), 'gpc' (decisions with
--           the GPC signal), 'choices' (per distinct choices JSON), 'language', 'policy',
--           'browser' (key, per distinct choices), 'page' (key: the page; the first
--           store.rollups.PAGES_PER_DAY distinct pages of a day by name, later ones as
--           '(other)')
--   choices the row's choices JSON, or '' where the dimension does not split by it
-- dim comes before day in the key: each read takes one dimension's days as one range.
CREATE TABLE consent_rollups (
    site_id TEXT    NOT NULL,
    day     TEXT    NOT NULL,   -- UTC date, YYYY-MM-DD
    dim     TEXT    NOT NULL,
    key     TEXT    NOT NULL,
    choices TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (site_id, dim, day, key, choices)
) WITHOUT ROWID;
-- The period's sums per language, policy, browser and page (GROUP BY key) read this
-- covering index in key order, never a row of the table, and need no sort to group.
CREATE INDEX consent_rollups_by_key ON consent_rollups (site_id, dim, key, choices, day, n);
-- Built once for the rows already there, right after this migration, by the store
-- (store/rollups_sql.py: the same statement as `consent-service stats rebuild`).
