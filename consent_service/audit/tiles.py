"""A site's Merkle tree as the store keeps it: a frontier for the head, tiles for proofs.

Appending needs only the *frontier* (RFC 9162's compact range of ``[0, size)``: one
perfect subtree hash per set bit of ``size``, at most 64), so a batch costs about one
hash per leaf and a head ``log2(size)`` more, however long the log. Proofs need older
subtrees: the store keeps them in *tiles*, as c2sp.org/tlog-tiles lays them out. A tile
at level ``L`` holds up to 256 consecutive hashes of the tree's nodes of height ``8 L``
(level 0: the leaf hashes); once it has 256 it never changes. Any perfect subtree is
then a fold of at most 128 hashes of one tile, and a proof for one leaf of ``n`` reads
at most two tiles per level (three levels hold 16 million leaves).

The tiles are derived data, like an index: verify recomputes the tree from the rows and
never trusts them, and a proof built from edited tiles does not verify against a signed
head.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from consent_service.audit import merkle
from consent_service.audit.merkle import HASH_SIZE, node_hash

#: A tile spans this many levels of the tree, so it holds ``2**8`` hashes.
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
#: A tile's key: its level and its index along that level.
TileKey = tuple[int, int]


class Frontier:
    """The compact range ``[0, size)``: appends and the root in ``O(log size)``."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of {size} leaves holds {size.bit_count()} hashes")
        self.size = size
        #: Perfect subtree hashes, largest (leftmost) first.
        self.hashes = list(hashes)

    @classmethod
    def decode(cls, size: int, blob: bytes | None) -> Frontier:
        """The frontier stored as the concatenation of its hashes."""
        blob = blob or b""
        if len(blob) != HASH_SIZE * size.bit_count():
            raise ValueError("a stored frontier does not match its tree size")
        return cls(size, [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)])

    def encode(self) -> bytes:
        """The hashes, concatenated (how the store keeps them)."""
        return b"".join(self.hashes)

    def append(self, leaf: bytes, tiled: list[tuple[int, bytes]] | None = None) -> None:
        """Add a leaf hash; into ``tiled``, the ``(height, hash)`` of each subtree it
        completes whose height is a tile level's (8, 16, …: once every 256 leaves)."""
        node, size, height = leaf, self.size, 0
        hashes = self.hashes
        while size & 1:
            node = node_hash(hashes.pop(), node)
            size >>= 1
            height += 1
            if tiled is not None and height % TILE_HEIGHT == 0:
                tiled.append((height, node))
        hashes.append(node)
        self.size += 1

    def root(self) -> bytes:
        """``MTH(D[0:size])``: the subtrees folded from the right."""
        if not self.hashes:
            return merkle.EMPTY_ROOT
        result = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            result = node_hash(left, result)
        return result


def edge_keys(size: int) -> list[TileKey]:
    """The tiles an append to a tree of ``size`` leaves extends: the last of each level.

    Level ``L``'s next hash lands in tile ``size >> 8 (L + 1)``; a level only exists
    once the tree has a node of its height.
    """
    keys = [(0, size >> TILE_HEIGHT)]
    level = 1
    while size >> (TILE_HEIGHT * level):
        keys.append((level, size >> (TILE_HEIGHT * (level + 1))))
        level += 1
    return keys


