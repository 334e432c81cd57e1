"""What both stores do to a site's Merkle tree inside an append's transaction.

Read each site's frontier and the last tile of each level, append the batch's leaves,
then write the tiles that grew and the new head, signed when the store has a signer.
The caller holds the site's write lock (SQLite's one writer, PostgreSQL's row lock on
``chain_heads``), so the tree grows exactly as the chain does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from consent_service.audit.chain import row_leaf
from consent_service.audit.events import AuditRow
from consent_service.audit.signing import LogSigner
from consent_service.audit.tiles import (
    Frontier,
    TileKey,
    TileTree,
    TreeEdge,
    edge_keys,
    prefix_range,
    prefix_tiles,
)


@dataclass(frozen=True)
class NewHead:
    """A site's head after a batch: the chain's newest row and the tree's new state."""

    site_id: str
    seq: int
    hash: str
    size: int
    frontier: bytes
    note: str | None


def edge_tiles_where(sizes: Mapping[str, int]) -> tuple[str, list[Any]]:
    """The ``WHERE`` selecting, for each site, the tiles an append extends; its arguments."""
    return tiles_where([(site, key) for site, size in sizes.items() for key in edge_keys(size)])


def tiles_where(keys: Sequence[tuple[str, TileKey]]) -> tuple[str, list[Any]]:
    """The ``WHERE`` selecting the tiles ``keys`` name (``?`` placeholders); its arguments."""
    if not keys:
        return "0 = 1", []
    terms = ["(site_id = ? AND level = ? AND idx = ?)"] * len(keys)
    return " OR ".join(terms), [v for site, (level, idx) in keys for v in (site, level, idx)]


def prefix_tiles_where(site_id: str, size: int) -> tuple[str, list[Any]]:
    """The ``WHERE`` selecting the tiles the compact range ``[0, size)`` is read from."""
    return tiles_where([(site_id, key) for key in sorted(prefix_tiles(size))])


def prefix_hashes(size: int, tiles: Sequence[Sequence[Any]]) -> list[str]:
    """The compact range ``[0, size)`` (hex, largest subtree first) from the tiles read."""
    found = {(int(level), int(idx)): bytes(hashes) for _, level, idx, hashes in tiles}
    return [h.hex() for h in prefix_range(TileTree(size, found), size)]


def open_edges(
    heads: Mapping[str, tuple[int, bytes]], tiles: Sequence[Sequence[Any]]
) -> dict[str, TreeEdge]:
    """Each site's :class:`TreeEdge` from its ``(size, frontier)`` and the tiles read."""
    found: dict[str, dict[TileKey, bytes]] = {site: {} for site in heads}
    for site_id, level, idx, hashes in tiles:
        found[site_id][int(level), int(idx)] = bytes(hashes)
    return {
        site: TreeEdge(Frontier.decode(size, bytes(frontier)), found[site])
        for site, (size, frontier) in heads.items()
    }


def grow(
    edges: Mapping[str, TreeEdge], rows: Sequence[AuditRow], signer: LogSigner | None
) -> tuple[list[NewHead], list[tuple[str, int, int, bytes]]]:
    """Append ``rows``' leaves; the sites' new heads and the tiles to write."""
    newest: dict[str, AuditRow] = {}
    for row in rows:
        edge = edges[row.site_id]
        if row.leaf_index != edge.size:
            raise ValueError(f"row {row.seq} is not the next leaf of {row.site_id}'s tree")
        edge.append(row_leaf(row))
        newest[row.site_id] = row
    heads, tiles = [], []
    for site_id, row in newest.items():
        edge = edges[site_id]
        root = edge.frontier.root()
        note = None if signer is None else signer.sign(site_id, edge.size, root)
        heads.append(NewHead(site_id, row.seq, row.hash, edge.size, edge.frontier.encode(), note))
        tiles += [(site_id, level, idx, hashes) for level, idx, hashes in edge.changed()]
    return heads, tiles
