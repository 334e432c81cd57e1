-- The head of each site's chain, as PostgreSQL keeps it: the seq and hash of its
-- newest row. Appends chain after this hash and number after the largest seq it
-- holds, not after the rows that happen to remain, so cutting a chain's newest rows
-- neither lets the next row reuse a cut seq nor hides the cut: the next row names the
-- cut row as prev_hash, and verify compares each site's newest row with this table.
CREATE TABLE chain_heads (
    site_id TEXT    PRIMARY KEY,
    seq     INTEGER NOT NULL,
    hash    TEXT    NOT NULL
);

INSERT INTO chain_heads (site_id, seq, hash)
SELECT e.site_id, e.seq, e.hash
FROM consent_events e
WHERE e.seq = (SELECT MAX(seq) FROM consent_events WHERE site_id = e.site_id);
