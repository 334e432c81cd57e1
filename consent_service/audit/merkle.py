"""The Merkle tree of RFC 9162 §2.1: tree heads, inclusion and consistency proofs.

A site's log is a list of leaves; its tree head at size ``n`` is ``MTH(D[0:n])``, with
leaves hashed as ``SHA-256(0x00 || entry)`` and nodes as ``SHA-256(0x01 || left ||
right)``, so no leaf can pose as a node. These are the hashes Certificate Transparency,
Go's checksum database and the C2SP witness network use, so tools other than ours can
check a kakor head and its proofs.

Proofs are built from the hashes of *perfect* subtrees, the aligned runs of ``2**level``
leaves that never change once complete (:class:`Subtrees`): any node of the tree is
one perfect subtree or a fold of a few, right to left. A proof for one leaf of a tree of
``n`` needs ``O(log n)`` of them, so where they come from (memory, or a table of stored
subtree hashes) decides its cost, not the size of the log.

The verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step and return ``False``
for anything malformed (wrong lengths, sizes out of range, too long a proof).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

#: ``MTH({})``: the hash of the empty tree.
EMPTY_ROOT = hashlib.sha256(b"").digest()
HASH_SIZE = 32
#: Longer than any proof in a tree of 2**64 leaves could be.
MAX_PROOF = 128


def leaf_hash(entry: bytes) -> bytes:
    """The leaf hash of ``entry``: ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node's hash: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class Subtrees(Protocol):
    """Where the hashes of a tree's perfect subtrees come from."""

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""

    def perfect(self, start: int, level: int) -> bytes:
        """The hash of leaves ``[start, start + 2**level)``; ``start`` is a multiple of it."""


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n >= 2``): where RFC 9162 splits."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(tree: Subtrees, start: int, end: int) -> bytes:
    """``MTH(D[start:end])`` for a node of the tree (``start`` aligned as the RFC's are).

    The range is perfect subtrees of falling sizes, one per set bit of its length,
    folded from the right, as the RFC's recursion would hash them.
    """
    if end <= start:
        return EMPTY_ROOT
    pieces: list[bytes] = []
    while start < end:
        n = end - start
        level = n.bit_length() - 1  # the largest power of two ≤ n
        pieces.append(tree.perfect(start, level))
        start += 1 << level
    result = pieces.pop()
    while pieces:
        result = node_hash(pieces.pop(), result)
    return result


def root(tree: Subtrees, size: int | None = None) -> bytes:
    """The tree head at ``size`` (default: the whole tree)."""
    size = tree.size if size is None else size
    _check_size(tree, size)
    return subtree_hash(tree, 0, size)


def inclusion_proof(tree: Subtrees, index: int, size: int | None = None) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 §2.1.3.1)."""
    size = tree.size if size is None else size
    _check_size(tree, size)
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            path.append(subtree_hash(tree, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(tree, start, start + k))
            start += k
    path.reverse()  # the RFC lists the path from the leaf up
    return path


def consistency_proof(tree: Subtrees, first: int, second: int | None = None) -> list[bytes]:
    """The proof that the tree of ``first`` leaves is a prefix of that of ``second``.

    RFC 9162 §2.1.4.1's ``SUBPROOF(m, D[0:n], true)``; empty when ``first`` is 0 or
    equals ``second``.
    """
    second = tree.size if second is None else second
    _check_size(tree, second)
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first in (0, second):
        return []
    path: list[bytes] = []
    start, end, whole = 0, second, True
    m = first
    while m != end - start:
        k = split(end - start)
        if m <= k:
            path.append(subtree_hash(tree, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(tree, start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        path.append(subtree_hash(tree, start, end))
    path.reverse()
    return path


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """Whether ``proof`` shows ``leaf`` at ``index`` under ``expected_root`` (§2.1.3.2)."""
    if not _well_formed(proof, leaf, expected_root) or not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of ``first`` is a prefix of that of ``second``.

    RFC 9162 §2.1.4.2, with its two trivial cases: equal sizes need an empty proof and
    equal roots; any tree extends the empty one (``first`` 0, its root
    :data:`EMPTY_ROOT`).
    """
    if not _well_formed(proof, first_root, second_root) or not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old tree is a node of the new
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class MemoryTree:
    """A tree that keeps every perfect subtree's hash in memory: ``2n`` hashes for ``n``.

    Appending costs one hash per completed subtree (on average one); any proof is
    ``O(log n)`` lookups. ``verify`` rebuilds a site's tree with it from the rows it
    reads, and tests use it as the reference.
    """

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        #: ``levels[k][i]``: the hash of leaves ``[i * 2**k, (i + 1) * 2**k)``.
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        """How many leaves the tree holds."""
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash, and the hash of every subtree it completes."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        self.levels[0].append(leaf)
        level = 0
        while len(self.levels[level]) % 2 == 0:
            row = self.levels[level]
            if level + 1 == len(self.levels):
                self.levels.append([])
            self.levels[level + 1].append(node_hash(row[-2], row[-1]))
            level += 1

    def perfect(self, start: int, level: int) -> bytes:
        """The hash of the perfect subtree of ``2**level`` leaves at ``start``."""
        return self.levels[level][start >> level]


def _check_size(tree: Subtrees, size: int) -> None:
    if not 0 <= size <= tree.size:
        raise ValueError(f"the tree holds {tree.size} leaves, not {size}")


def _well_formed(proof: Sequence[bytes], *hashes: bytes) -> bool:
    if len(proof) > MAX_PROOF:
        return False
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in (*hashes, *proof))
