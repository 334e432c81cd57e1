"""Do the rows make the trees the log signed, and that witnesses kept?

Verify rebuilds each site's Merkle tree from its rows (:class:`~.verify.ChainVerifier`)
and compares it with every signed head it knows: the newest one the store holds, and
any a witness kept (``verify --heads``). A head's signature is checked with the log's
keys before its root counts. What each finding means:

* rows after the newest signed head: appended without the log key (a forged tail);
* the tree's root at a head's size differs: rows before it were edited, removed,
  inserted or re-hashed, whatever the chain says;
* a head larger than the tree: the newest rows were cut;
* a purge that removed leaves a witness had not yet seen well after the purge's
  cut-off (so they were appended after it): it removed more than its checkpoint says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from consent_service.audit import merkle, proofs
from consent_service.audit.events import CHECKPOINT, AuditRow
from consent_service.audit.heads import HeadError, Verifier, verify_head
from consent_service.audit.timefmt import parse_time
from consent_service.audit.verify import ChainVerifier
from consent_service.store.base import Store, TreeHead

#: A witnessed head newer than a purge's cut-off by this much (seconds) must not have
#: lost leaves to it: the margin covers a row stamped just before the cut-off and
#: committed just after (heads are timestamped to the second).
PURGE_MARGIN = 60


@dataclass(frozen=True)
class KnownHead:
    """A signed head verify compares the rows with."""

    site_id: str
    size: int
    root: bytes
    timestamp: int
    #: ``"store"`` (the newest head in the database) or ``"witness"``.
    source: str


class TreeCheck:
    """The signed heads of each site, checked, and what the rows' trees say about them."""

    def __init__(
        self,
        stored: Mapping[str, TreeHead],
        verifiers: Mapping[str, Sequence[Verifier]],
        witnessed: Iterable[tuple[str, str, float]] = (),
    ) -> None:
        """``stored``: the store's tree heads; ``verifiers``: each site's log keys (a site
        without any has its signatures unchecked); ``witnessed``: ``(site, note, seen)``,
        ``seen`` the time (seconds) the witness saw the head as the newest."""
        self.stored = dict(stored)
        self.verifiers = verifiers
        self.problems: list[dict[str, Any]] = []
        self.heads: dict[str, dict[int, KnownHead]] = {}
        self.unchecked: set[str] = set()
        self.witnessed = 0
        for site_id, head in sorted(self.stored.items()):
            self._stored(site_id, head, verifiers.get(site_id, ()))
        for site_id, note, seen in witnessed:
            known = self._open(site_id, note, verifiers.get(site_id, ()), "witness")
            if known is not None:
                self.witnessed += 1
                # The witness vouches that this head was still the newest when it looked.
                self._add(replace(known, timestamp=max(known.timestamp, int(seen))))

    def _stored(self, site_id: str, head: TreeHead, keys: Sequence[Verifier]) -> None:
        if not keys:  # no key to check a signature with: say so, judge nothing
            self.unchecked.add(site_id)
            return
        if head.note is None:
            if head.size:
                self._problem(site_id, f"the newest head (size {head.size}) is not signed")
            return
        known = self._open(site_id, head.note, keys, "store")
        if known is None:
            return
        if known.size != head.size or known.root != head.root:
            self._problem(
                site_id,
                f"chain_heads holds a tree of {head.size} leaves beside a signed head of "
                f"{known.size}: the stored tree state was edited",
            )
        self._add(known)

    def _open(
        self, site_id: str, note: str, keys: Sequence[Verifier], source: str
    ) -> KnownHead | None:
        try:
            signed = verify_head(note, keys)
        except HeadError as exc:
            self._problem(site_id, f"a {source} head does not verify with the log's keys: {exc}")
            return None
        if not signed.checkpoint.origin.endswith("/" + site_id):
            self._problem(site_id, f"a {source} head is of another log: {signed.checkpoint.origin}")
            return None
        cp = signed.checkpoint
        return KnownHead(site_id, cp.size, cp.root_hash, signed.timestamp, source)

    def _add(self, head: KnownHead) -> None:
        sizes = self.heads.setdefault(head.site_id, {})
        other = sizes.get(head.size)
        if other is not None and other.root != head.root:
            self._problem(
                head.site_id,
                f"two signed heads of size {head.size} with different roots: the log forked "
                "(only the key's holder can sign both)",
            )
        if other is None or (other.source == head.source and head.timestamp > other.timestamp):
            sizes[head.size] = head

    def _problem(self, site_id: str, problem: str, **extra: Any) -> None:
        self.problems.append({"site_id": site_id, "problem": problem, **extra})

    def roots(self) -> dict[str, dict[int, bytes]]:
        """Per site, tree size to signed root: what the walk compares as it passes each."""
        return {
            site: {size: head.root for size, head in heads.items()}
            for site, heads in self.heads.items()
        }

    async def report(
        self, store: Store, verifier: ChainVerifier, checkpoints: Sequence[AuditRow]
    ) -> dict[str, Any]:
        """After the walk: the sizes the rows did not reach, and the purges' claims."""
        problems = list(self.problems) + list(verifier.tree_problems)
        sites = sorted(set(self.heads) | set(verifier.trees))
        # Re-read: rows appended during the walk are under heads signed after it began.
        latest = await store.tree_heads()
        for site_id in sites:
            tree = verifier.trees.get(site_id)
            size = tree.size if tree is not None else 0
            start = verifier.tree_starts.get(site_id, 0)
            heads = self.heads.get(site_id, {})
            keys = self.verifiers.get(site_id, ())
            if keys and tree is not None:
                problems += _tail(site_id, latest.get(site_id), keys, size, tree.root())
            for head in sorted(heads.values(), key=lambda h: h.size):
                if head.size > size:
                    problems.append(
                        {
                            "site_id": site_id,
                            "problem": f"a {head.source} head of size {head.size}, but the "
                            f"rows make a tree of {size}: the newest rows were cut",
                        }
                    )
                elif (
                    head.size < start
                    and tree is not None
                    and not await _consistent(store, site_id, head, size, tree.root())
                ):
                    problems.append(
                        {
                            "site_id": site_id,
                            "problem": f"the {head.source} head of size {head.size}, from "
                            "before a purge, is not a prefix of the tree now",
                        }
                    )
            problems += _purge_claims(site_id, heads.values(), checkpoints)
        return {
            "checked": len(sites),
            "signed_heads": sum(1 for h in self.heads.values() for x in h.values()),
            "witnessed": self.witnessed,
            "roots_compared": verifier.roots_checked,
            "signatures_unchecked": sorted(self.unchecked),
            "broken": problems,
        }


