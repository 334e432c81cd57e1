"""Is the stored audit log intact? The whole chain with purge anchors, and one row's links.

:func:`verify_log` loads the purge checkpoints as anchors first
(:func:`~consent_service.audit.verify.anchors_from`), so a site's first remaining row
may start from the hash its purge continued from (C21, C22).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from consent_service.audit.canonical import texts_digest
from consent_service.audit.chain import GENESIS, row_hash
from consent_service.audit.events import AuditRow
from consent_service.audit.heads import Verifier
from consent_service.audit.treecheck import TreeCheck, merge_reports
from consent_service.audit.verify import ChainVerifier, anchors_from, close, tree_starts
from consent_service.audit.walk import Progress, walk
from consent_service.audit.witness import WitnessedHead
from consent_service.store import Store, TextsSnapshot
from consent_service.store.base import TreeHead

#: What a passing verify does not prove, said with every answer so no one reads more
#: into "ok" than it holds: always, without a witness's heads, and without the log's keys.
CANNOT_RULE_OUT = (
    "rows that were never written (a consent the service acknowledged is in the log only "
    "if the database kept its commit)",
    "a rewrite by the holder of the log key after the newest head a witness kept (the "
    "holder can sign a new history; only heads kept elsewhere pin the old one)",
)
WITHOUT_WITNESS = (
    "newest rows cut together with the stored head, put back to an older genuine signed "
    "head (run verify --heads with a witness's file to rule it out)",
)
WITHOUT_KEYS = (
    "any rewrite by someone with write access to the database: no log key was given, so "
    "no head's signature was checked (set CONSENT_LOG_KEY_FILE or pass --heads)",
)


async def verify_log(
    store: Store,
    site_ids: Iterable[str] | None = None,
    *,
    witnessed: Sequence[WitnessedHead] = (),
    workers: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Walk the chain (every site, or each of ``site_ids``); report the first broken row.

    ``workers`` and ``progress`` are :func:`~consent_service.audit.walk.walk`'s (rows
    checked so far, all sites counted).

    The answer is :meth:`~consent_service.audit.verify.VerifyResult.to_dict` (``ok``,
    ``rows_checked``, ``first_broken``) plus ``sites``: each checked site's result and
    ``head`` (the hash of its newest row, to compare with an export manifest), and
    ``texts`` (:func:`check_texts`) and ``chain_heads`` (:class:`HeadCheck`): ``ok`` is
    false when any is broken. ``cannot_rule_out`` lists what a passing check does not
    prove.
    """
    checkpoints = await store.checkpoint_rows()
    anchors = anchors_from(checkpoints)
    starts = tree_starts(checkpoints)
    # Read before the walk: rows only ever follow a head, so the walk meets every head
    # read here, however many rows are appended meanwhile.
    heads = HeadCheck(await store.chain_heads())
    stored = await store.tree_heads()
    keys = _verifiers(store, stored, witnessed)
    trees = TreeCheck(stored, keys, _notes(witnessed))
    if site_ids is None:
        verifier = ChainVerifier(anchors, starts, trees.roots())
        await walk(store, verifier, heads, workers=workers, progress=progress)
        result = verifier.result()
        answer = result.to_dict()
        answer["sites"] = {site: {"head": head} for site, head in sorted(result.heads.items())}
        return _with_checks(
            answer,
            await check_texts(store, verifier.texts_named),
            heads.report(result.heads if result.ok else None),
            await trees.report(store, verifier, checkpoints),
            bool(witnessed),
        )
    total = 0
    sites: dict[str, Any] = {}
    first_broken: dict[str, Any] | None = None
    texts_named: dict[str, str] = {}
    heads_checked = 0
    heads_broken: list[dict[str, Any]] = []
    tree_reports = []
    roots = trees.roots()
    for site_id in site_ids:
        verifier = ChainVerifier(
            {site_id: anchors.get(site_id, set())},
            {s: t for s, t in starts.items() if s == site_id},
            {s: r for s, r in roots.items() if s == site_id},
        )
        site_heads = heads.only(site_id)
        await walk(
            store, verifier, site_heads, site_id, workers=workers, progress=_after(total, progress)
        )
        result = verifier.result()
        site_report = site_heads.report(result.heads if result.ok else None)
        heads_checked += site_report["checked"]
        heads_broken += site_report["broken"]
        total += result.rows_checked
        sites[site_id] = {**result.to_dict(), "head": result.heads.get(site_id)}
        if first_broken is None and not result.ok:
            first_broken = result.to_dict()["first_broken"]
        for texts_hash, named_by in verifier.texts_named.items():
            texts_named.setdefault(texts_hash, named_by)
        site_trees = TreeCheck(
            {s: h for s, h in stored.items() if s == site_id},
            {s: k for s, k in keys.items() if s == site_id},
            [n for n in _notes(witnessed) if n[0] == site_id],
        )
        tree_reports.append(await site_trees.report(store, verifier, checkpoints))
    return _with_checks(
        {
            "ok": first_broken is None,
            "rows_checked": total,
            "first_broken": first_broken,
            "sites": sites,
        },
        await check_texts(store, texts_named),
        {"checked": heads_checked, "broken": heads_broken},
        merge_reports(tree_reports),
        bool(witnessed),
    )


