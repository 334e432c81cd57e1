-- Each site's Merkle tree (RFC 9162) over its rows, and the signed head of that tree.

-- A row's place among its site's leaves; -1 until the tree is built over older rows,
-- which the store does once, right after this migration (store/tree_build.py).
ALTER TABLE consent_events ADD COLUMN leaf_index bigint NOT NULL DEFAULT -1;

-- The head: how many leaves the tree has, its frontier (the compact range of all its
-- leaves, enough to append and to compute the root), and the newest signed head as a
-- C2SP signed note (NULL when no log key signs).
ALTER TABLE chain_heads ADD COLUMN size bigint NOT NULL DEFAULT 0;
ALTER TABLE chain_heads ADD COLUMN frontier bytea NOT NULL DEFAULT '\x';
ALTER TABLE chain_heads ADD COLUMN note text;

-- The tree's hashes for proofs, laid out as c2sp.org/tlog-tiles: tile (level, idx)
-- holds up to 256 hashes of nodes of height 8 * level, concatenated.
CREATE TABLE log_tiles (
    site_id text   NOT NULL,
    level   int    NOT NULL,
    idx     bigint NOT NULL,
    hashes  bytea  NOT NULL,
    PRIMARY KEY (site_id, level, idx)
);