def _tail(
    site_id: str, head: TreeHead | None, keys: Sequence[Verifier], size: int, root: bytes
) -> list[dict[str, Any]]:
    """Rows the newest signed head, read after the walk, does not cover: a forged tail."""
    signed = None
    if head is not None and head.note is not None:
        try:
            signed = verify_head(head.note, keys).checkpoint
        except HeadError:
            signed = None  # reported with the heads read before the walk
    covered = signed.size if signed is not None else 0
    if covered < size:
        return [
            {
                "site_id": site_id,
                "problem": f"{size - covered} rows after the newest signed head (size "
                f"{covered}) were not appended by the log key's holder: a forged tail",
            }
        ]
    if signed is not None and covered == size and signed.root_hash != root:
        return [
            {
                "site_id": site_id,
                "problem": f"the rows' tree at size {size} does not have the newest signed "
                "head's root",
            }
        ]
    return []


async def _consistent(store: Store, site_id: str, head: KnownHead, size: int, root: bytes) -> bool:
    """Whether ``head`` is a prefix of the tree of ``size`` with ``root``, by the stored
    tiles' consistency proof (forged tiles give a proof that fails)."""
    try:
        proof = await proofs.consistency(store, site_id, head.size, size)
    except (KeyError, proofs.ProofError):
        return False
    return merkle.verify_consistency(head.size, size, head.root, root, proof)


def _purge_claims(
    site_id: str, heads: Iterable[KnownHead], checkpoints: Sequence[AuditRow]
) -> list[dict[str, Any]]:
    """Purges that removed leaves a head signed well after their cut-off already held."""
    problems = []
    for row in checkpoints:
        detail = row.detail or {}
        if row.site_id != site_id or row.action != CHECKPOINT:
            continue
        if "tree_prefix_size" not in detail or "before" not in detail:
            continue
        removed = int(detail["tree_prefix_size"])
        cutoff = parse_time(str(detail["before"])).timestamp()
        for head in heads:
            if head.source != "witness":
                continue
            if head.timestamp >= cutoff + PURGE_MARGIN and head.size < removed:
                problems.append(
                    {
                        "site_id": site_id,
                        "seq": row.seq,
                        "problem": f"the purge at seq {row.seq} removed leaves up to {removed}, "
                        f"but a head signed after its cut-off {detail['before']} had only "
                        f"{head.size}: it removed rows newer than it says",
                    }
                )
                break
    return problems


def merge_reports(reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One answer from per-site reports."""
    return {
        "checked": sum(r["checked"] for r in reports),
        "signed_heads": sum(r["signed_heads"] for r in reports),
        "witnessed": sum(r["witnessed"] for r in reports),
        "roots_compared": sum(r["roots_compared"] for r in reports),
        "signatures_unchecked": sorted({s for r in reports for s in r["signatures_unchecked"]}),
        "broken": [p for r in reports for p in r["broken"]],
    }