def _after(done: int, progress: Progress | None) -> Progress | None:
    """``progress`` for a site's walk: the rows of the sites walked before it counted."""
    if progress is None:
        return None
    report = progress
    return lambda rows: report(done + rows)


def _with_checks(
    answer: dict[str, Any],
    texts: dict[str, Any],
    chain_heads: dict[str, Any],
    tree: dict[str, Any],
    witnessed: bool,
) -> dict[str, Any]:
    """The chain's answer with the texts, head and tree checks: ``ok`` only if all pass."""
    answer["ok"] = (
        answer["ok"] and not texts["broken"] and not chain_heads["broken"] and not tree["broken"]
    )
    answer["texts"] = texts
    answer["chain_heads"] = chain_heads
    answer["tree"] = tree
    caveats = list(CANNOT_RULE_OUT)
    if not witnessed:
        caveats += WITHOUT_WITNESS
    if tree["signatures_unchecked"]:
        caveats += WITHOUT_KEYS
    answer["cannot_rule_out"] = caveats
    return answer


def _verifiers(
    store: Store, stored: Mapping[str, TreeHead], witnessed: Sequence[WitnessedHead]
) -> dict[str, list[Verifier]]:
    """Each site's log keys: the store's signer's, and those a witness pinned."""
    sites = set(stored) | {w.site_id for w in witnessed}
    keys: dict[str, list[Verifier]] = {}
    for site_id in sites:
        found = store.signer.verifiers(site_id) if store.signer is not None else []
        found += [Verifier.from_vkey(w.vkey) for w in witnessed if w.site_id == site_id and w.vkey]
        if found:
            keys[site_id] = found
    return keys


def _notes(witnessed: Sequence[WitnessedHead]) -> list[tuple[str, str, float]]:
    return [(w.site_id, w.checkpoint, w.seen()) for w in witnessed]


