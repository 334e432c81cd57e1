"""What a purge removes and the checkpoint row that records it: one form for every purge.

A purge deletes a prefix of one site's chain and appends, through the normal chaining,
a checkpoint naming what went (C21); SQLite's purge, PostgreSQL's, and PostgreSQL's
drop of whole months all build it here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from consent_service.audit.events import ConsentEvent, checkpoint_event
from consent_service.audit.timefmt import format_time
from consent_service.store.records import PurgeResult

#: Inside the purge's transaction: the first row kept (None: the whole chain goes).
PURGE_KEEP = "SELECT min(seq) FROM consent_events WHERE site_id = ? AND created_at >= ?"
#: The hash of the last purged row, which the first kept row continues from, and its
#: leaf index: the purged prefix of the site's tree is ``[0, leaf_index + 1)``.
PURGE_LAST_HASH = "SELECT hash, leaf_index FROM consent_events WHERE site_id = ? AND seq = ?"
#: Delete the purged prefix of a chain.
PURGE_DELETE = "DELETE FROM consent_events WHERE site_id = ? AND seq <= ?"


def purge_span(site_id: str, keep: int | None) -> tuple[str, list[Any]]:
    """The statement counting the rows a purge removes (those below ``keep``), their
    first and last ``seq`` and their first and last ``created_at`` (the days whose
    rollups the purge recounts); and its arguments."""
    sql = (
        "SELECT count(*), min(seq), max(seq), min(created_at), max(created_at)"
        " FROM consent_events WHERE site_id = ?"
    )
    if keep is None:
        return sql, [site_id]
    return sql + " AND seq < ?", [site_id, keep]


def purged(site_id: str, summary: Sequence[Any], continued_from: Any) -> PurgeResult:
    """What a purge removes, from a ``count, min(seq), max(seq)`` row and the last hash."""
    return PurgeResult(
        site_id, int(summary[0]), int(summary[1]), int(summary[2]), str(continued_from)
    )


def checkpoint_for(
    result: PurgeResult,
    before: datetime,
    now: datetime,
    prefix_size: int,
    prefix: Sequence[str],
) -> ConsentEvent:
    """The checkpoint row that records ``result`` (a purge of the rows before ``before``).

    ``prefix_size`` and ``prefix`` are the purged leaves of the site's Merkle tree and
    their compact range: what verify starts the tree from once those rows are gone.
    """
    detail = {
        "purged_rows": result.purged_rows,
        "first_seq": result.first_seq,
        "last_seq": result.last_seq,
        "before": format_time(before),
        "continued_from": result.continued_from,
        "tree_prefix_size": prefix_size,
        "tree_prefix": list(prefix),
    }
    return checkpoint_event(result.site_id, detail, now)
