"""The stored form of a site's Merkle tree: frontier and tiles give what the full tree gives.

Issue 16: proofs from stored subtree hashes, not a rebuild; checked against
:class:`MemoryTree`, which the RFC 9162 vectors of ``test_merkle.py`` pin down.
"""

from __future__ import annotations

import hashlib

import pytest

from consent_service.audit import merkle
from consent_service.audit.tiles import (
    TILE_WIDTH,
    Frontier,
    TileTree,
    TreeEdge,
    edge_keys,
    prefix_range,
    prefix_tiles,
    proof_tiles,
)


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def stored(n: int, batch: int = 37) -> tuple[TreeEdge, dict[tuple[int, int], bytes]]:
    """Grow a tree in batches as a store does, keeping each batch's changed tiles."""
    tiles: dict[tuple[int, int], bytes] = {}
    edge = TreeEdge(Frontier(), {})
    items = leaves(n)
    for start in range(0, n, batch):
        edge = TreeEdge(Frontier.decode(edge.size, edge.frontier.encode()), tiles)
        for leaf in items[start : start + batch]:
            edge.append(leaf)
        tiles.update({(level, idx): hashes for level, idx, hashes in edge.changed()})
    return edge, tiles


@pytest.mark.parametrize("n", [0, 1, 2, 3, 255, 256, 257, 511, 65535, 65536, 65537, 70001])
def test_frontier_root_matches_the_full_tree(n: int) -> None:
    edge, _ = stored(n, batch=1000)
    assert edge.frontier.root() == merkle.root(merkle.MemoryTree(leaves(n)))
    assert edge.size == n


def test_tiles_give_every_proof_the_full_tree_gives() -> None:
    n = 66_000  # three tile levels, partial tiles on each
    _, tiles = stored(n)
    full = merkle.MemoryTree(leaves(n))
    for size in (1, 255, 256, 4097, 65536, 65537, n):
        tree = TileTree(size, tiles)
        assert merkle.root(tree, size) == merkle.root(full, size)
        for index in {0, size // 3, size - 1}:
            assert merkle.inclusion_proof(tree, index, size) == merkle.inclusion_proof(
                full, index, size
            )
        for first in {1, size // 2, size - 1}:
            if 0 < first < size:
                assert merkle.consistency_proof(tree, first, size) == merkle.consistency_proof(
                    full, first, size
                )


def test_a_proof_reads_only_the_tiles_it_names() -> None:
    n = 70_001
    _, tiles = stored(n, batch=500)
    keys = proof_tiles(n, inclusion=[12_345], consistency=[40_000])
    assert len(keys) <= 8  # two a level at most, for each of two proofs, over three levels
    only = {key: tiles[key] for key in keys}
    tree = TileTree(n, only)
    full = merkle.MemoryTree(leaves(n))
    assert merkle.inclusion_proof(tree, 12_345, n) == merkle.inclusion_proof(full, 12_345, n)
    assert merkle.consistency_proof(tree, 40_000, n) == merkle.consistency_proof(full, 40_000, n)
    with pytest.raises(KeyError):
        merkle.inclusion_proof(TileTree(n, {}), 0, n)


def test_the_compact_range_of_a_prefix_continues_to_the_same_root() -> None:
    n, k = 5_000, 1_234  # a purge keeps [0, k) as its compact range
    _, tiles = stored(n)
    hashes = prefix_range(TileTree(n, {key: tiles[key] for key in prefix_tiles(k)}), k)
    resumed = Frontier(k, hashes)
    for leaf in leaves(n)[k:]:
        resumed.append(leaf)
    assert resumed.root() == merkle.root(merkle.MemoryTree(leaves(n)))


def test_stored_edges_that_do_not_match_the_size_are_refused() -> None:
    edge, tiles = stored(300)
    with pytest.raises(ValueError, match="does not match its tree size"):
        Frontier.decode(301, edge.frontier.encode())
    with pytest.raises(ValueError, match="does not match the tree"):
        TreeEdge(Frontier.decode(300, edge.frontier.encode()), {(0, 1): tiles[0, 1][:-32]})


def test_edge_keys_name_the_last_tile_of_each_level() -> None:
    assert edge_keys(0) == [(0, 0)]
    assert edge_keys(TILE_WIDTH) == [(0, 1), (1, 0)]
    assert edge_keys(TILE_WIDTH**2 + 5) == [(0, TILE_WIDTH + 0), (1, 1), (2, 0)]
