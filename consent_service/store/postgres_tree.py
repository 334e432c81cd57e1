"""PostgreSQL's side of the Merkle tree: read the edges, write rows, heads and tiles.

Kept beside :mod:`.postgres` so the store stays readable: the append locks the heads,
this module reads the trees' edges under that lock (:mod:`.tree`), and writes the rows,
the new heads and the tiles that grew in one statement, one round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from consent_service.audit.events import AuditRow
from consent_service.audit.signing import LogSigner
from consent_service.audit.tiles import TreeEdge
from consent_service.store.columns import POSTGRES_TYPES, UNNEST_INSERT, column_arrays
from consent_service.store.rollups import batch_counts, counts_arrays
from consent_service.store.rollups_sql import UPSERT_INSERT, postgres_batch, upsert_ctes
from consent_service.store.sql import numbered
from consent_service.store.tree import (
    TILES_SQL,
    HeadGuard,
    NewHead,
    edge_tiles_where,
    open_edges,
    prefix_hashes,
    prefix_tiles_where,
)
from consent_service.store.tree_build import TREE_BUILD, build_trees

#: The columns of the sites' new heads, and of the tiles that grew, after the rows'.
_HEADS_TYPES = ("text", "bigint", "text", "timestamptz", "bigint", "bytea", "text")
_TILES_TYPES = ("text", "int", "bigint", "bytea")


def _arrays(types: Sequence[str], first: int) -> str:
    return ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, first))


# Rows, the sites' new heads, their trees' tiles and the batch's rollups: one round trip.
_WRITE = (
    f"WITH new_rows AS ({UNNEST_INSERT}), new_heads AS ("
    "UPDATE chain_heads h SET seq = v.seq, hash = v.hash, created_at = v.created_at,"
    " size = v.size, frontier = v.frontier, note = v.note FROM unnest("
    + _arrays(_HEADS_TYPES, len(POSTGRES_TYPES) + 1)
    + ") AS v(site_id, seq, hash, created_at, size, frontier, note) WHERE h.site_id = v.site_id"
    "), new_tiles AS (INSERT INTO log_tiles (site_id, level, idx, hashes) SELECT * FROM unnest("
    + _arrays(_TILES_TYPES, len(POSTGRES_TYPES) + len(_HEADS_TYPES) + 1)
    + ") ON CONFLICT (site_id, level, idx) DO UPDATE SET hashes = excluded.hashes), "
    + upsert_ctes(postgres_batch(len(POSTGRES_TYPES) + len(_HEADS_TYPES) + len(_TILES_TYPES) + 1))
    + f", new_rollups AS ({UPSERT_INSERT}) SELECT 1"
)
#: The trigger of migration 0001, put back after the tree build's one fill of leaf_index.
_APPEND_ONLY = (
    "CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON consent_events "
    "FOR EACH ROW EXECUTE FUNCTION consent_events_refuse_update()"
)


async def open_tree_edges(
    conn: Any, locked: Sequence[Mapping[str, Any]], guard: HeadGuard, signer: LogSigner | None
) -> dict[str, TreeEdge]:
    """The tree edges of the sites whose ``chain_heads`` rows ``locked`` holds, each
    checked by ``guard`` to be the tree the log signed."""
    trees = {r["site_id"]: (r["size"], r["frontier"], r["note"]) for r in locked}
    where, args = edge_tiles_where({site: tree[0] for site, tree in trees.items()})
    tiles = await conn.fetch(numbered(TILES_SQL.format(where)), *args)
    return open_edges(trees, tiles, guard, signer)


async def write_rows(
    conn: Any,
    rows: Sequence[AuditRow],
    heads: Sequence[NewHead],
    tiles: Sequence[tuple[str, int, int, bytes]],
) -> None:
    """Insert ``rows``, update the sites' heads, upsert the tiles and add the rows'
    rollups (:mod:`.rollups`, aggregated here first), in one statement."""
    await conn.execute(
        _WRITE,
        *column_arrays(rows),
        *_heads(heads, rows),
        *_columns(tiles, len(_TILES_TYPES)),
        *counts_arrays(batch_counts(rows)),
    )


async def tree_prefix(conn: Any, site_id: str, size: int) -> list[str]:
    """The compact range of the first ``size`` leaves of the site's tree, from its tiles."""
    where, args = prefix_tiles_where(site_id, size)
    return prefix_hashes(size, await conn.fetch(numbered(TILES_SQL.format(where)), *args))


def _heads(heads: Sequence[NewHead], rows: Sequence[AuditRow]) -> list[list[Any]]:
    last = {r.site_id: r.created_at for r in rows}  # rows are in chain order: the last wins
    values = [
        (h.site_id, h.seq, h.hash, last[h.site_id], h.size, h.frontier, h.note) for h in heads
    ]
    return _columns(values, len(_HEADS_TYPES))


def _columns(values: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows of values as one list per column, for ``unnest``."""
    return [list(column) for column in zip(*values, strict=True)] if values else [[]] * width


async def build_trees_locked(
    conn: Any, to_row: Callable[[Sequence[Any]], AuditRow], signer: LogSigner | None
) -> None:
    """The one-time build of :mod:`.tree_build`, with every site's head locked."""

    async def fetch(sql: str, args: Sequence[Any]) -> Sequence[Sequence[Any]]:
        found: Sequence[Sequence[Any]] = await conn.fetch(numbered(sql), *args)
        return found

    async def many(sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await conn.executemany(numbered(sql), rows)

    async with conn.transaction():
        await conn.execute("SELECT 1 FROM chain_heads FOR UPDATE")
        await conn.execute("DROP TRIGGER IF EXISTS consent_events_append_only ON consent_events")
        await build_trees(fetch, many, to_row, signer)
        await conn.execute(_APPEND_ONLY)
        await conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())",
            TREE_BUILD,
        )
