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

from consent_service.audit.events import AuditRow
from consent_service.audit.heads import HeadError
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
from consent_service.store.base import StoreError


@dataclass(frozen=True)
class NewHead:
    """A site's head after a batch: the chain's newest row and the tree's new state."""

    site_id: str
    seq: int
    hash: str
    size: int
    frontier: bytes
    note: str | None


#: Read the tiles a ``WHERE`` from :func:`tiles_where` names (``?`` placeholders).
TILES_SQL = "SELECT site_id, level, idx, hashes FROM log_tiles WHERE {}"


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
    heads: Mapping[str, tuple[int, bytes, str | None]],
    tiles: Sequence[Sequence[Any]],
    guard: HeadGuard | None = None,
    signer: LogSigner | None = None,
) -> dict[str, TreeEdge]:
    """Each site's :class:`TreeEdge` from its ``(size, frontier, note)`` and the tiles read;
    with a ``signer``, each checked by ``guard`` to be the tree the log signed."""
    found: dict[str, dict[TileKey, bytes]] = {site: {} for site in heads}
    for site_id, level, idx, hashes in tiles:
        found[site_id][int(level), int(idx)] = bytes(hashes)
    edges = {}
    for site, (size, frontier, note) in heads.items():
        edges[site] = edge = TreeEdge(Frontier.decode(size, bytes(frontier)), found[site])
        if guard is not None and signer is not None:
            guard.check(site, edge, note, signer)
    return edges


class UnsignedTree(StoreError):
    """A site's stored tree has grown past its newest signed head: rows were appended
    without the log key. The store refuses to sign over them (and so to append)."""


class HeadGuard:
    """Checks, before a batch extends a site's tree, that the tree is the signed one.

    Otherwise an insider could insert a row, update ``chain_heads`` to match, and have
    the service's next signature cover it. The tree state this store last signed is
    remembered; any other state (another replica's, or after a restart) must carry a
    signed head that verifies and names exactly that size and root.
    """

    def __init__(self) -> None:
        self._signed: dict[str, tuple[int, bytes]] = {}

    def check(self, site_id: str, edge: TreeEdge, note: str | None, signer: LogSigner) -> None:
        """Raise :class:`UnsignedTree` unless ``edge`` is the site's newest signed tree."""
        state = (edge.size, edge.frontier.encode())
        if edge.size == 0 or self._signed.get(site_id) == state:
            return
        if note is None:
            raise UnsignedTree(f"the tree of {site_id} ({edge.size} leaves) has no signed head")
        try:
            head = signer.verify(site_id, note).checkpoint
        except HeadError as exc:
            raise UnsignedTree(f"the signed head of {site_id} does not verify: {exc}") from None
        if head.size != edge.size or head.root_hash != edge.frontier.root():
            raise UnsignedTree(
                f"the tree of {site_id} has {edge.size} leaves, its signed head {head.size}: "
                "rows were appended without the log key; refusing to sign over them"
            )
        self._signed[site_id] = state

    def signed(self, head: NewHead) -> None:
        """Remember the state this store just signed."""
        self._signed[head.site_id] = (head.size, head.frontier)


def grow(
    edges: Mapping[str, TreeEdge],
    rows: Sequence[AuditRow],
    leaves: Sequence[bytes],
    signer: LogSigner | None,
    guard: HeadGuard | None = None,
) -> tuple[list[NewHead], list[tuple[str, int, int, bytes]]]:
    """Append ``rows``' ``leaves``; the sites' new heads (signed, and remembered by
    ``guard``, when there is a ``signer``) and the tiles to write."""
    newest: dict[str, AuditRow] = {}
    for row, leaf in zip(rows, leaves, strict=True):
        edge = edges[row.site_id]
        if row.leaf_index != edge.size:
            raise ValueError(f"row {row.seq} is not the next leaf of {row.site_id}'s tree")
        edge.append(leaf)
        newest[row.site_id] = row
    heads, tiles = [], []
    for site_id, row in newest.items():
        edge = edges[site_id]
        root = edge.frontier.root()
        note = None if signer is None else signer.sign(site_id, edge.size, root)
        head = NewHead(site_id, row.seq, row.hash, edge.size, edge.frontier.encode(), note)
        if guard is not None and note is not None:
            # Before the commit: if it fails, the next batch finds the older state and
            # checks its signed head instead (the slow path), so this is never too trusting.
            guard.signed(head)
        heads.append(head)
        tiles += [(site_id, level, idx, hashes) for level, idx, hashes in edge.changed()]
    return heads, tiles
