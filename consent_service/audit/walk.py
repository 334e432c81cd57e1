"""verify's walk over the log: runs of rows checked in worker processes, taken in order.

A row's hash depends only on its own content and its stored ``prev_hash``, so runs of
:data:`RUN_ROWS` rows (by ``seq``) are checked apart, each in a worker process
(:func:`~consent_service.audit.rowcheck.check_rows` over
:func:`~consent_service.store.ranges.read_range`). This process takes each run whole, in
order (:meth:`~consent_service.audit.verify.ChainVerifier.absorb`): the links between
runs, the trees and the signed roots, about one hash per row. A run it cannot take
whole (a row broken, out of place, a root that differs) it reads again and feeds row by
row (:meth:`~consent_service.audit.verify.ChainVerifier.feed`), which finds and names
the first broken row exactly as a walk of every row one by one does.

At a million rows the walk costs about the same CPU time either way; two worker
processes finished it 1.5 to 3 times sooner than this process alone on the shared
two-CPU host (``docs/performance.md``, *Verify*). The runs are handed out and taken
back by :func:`~consent_service.store.runpool.in_order`, which keeps a short log in this
process, where starting workers would cost more than they save.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING

from consent_service.audit.rowcheck import RunCheck, check_rows
from consent_service.audit.verify import ChainVerifier, feed
from consent_service.store.base import Store
from consent_service.store.ranges import Ranges, RangeSource, open_ranges, read_range
from consent_service.store.runpool import bounds, in_order

if TYPE_CHECKING:
    from consent_service.audit.integrity import HeadCheck

#: Rows per run: big enough that a run's overhead (a query, a hand-over) is a few per
#: cent of its work; small enough that the first broken row is found soon after it.
RUN_ROWS = 50_000
#: Called with the rows checked so far.
Progress = Callable[[int], None]


def check_range(source: RangeSource, lo: int, hi: int, watch: Mapping[int, str]) -> RunCheck:
    """Read and check the rows with ``lo < seq <= hi`` (in a worker process)."""
    return check_rows(chain.from_iterable(read_range(source, lo, hi)), watch)


async def walk(
    store: Store,
    verifier: ChainVerifier,
    heads: HeadCheck,
    site_id: str | None = None,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
) -> None:
    """Feed ``verifier`` every row (``site_id``'s, or all), up to the first broken one.

    ``workers``: how many processes check runs (None: one per CPU; 0: none, the runs
    are checked in this process). ``progress`` is called with the rows checked so far
    after each run.
    """
    async with open_ranges(store, site_id) as ranges:
        if ranges is None:  # a store with no ranges: every row through the ChainVerifier
            await feed(verifier, heads.watch(store.iter_rows(site_id=site_id)))
        else:
            await _walk_runs(ranges, verifier, heads, workers, progress)
    if progress is not None:
        progress(verifier.rows_checked)


async def _walk_runs(
    ranges: Ranges,
    verifier: ChainVerifier,
    heads: HeadCheck,
    workers: int | None,
    progress: Progress | None,
) -> None:
    runs = bounds(ranges, await ranges.last_seq(), RUN_ROWS)
    check = partial(check_range, ranges.source, watch=heads.seqs())
    checked = in_order(runs, check, workers)
    try:
        async for lo, hi, run in checked:
            if await asyncio.to_thread(verifier.absorb, run):
                for seq, (site_id, row_hash) in run.seen.items():
                    heads.saw(site_id, seq, row_hash)
            else:  # the ChainVerifier reads these rows again and says what is wrong
                await feed(verifier, heads.watch(ranges.rows(lo, hi)))
                if verifier.broken is not None:
                    return
            if progress is not None:
                progress(verifier.rows_checked)
    finally:
        await checked.aclose()