class HeadCheck:
    """Does each site's newest row match the head its appends chain after?

    ``chain_heads`` holds, per site, the seq and hash of its newest row; appends chain
    after it. When the newest rows are cut (or the head edited) the two disagree: the
    walk never meets a row with the head's seq and hash. (An insider who also rewrites
    the head is not caught here; that takes a signed head kept elsewhere.)
    """

    def __init__(self, heads: Mapping[str, tuple[int, str]]) -> None:
        self.heads = dict(heads)
        self._met: set[str] = set()
        self._edited: set[str] = set()

    def only(self, site_id: str) -> HeadCheck:
        """The same check for one site."""
        return HeadCheck({k: v for k, v in self.heads.items() if k == site_id})

    async def watch(self, rows: AsyncIterator[AuditRow]) -> AsyncIterator[AuditRow]:
        """Pass ``rows`` on, noting each that is (or should be) a site's head."""
        try:
            async for row in rows:
                self.saw(row.site_id, row.seq, row.hash)
                yield row
        finally:
            await close(rows)

    def seqs(self) -> dict[int, str]:
        """The seq of each site's head, to the site: the rows :meth:`saw` must be told of."""
        return {seq: site_id for site_id, (seq, _) in self.heads.items()}

    def saw(self, site_id: str, seq: int, found: str) -> None:
        """Note a row the walk checked, if it is (or should be) its site's head."""
        head = self.heads.get(site_id)
        if head is not None and seq == head[0]:
            (self._met if found == head[1] else self._edited).add(site_id)

    def report(self, newest: Mapping[str, str] | None) -> dict[str, Any]:
        """``checked`` and ``broken``; ``newest`` is each site's newest hash (None: the
        walk stopped at a broken row, so only the heads it met can be judged)."""
        broken = []
        for site_id, (seq, _) in sorted(self.heads.items()):
            if site_id in self._met:
                continue
            if site_id in self._edited:
                problem = (
                    f"the row at the head's seq {seq} has another hash: "
                    "the head or the row was edited"
                )
            elif newest is None:
                continue
            else:
                problem = (
                    f"no row has the head's seq {seq} and hash: the newest rows were cut"
                    if site_id in newest
                    else f"the head records seq {seq}, but the site has no rows left"
                )
            broken.append({"site_id": site_id, "seq": seq, "problem": problem})
        return {"checked": len(self.heads), "broken": broken}


async def check_texts(store: Store, named: Mapping[str, str]) -> dict[str, Any]:
    """Whether the texts each ``texts_hash`` names are stored, and unedited.

    ``named`` maps each ``texts_hash`` the rows carry to the site of a row carrying it.
    The answer has ``checked`` (how many) and ``broken``: for each that fails, the
    hash, the site and the ``problem``. A row proves which texts a visitor saw only
    while the stored texts still hash to what the row recorded (C19).
    """
    broken = []
    for texts_hash, site_id in sorted(named.items()):
        problem = texts_problem(await store.texts(texts_hash), texts_hash)
        if problem is not None:
            broken.append({"texts_hash": texts_hash, "site_id": site_id, "problem": problem})
    return {"checked": len(named), "broken": broken}


def texts_problem(snapshot: TextsSnapshot | None, texts_hash: str) -> str | None:
    """What is wrong with the stored texts for ``texts_hash``, if anything."""
    if snapshot is None:
        return "missing: no texts are stored for this texts_hash"
    if texts_digest(snapshot.texts) != texts_hash:
        return "edited: the stored texts do not hash to their texts_hash"
    # Not compared with the snapshot's site_id: texts_hash addresses content, and two
    # sites showing the same texts share one snapshot, kept under the first to show it.
    return None


async def row_proof(store: Store, row: AuditRow, anchors: Iterable[str] = ()) -> dict[str, Any]:
    """Whether ``row`` sits intact in its site's chain, checked locally.

    ``hash_ok``: its content still hashes to its ``hash``; ``linked``: its ``prev_hash``
    is the hash of the site's row before it (or the genesis hash / a purge anchor when it
    is the first); ``followed``: the site's next row names it as ``prev_hash`` (or it is
    the newest row). The whole chain is checked by :func:`verify_log`.
    """
    before = await store.row_before(row.site_id, row.seq)
    if before is None:
        linked = row.prev_hash == GENESIS or row.prev_hash in set(anchors)
    else:
        linked = row.prev_hash == before.hash
    rows = store.iter_rows(site_id=row.site_id, after_seq=row.seq, batch_size=1)
    try:
        following = await anext(rows, None)
    finally:
        await close(rows)
    followed = following is None or following.prev_hash == row.hash
    hash_ok = row_hash(row.seq, row.prev_hash, row) == row.hash
    return {
        "hash_ok": hash_ok,
        "linked": linked,
        "followed": followed,
        "verified": hash_ok and linked and followed,
    }