class TreeEdge:
    """A site's frontier and the unfinished end of each tile level, for one batch."""

    def __init__(self, frontier: Frontier, tiles: Mapping[TileKey, bytes]) -> None:
        self.frontier = frontier
        self._tiles = {key: bytearray(tiles.get(key, b"")) for key in edge_keys(frontier.size)}
        for (level, _), hashes in self._tiles.items():
            if len(hashes) != HASH_SIZE * _width(frontier.size, level):
                raise ValueError(f"the stored tile of level {level} does not match the tree")
        self._changed: set[TileKey] = set()

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return self.frontier.size

    def append(self, leaf: bytes) -> None:
        """Add a leaf: to the frontier, to the last tile of level 0, and, each time it
        completes 256 of them, the new node to the tile of its level."""
        index = self.frontier.size
        key = (0, index >> TILE_HEIGHT)
        self._tiles.setdefault(key, bytearray()).extend(leaf)
        self._changed.add(key)
        if (index + 1) % TILE_WIDTH:
            self.frontier.append(leaf)
            return
        upper: list[tuple[int, bytes]] = []
        self.frontier.append(leaf, upper)
        for height, node in upper:
            level = height // TILE_HEIGHT
            key = (level, index >> (TILE_HEIGHT * (level + 1)))
            self._tiles.setdefault(key, bytearray()).extend(node)
            self._changed.add(key)

    def changed(self) -> list[tuple[int, int, bytes]]:
        """The ``(level, index, hashes)`` of every tile the appends extended."""
        return [
            (level, idx, bytes(self._tiles[level, idx])) for level, idx in sorted(self._changed)
        ]

    def flush(self) -> list[tuple[int, int, bytes]]:
        """:meth:`changed`, forgetting the full tiles: a build over millions of rows keeps
        only the unfinished end of each level in memory."""
        changed = self.changed()
        for level, idx, hashes in changed:
            if len(hashes) == HASH_SIZE * TILE_WIDTH:
                del self._tiles[level, idx]
        self._changed.clear()
        return changed


def _width(size: int, level: int) -> int:
    """How many hashes the last tile of ``level`` holds in a tree of ``size`` leaves."""
    return (size >> (TILE_HEIGHT * level)) % TILE_WIDTH


class TileTree:
    """:class:`~consent_service.audit.merkle.Subtrees` over stored tiles.

    Built with the tiles a proof needs (:func:`proof_tiles`); asking for a subtree
    outside them is a :class:`KeyError`, never a silent rebuild.
    """

    def __init__(self, size: int, tiles: Mapping[TileKey, bytes]) -> None:
        self._size = size
        self._tiles = tiles

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return self._size

    def perfect(self, start: int, level: int) -> bytes:
        """Fold the ``2**h`` hashes of one tile that make the subtree (``h = level % 8``)."""
        tile_level, height = divmod(level, TILE_HEIGHT)
        first = start >> (TILE_HEIGHT * tile_level)
        tile = self._tiles[tile_level, first >> TILE_HEIGHT]
        offset = (first % TILE_WIDTH) * HASH_SIZE
        run = [tile[i : i + HASH_SIZE] for i in range(offset, offset + (HASH_SIZE << height), 32)]
        if len(run) != 1 << height:
            raise KeyError((tile_level, first >> TILE_HEIGHT))
        while len(run) > 1:
            run = [node_hash(run[i], run[i + 1]) for i in range(0, len(run), 2)]
        return run[0]


class _Recorder:
    """Stands in for a tree to learn which tiles a computation reads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.keys: set[TileKey] = set()

    def perfect(self, start: int, level: int) -> bytes:
        tile_level = level // TILE_HEIGHT
        self.keys.add((tile_level, start >> (TILE_HEIGHT * (tile_level + 1))))
        return bytes(HASH_SIZE)


def proof_tiles(
    size: int, inclusion: Iterable[int] = (), consistency: Iterable[int] = ()
) -> set[TileKey]:
    """The tiles the inclusion proofs of ``inclusion`` and the consistency proofs from each
    of ``consistency``, all in the tree of ``size``, read (and its root)."""
    recorder = _Recorder(size)
    merkle.root(recorder, size)
    for index in inclusion:
        merkle.inclusion_proof(recorder, index, size)
    for first in consistency:
        merkle.consistency_proof(recorder, first, size)
        merkle.root(recorder, first)
    return recorder.keys


def prefix_tiles(size: int) -> set[TileKey]:
    """The tiles :func:`prefix_range` reads for ``size``."""
    recorder = _Recorder(size)
    prefix_range(recorder, size)
    return recorder.keys


def prefix_range(tree: merkle.Subtrees, size: int) -> list[bytes]:
    """The compact range ``[0, size)`` read from ``tree``: a purge keeps it in its checkpoint."""
    hashes, start = [], 0
    for height in reversed(range(size.bit_length())):
        if size >> height & 1:
            hashes.append(tree.perfect(start, height))
            start += 1 << height
    return hashes
