"""Runs of the log worked on in worker processes, their results taken in order.

verify's walk (:mod:`~consent_service.audit.walk`) and the export
(:mod:`~consent_service.admin.export.runs`) split the log into runs of ``seq``
(:meth:`~consent_service.store.ranges.Ranges.end_after`); each run is read and worked on
apart, by a function of ``(lo, hi)`` that opens its own connection
(:func:`~consent_service.store.ranges.read_range`), so no row crosses a process
boundary, only the run's result. :func:`in_order` hands the results back oldest run
first, with at most two runs in flight per worker, so memory stays a few runs' worth
however long the log is.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import multiprocessing
import os
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from consent_service.store.ranges import Ranges

T = TypeVar("T")
#: A log of fewer runs than this is worked on in this process (the workers start in
#: about half a second: each imports the package afresh).
PARALLEL_FROM = 4


#: glibc's ``mallopt`` parameters, and the values a worker sets (its buffers of a run's
#: text, a few MB each, are then reused instead of mapped and faulted in afresh).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 32 << 20, 128 << 20


_in_worker = False


def in_worker() -> bool:
    """Whether this process is one of :func:`in_order`'s workers."""
    return _in_worker


def _worker_start() -> None:
    global _in_worker
    _in_worker = True
    keep_memory()


def keep_memory() -> None:
    """A worker's start: glibc's allocator keeps the memory freed between runs.

    By default glibc maps each block over 128 KiB afresh and gives back the top of the
    heap as soon as 128 KiB of it is free, so each run's few MB of text and its rows'
    objects were faulted in again: at a million rows, 370,000 page faults and a third
    of a worker's time in the kernel; with these, 38,000 and an export 10-25 % sooner
    (``docs/performance.md``, *Export*). A C library other than glibc is left as it is.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)


def default_workers() -> int:
    """How many processes work on runs when not told: one per CPU this process may use."""
    return len(os.sched_getaffinity(0))


async def bounds(
    ranges: Ranges, upto: int, rows: int, start: int = 0
) -> AsyncIterator[tuple[int, int]]:
    """``(lo, hi)`` of each run of ``rows`` rows after ``start`` up to ``upto``, oldest first."""
    lo = start
    while lo < upto:
        hi = await ranges.end_after(lo, rows, upto)
        yield lo, hi
        lo = hi


async def in_order(
    runs: AsyncIterator[tuple[int, int]],
    work: Callable[[int, int], T],
    workers: int | None,
) -> AsyncGenerator[tuple[int, int, T], None]:
    """``(lo, hi, work(lo, hi))`` for each run, oldest first.

    ``work`` must be picklable (a module-level function, or a :func:`functools.partial`
    of one). ``workers``: how many processes (None: :func:`default_workers`; 0: none,
    the runs are worked on one at a time in a thread of this process, as they are when
    there are fewer than :data:`PARALLEL_FROM`). Closing the iterator early cancels the
    runs not yet started and waits for the pool to stop.
    """
    first = [b async for b in _take(runs, PARALLEL_FROM)]
    count = default_workers() if workers is None else workers
    pool: Executor | None = None
    if count > 0 and len(first) >= PARALLEL_FROM:
        pool = ProcessPoolExecutor(
            count, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start
        )
    loop = asyncio.get_running_loop()

    def submit(lo: int, hi: int) -> asyncio.Future[T]:
        if pool is None:
            return asyncio.ensure_future(asyncio.to_thread(work, lo, hi))
        return loop.run_in_executor(pool, work, lo, hi)

    # Two runs in flight per worker: one worked on while the other's result comes back.
    window = 2 * count if pool is not None else 1
    pending: deque[tuple[int, int, asyncio.Future[T]]] = deque()
    queued = iter(first)
    try:
        while True:
            while len(pending) < window:
                bound = next(queued, None) or await anext(runs, None)
                if bound is None:
                    break
                pending.append((*bound, submit(*bound)))
            if not pending:
                return
            lo, hi, running = pending.popleft()
            yield lo, hi, await running
    finally:
        for _, _, running in pending:
            running.cancel()
        aclose = getattr(runs, "aclose", None)
        if aclose is not None:
            await aclose()
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)


async def _take(
    items: AsyncIterator[tuple[int, int]], count: int
) -> AsyncIterator[tuple[int, int]]:
    for _ in range(count):
        item = await anext(items, None)
        if item is None:
            return
        yield item
