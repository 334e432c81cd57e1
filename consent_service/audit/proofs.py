"""Proofs from a store: a site's signed head, inclusion and consistency proofs.

Each proof reads only the tiles it needs (:func:`~.tiles.proof_tiles`, a few per
level) and folds them, so its cost grows with ``log n``, not with the log. The answers
are JSON-ready: hashes in base64, as checkpoints write them.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consent_service.audit import merkle
from consent_service.audit.chain import row_leaf
from consent_service.audit.events import AuditRow
from consent_service.audit.heads import HeadError
from consent_service.audit.signing import LogSigner
from consent_service.audit.tiles import TileTree, proof_tiles
from consent_service.store.base import Store, TreeHead


class ProofError(ValueError):
    """A proof was asked for sizes or an index the tree does not have."""


def b64(value: bytes) -> str:
    """A hash as heads and proofs write it."""
    return base64.b64encode(value).decode()


@dataclass(frozen=True)
class Head:
    """A site's newest head, as the log's routes give it."""

    site_id: str
    size: int
    root_hash: bytes
    note: str
    timestamp: int
    origin: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``GET /v1/sites/{site}/log/head``."""
        return {
            "site_id": self.site_id,
            "origin": self.origin,
            "tree_size": self.size,
            "root_hash": b64(self.root_hash),
            "timestamp": self.timestamp,
            "checkpoint": self.note,
        }


async def current_head(store: Store, signer: LogSigner, site_id: str) -> Head:
    """The newest signed head of ``site_id``; an empty log's head is signed on the spot.

    A stored head that does not verify with the log's keys is refused
    (:class:`~.heads.HeadError`), never passed on.
    """
    stored = await stored_tree(store, site_id)
    if stored.size == 0:
        note = signer.sign(site_id, 0, merkle.EMPTY_ROOT)
    elif stored.note is None:
        raise HeadError(f"the head of {site_id} at {stored.size} is not signed")
    else:
        note = stored.note
    head = signer.verify(site_id, note)
    return Head(
        site_id,
        head.checkpoint.size,
        head.checkpoint.root_hash,
        note,
        head.timestamp,
        head.checkpoint.origin,
    )


async def stored_tree(store: Store, site_id: str) -> TreeHead:
    """The site's tree head as stored (size 0 when it has no rows)."""
    found = await store.tree_heads(site_id)
    return found.get(site_id) or TreeHead(site_id, 0, b"", None)


async def inclusion(store: Store, site_id: str, indexes: list[int], size: int) -> list[list[bytes]]:
    """Inclusion proofs of leaves ``indexes`` in the tree of ``size`` leaves."""
    tree = await _tree(store, site_id, size, inclusion=indexes)
    for index in indexes:
        if not 0 <= index < size:
            raise ProofError(f"leaf {index} is not in the tree of {size}")
    return [merkle.inclusion_proof(tree, index, size) for index in indexes]


async def consistency(store: Store, site_id: str, first: int, second: int) -> list[bytes]:
    """The proof that the tree of ``first`` leaves is a prefix of the tree of ``second``."""
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from {first} to {second}")
    tree = await _tree(store, site_id, second, consistency=[first])
    return merkle.consistency_proof(tree, first, second)


async def root_at(store: Store, site_id: str, size: int) -> bytes:
    """The root of the site's tree at ``size`` (an older head's, read from the tiles)."""
    return merkle.root(await _tree(store, site_id, size), size)


async def _tree(
    store: Store,
    site_id: str,
    size: int,
    inclusion: list[int] | None = None,
    consistency: list[int] | None = None,
) -> TileTree:
    current = await stored_tree(store, site_id)
    if not 0 <= size <= current.size:
        raise ProofError(f"the tree of {site_id} has {current.size} leaves, not {size}")
    keys = proof_tiles(
        size,
        inclusion=[i for i in inclusion or () if 0 <= i < size],
        consistency=[f for f in consistency or () if 0 < f < size],
    )
    return TileTree(size, await store.read_tiles(site_id, keys))


async def tree_proof(
    store: Store, signer: LogSigner, site_id: str, rows: Sequence[AuditRow]
) -> dict[str, Any]:
    """The officer's proof that ``rows`` are leaves of the site's tree under its signed head.

    Each row's leaf hash is recomputed from its content and checked against its inclusion
    proof and the head's root, as anyone can with the answer alone: ``verified`` only
    when every one holds and the head's signature verifies with the log's keys.
    """
    try:
        head = await current_head(store, signer, site_id)
    except HeadError as exc:
        return {"head": None, "leaves": [], "verified": False, "problem": str(exc)}
    indexes = [row.leaf_index for row in rows]
    leaves = []
    try:
        paths = await inclusion(store, site_id, indexes, head.size)
    except (ProofError, KeyError) as exc:
        return {"head": head.to_dict(), "leaves": [], "verified": False, "problem": str(exc)}
    for row, path in zip(rows, paths, strict=True):
        leaf = row_leaf(row)
        included = merkle.verify_inclusion(leaf, row.leaf_index, head.size, path, head.root_hash)
        leaves.append(
            {
                "seq": row.seq,
                "leaf_index": row.leaf_index,
                "leaf_hash": b64(leaf),
                "inclusion": [b64(h) for h in path],
                "included": included,
            }
        )
    return {
        "head": head.to_dict(),
        "leaves": leaves,
        "verified": all(leaf["included"] for leaf in leaves),
        "problem": None,
    }
