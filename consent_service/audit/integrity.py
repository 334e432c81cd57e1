"""Is the stored audit log intact? The whole chain with purge anchors, and one row's links.

:func:`verify_log` loads the purge checkpoints as anchors first
(:func:`~consent_service.audit.verify.anchors_from`), so a site's first remaining row
may start from the hash its purge continued from (C21, C22).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from consent_service.audit.chain import GENESIS, row_hash
from consent_service.audit.events import AuditRow
from consent_service.audit.verify import ChainVerifier, anchors_from, close, feed
from consent_service.store import Store


async def verify_log(store: Store, site_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """Walk the chain (every site, or each of ``site_ids``); report the first broken row.

    The answer is :meth:`~consent_service.audit.verify.VerifyResult.to_dict` (``ok``,
    ``rows_checked``, ``first_broken``) plus ``sites``: each checked site's result and
    ``head`` (the hash of its newest row, to compare with an export manifest).
    """
    anchors = anchors_from(await store.checkpoint_rows())
    if site_ids is None:
        verifier = ChainVerifier(anchors)
        await feed(verifier, store.iter_rows())
        result = verifier.result()
        answer = result.to_dict()
        answer["sites"] = {site: {"head": head} for site, head in sorted(result.heads.items())}
        return answer
    total = 0
    sites: dict[str, Any] = {}
    first_broken: dict[str, Any] | None = None
    for site_id in site_ids:
        verifier = ChainVerifier({site_id: anchors.get(site_id, set())})
        await feed(verifier, store.iter_rows(site_id=site_id))
        result = verifier.result()
        total += result.rows_checked
        sites[site_id] = {**result.to_dict(), "head": result.heads.get(site_id)}
        if first_broken is None and not result.ok:
            first_broken = result.to_dict()["first_broken"]
    return {
        "ok": first_broken is None,
        "rows_checked": total,
        "first_broken": first_broken,
        "sites": sites,
    }


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
