"""Build the Merkle trees of a log written before they existed, once, after migrating.

Each site's rows become leaves in ``seq`` order from 0: the rows purged before the
tree existed are not in it (the chain and its checkpoints still account for them).
Each row gets its ``leaf_index``, the tiles and the head are written, and the head is
signed when the store has a signer. It runs in one transaction with the append-only
trigger lifted for that one column's fill, and records itself in ``schema_migrations``
like a migration, so it runs exactly once; appends wait for it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from consent_service.audit.chain import row_leaf
from consent_service.audit.events import AuditRow
from consent_service.audit.signing import LogSigner
from consent_service.audit.tiles import Frontier, TreeEdge
from consent_service.store.columns import COLUMNS

log = logging.getLogger(__name__)

#: The ``schema_migrations`` version the build records.
TREE_BUILD = "0004_merkle_tree_build"
#: Rows read and leaf indexes written per round trip.
_PAGE = 2000

Fetch = Callable[[str, Sequence[Any]], Awaitable[Sequence[Sequence[Any]]]]
Many = Callable[[str, Sequence[Sequence[Any]]], Awaitable[None]]


async def build_trees(
    fetch: Fetch,
    many: Many,
    to_row: Callable[[Sequence[Any]], AuditRow],
    signer: LogSigner | None,
) -> int:
    """Inside the caller's transaction (trigger lifted): build every site's tree; the rows."""
    total = 0
    for (site_id,) in await fetch("SELECT site_id FROM chain_heads ORDER BY site_id", ()):
        edge = TreeEdge(Frontier(), {})
        after = -1
        while True:
            page = await fetch(
                f"SELECT {COLUMNS} FROM consent_events WHERE site_id = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (site_id, after, _PAGE),
            )
            if not page:
                break
            fills = []
            for raw in page:
                row = to_row(raw)
                fills.append((edge.size, site_id, row.seq))
                edge.append(row_leaf(row))
                after = row.seq
            await many(
                "UPDATE consent_events SET leaf_index = ? WHERE site_id = ? AND seq = ?", fills
            )
            await _write_tiles(many, site_id, edge)
        await _write_tiles(many, site_id, edge)
        note = None
        if signer is not None and edge.size:
            note = signer.sign(site_id, edge.size, edge.frontier.root())
        await many(
            "UPDATE chain_heads SET size = ?, frontier = ?, note = ? WHERE site_id = ?",
            [(edge.size, edge.frontier.encode(), note, site_id)],
        )
        log.info("built the Merkle tree of %s: %d leaves", site_id, edge.size)
        total += edge.size
    return total


async def _write_tiles(many: Many, site_id: str, edge: TreeEdge) -> None:
    tiles = [(site_id, level, idx, hashes) for level, idx, hashes in edge.flush()]
    if tiles:
        await many(
            "INSERT INTO log_tiles (site_id, level, idx, hashes) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (site_id, level, idx) DO UPDATE SET hashes = excluded.hashes",
            tiles,
        )
