"""Checking a chain: rows fed oldest first, the first broken one named (C22).

A purge (C21) deletes a prefix of a site's chain and appends a checkpoint row naming
the hash it continued from: :func:`anchors_from` turns those into anchors, hashes a
site's first remaining row may start from instead of the genesis hash.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from consent_service.audit.canonical import UnencodableValue
from consent_service.audit.chain import GENESIS, row_digests
from consent_service.audit.events import CHECKPOINT, AuditRow
from consent_service.audit.merkle import HASH_SIZE
from consent_service.audit.rowcheck import RunCheck, SiteRun
from consent_service.audit.tiles import Frontier


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the chain."""

    rows_checked: int
    ok: bool
    first_broken_seq: int | None = None
    site_id: str | None = None
    reason: str | None = None
    heads: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as the admin API and the CLI print it."""
        return {
            "ok": self.ok,
            "rows_checked": self.rows_checked,
            "first_broken": None
            if self.ok
            else {"seq": self.first_broken_seq, "site_id": self.site_id, "reason": self.reason},
        }


class ChainVerifier:
    """Checks rows fed oldest first; memory is one hash per site and per texts version.

    It rebuilds each site's Merkle tree from the rows as it goes (a frontier: ``log n``
    hashes), from ``trees`` where a purge left one (:func:`tree_starts`), and compares
    its root with ``roots`` (per site, tree size to expected root: signed heads, a
    witness's) as the tree passes each size; :attr:`tree_problems` lists what differs.
    """

    def __init__(
        self,
        anchors: Mapping[str, Iterable[str]] | None = None,
        trees: Mapping[str, Frontier] | None = None,
        roots: Mapping[str, Mapping[int, bytes]] | None = None,
    ) -> None:
        self.trees = {site: Frontier(t.size, t.hashes) for site, t in (trees or {}).items()}
        #: Where each site's rebuilt tree began (the leaves a purge removed before it).
        self.tree_starts = {site: t.size for site, t in self.trees.items()}
        self._roots = roots or {}
        self.roots_checked = 0
        self.tree_problems: list[dict[str, Any]] = []
        self._misplaced: set[str] = set()
        self._heads: dict[str, str] = {}
        #: Each ``texts_hash`` the rows name, with the site of the first row naming it.
        self.texts_named: dict[str, str] = {}
        self._anchors = {site: set(hashes) for site, hashes in (anchors or {}).items()}
        self._last_seq = 0
        self.rows_checked = 0
        self.broken: tuple[int, str, str] | None = None

    def feed(self, row: AuditRow) -> bool:
        """Check one row; False (and :attr:`broken` set) at the first broken one."""
        if self.broken is not None:
            return False
        self.rows_checked += 1
        expected_prev = self._heads.get(row.site_id)
        leaf = None
        if row.seq <= self._last_seq:
            self.broken = (row.seq, row.site_id, "sequence out of order")
        elif (
            expected_prev is None
            and row.prev_hash != GENESIS
            and (row.prev_hash not in self._anchors.get(row.site_id, ()))
        ):
            self.broken = (row.seq, row.site_id, "first row does not start the chain")
        elif expected_prev is not None and row.prev_hash != expected_prev:
            self.broken = (row.seq, row.site_id, "prev_hash does not match the previous row")
        else:
            leaf = _leaf_if_intact(row)
            if leaf is None:
                self.broken = (row.seq, row.site_id, "row content does not match its hash")
        if self.broken is not None or leaf is None:
            return False
        self._grow(row, leaf)
        self._heads[row.site_id] = row.hash
        self._last_seq = row.seq
        if row.texts_hash:
            self.texts_named.setdefault(row.texts_hash, row.site_id)
        return True

    def absorb(self, run: RunCheck) -> bool:
        """Take a whole run of rows checked by :func:`~.rowcheck.check_rows`, as if each
        had been fed; False (nothing taken) unless the run is clear, each site's first row
        in it follows its chain here, and the run changes no tree problem or root check.

        Anything else (a broken row, a ``leaf_index`` out of place, a root that differs)
        is for :meth:`feed` to find and word: the caller feeds that run's rows instead.
        """
        if not run.clear or self.broken is not None:
            return False
        if not run.rows:
            return True
        if run.first_seq <= self._last_seq:
            return False
        for site_id, site in run.sites.items():
            expected = self._heads.get(site_id)
            if expected is None:
                starts = site.first_prev == GENESIS or site.first_prev in self._anchors.get(
                    site_id, ()
                )
            else:
                starts = site.first_prev == expected
            tree = self.trees.get(site_id)
            in_place = site.first_leaf_index == (0 if tree is None else tree.size)
            if not starts or not (in_place or site_id in self._misplaced):
                return False
        before = {s: self.trees.get(s) for s in run.sites}
        kept = {s: (t.size, list(t.hashes)) for s, t in before.items() if t is not None}
        roots_checked = self.roots_checked
        if not all(self._grow_run(site_id, site) for site_id, site in run.sites.items()):
            for site_id, tree in before.items():  # as it was: feed() checks the run again
                if tree is None:
                    self.trees.pop(site_id, None)
                    self.tree_starts.pop(site_id, None)
                else:
                    tree.size, tree.hashes = kept[site_id][0], kept[site_id][1]
                    self.trees[site_id] = tree
            self.roots_checked = roots_checked
            return False
        for site_id, site in run.sites.items():
            self._heads[site_id] = site.last_hash
        for texts_hash, site_id in run.texts.items():
            self.texts_named.setdefault(texts_hash, site_id)
        self.rows_checked += run.rows
        self._last_seq = run.last_seq
        return True

    def _grow_run(self, site_id: str, site: SiteRun) -> bool:
        """Append a run's leaves to the site's tree; False at a signed root that differs."""
        tree = self.trees.get(site_id)
        if tree is None:
            tree = self.trees[site_id] = Frontier()
            self.tree_starts[site_id] = 0
        roots = self._roots.get(site_id, {})
        leaves = site.leaves
        for offset in range(0, len(leaves), HASH_SIZE):
            tree.append(bytes(leaves[offset : offset + HASH_SIZE]))
            expected = roots.get(tree.size)
            if expected is not None:
                self.roots_checked += 1
                if tree.root() != expected:
                    return False
        return True

    def _grow(self, row: AuditRow, leaf: bytes) -> None:
        tree = self.trees.get(row.site_id)
        if tree is None:
            tree = self.trees[row.site_id] = Frontier()
            self.tree_starts[row.site_id] = 0
        if row.leaf_index != tree.size and row.site_id not in self._misplaced:
            self._misplaced.add(row.site_id)
            self.tree_problems.append(
                {
                    "site_id": row.site_id,
                    "seq": row.seq,
                    "problem": f"the row's leaf_index {row.leaf_index} is not its place "
                    f"{tree.size} in the tree",
                }
            )
        tree.append(leaf)
        expected = self._roots.get(row.site_id, {}).get(tree.size)
        if expected is not None:
            self.roots_checked += 1
            if tree.root() != expected:
                self.tree_problems.append(
                    {
                        "site_id": row.site_id,
                        "seq": row.seq,
                        "tree_size": tree.size,
                        "problem": f"the rows' tree at size {tree.size} does not have the "
                        "root of the signed head of that size: rows were edited, removed "
                        "or inserted before it",
                    }
                )

    def result(self) -> VerifyResult:
        """What was found so far."""
        if self.broken is None:
            return VerifyResult(self.rows_checked, True, heads=dict(self._heads))
        seq, site_id, reason = self.broken
        return VerifyResult(self.rows_checked, False, seq, site_id, reason, dict(self._heads))


def _leaf_if_intact(row: AuditRow) -> bytes | None:
    """``row``'s leaf hash if its content hashes to its ``hash``, else None (a value with
    no JSON form never does)."""
    try:
        chained, leaf = row_digests(row)
    except UnencodableValue:  # only a row edited in the database can hold one
        return None
    return leaf if chained == row.hash else None


def tree_starts(checkpoints: Iterable[AuditRow]) -> dict[str, Frontier]:
    """Per site, the tree a purge left: the compact range its newest checkpoint keeps.

    A site whose checkpoints carry none (purged before the tree existed) starts from
    an empty tree at its first remaining row.
    """
    starts: dict[str, Frontier] = {}
    for row in checkpoints:  # oldest first: the newest purge wins
        detail = row.detail or {}
        if row.action == CHECKPOINT and "tree_prefix_size" in detail:
            try:
                hashes = [bytes.fromhex(str(h)) for h in detail["tree_prefix"]]
                starts[row.site_id] = Frontier(int(detail["tree_prefix_size"]), hashes)
            except (TypeError, ValueError):
                continue  # an edited checkpoint: its row hash fails the walk anyway
    return starts


def anchors_from(checkpoints: Iterable[AuditRow]) -> dict[str, set[str]]:
    """Verify anchors per site: every ``continued_from`` a checkpoint row records."""
    anchors: dict[str, set[str]] = {}
    for row in checkpoints:
        if row.action == CHECKPOINT and row.detail and row.detail.get("continued_from"):
            anchors.setdefault(row.site_id, set()).add(str(row.detail["continued_from"]))
    return anchors


async def feed(verifier: ChainVerifier, rows: AsyncIterator[AuditRow]) -> None:
    """Feed ``rows`` to ``verifier`` up to the first broken one, then close them."""
    try:
        async for row in rows:
            if not verifier.feed(row):
                break
    finally:
        await close(rows)


async def verify_rows(
    rows: AsyncIterator[AuditRow], anchors: Mapping[str, Iterable[str]] | None = None
) -> VerifyResult:
    """Walk ``rows`` (oldest first) and report the first broken one."""
    verifier = ChainVerifier(anchors)
    await feed(verifier, rows)
    return verifier.result()


async def close(rows: AsyncIterator[Any]) -> None:
    """Close an async row iterator left early (its database cursor is released now)."""
    aclose = getattr(rows, "aclose", None)
    if aclose is not None:
        await aclose()
