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
two-CPU host (``docs/performance.md``, *Verify*). A log of fewer than
:data:`PARALLEL_FROM` runs is checked in this process, where starting workers would cost
more than they save.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import TYPE_CHECKING

from consent_service.audit.rowcheck import RunCheck, check_rows
from consent_service.audit.verify import ChainVerifier, feed
from consent_service.store.base import Store
from consent_service.store.ranges import Ranges, RangeSource, open_ranges, read_range

if TYPE_CHECKING:
    from consent_service.audit.integrity import HeadCheck

#: Rows per run: big enough that a run's overhead (a query, a hand-over) is a few per
#: cent of its work; small enough that the first broken row is found soon after it.
RUN_ROWS = 50_000
#: A log of fewer runs than this is checked in this process (the workers start in about
#: half a second: each imports the package afresh).
PARALLEL_FROM = 4
#: Called with the rows checked so far.
Progress = Callable[[int], None]


def default_workers() -> int:
    """How many processes check runs when not told: one per CPU this process may use."""
    return len(os.sched_getaffinity(0))


def check_range(source: RangeSource, lo: int, hi: int, watch: Mapping[int, str]) -> RunCheck:
    """Read and check the rows with ``lo < seq <= hi`` (in a worker process)."""
    return check_rows(read_range(source, lo, hi), watch)


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

    ``workers``: how many processes check runs (None: :func:`default_workers`; 0: none,
    the runs are checked in this process). ``progress`` is called with the rows checked
    so far after each run.
    """
    async with open_ranges(store, site_id) as ranges:
        if ranges is None:  # a store with no ranges: every row through the ChainVerifier
            await feed(verifier, heads.watch(store.iter_rows(site_id=site_id)))
        else:
            await _walk_runs(ranges, verifier, heads, workers, RUN_ROWS, progress)
    if progress is not None:
        progress(verifier.rows_checked)


async def _walk_runs(
    ranges: Ranges,
    verifier: ChainVerifier,
    heads: HeadCheck,
    workers: int | None,
    run_rows: int,
    progress: Progress | None,
) -> None:
    upto = await ranges.last_seq()
    bounds = _bounds(ranges, upto, run_rows)
    first = [b async for b in _take(bounds, PARALLEL_FROM)]
    count = default_workers() if workers is None else workers
    pool: Executor | None = None
    if count > 0 and len(first) >= PARALLEL_FROM:
        pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"))
    loop = asyncio.get_running_loop()
    watch = heads.seqs()

    def submit(lo: int, hi: int) -> asyncio.Future[RunCheck]:
        if pool is None:
            return asyncio.ensure_future(
                asyncio.to_thread(check_range, ranges.source, lo, hi, watch)
            )
        return loop.run_in_executor(pool, check_range, ranges.source, lo, hi, watch)

    # Two runs in flight per worker: one checked while the other's result comes back.
    window = 2 * count if pool is not None else 1
    pending: deque[tuple[int, int, asyncio.Future[RunCheck]]] = deque()
    queued = iter(first)
    try:
        while True:
            while len(pending) < window:
                bound = next(queued, None) or await anext(bounds, None)
                if bound is None:
                    break
                pending.append((*bound, submit(*bound)))
            if not pending:
                return
            lo, hi, checking = pending.popleft()
            run = await checking
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
        for _, _, checking in pending:
            checking.cancel()
        await _bounds_closed(bounds)
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)


async def _bounds(ranges: Ranges, upto: int, rows: int) -> AsyncIterator[tuple[int, int]]:
    """``(lo, hi)`` of each run of ``rows`` rows up to ``upto``, oldest first."""
    lo = 0
    while lo < upto:
        hi = await ranges.end_after(lo, rows, upto)
        yield lo, hi
        lo = hi


async def _take(
    items: AsyncIterator[tuple[int, int]], count: int
) -> AsyncIterator[tuple[int, int]]:
    for _ in range(count):
        item = await anext(items, None)
        if item is None:
            return
        yield item


async def _bounds_closed(bounds: AsyncIterator[tuple[int, int]]) -> None:
    aclose = getattr(bounds, "aclose", None)
    if aclose is not None:
        await aclose()
