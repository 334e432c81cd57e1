"""CPU per row of one export or verify worker, in this process, against a seeded file.

What a worker of ``store/runpool.in_order`` does with a run, timed with
``time.process_time`` (this process's CPU, so a busy host matters less), two passes each:

- ``verify``: ``check_rows`` over ``read_range``'s pages as they come, against the same
  over the run's rows held in one list (the way before pages);
- ``export``: ``read_export_range``'s pages read only, and read and written as the
  format's text.

Run (the files of ``make bench-officer``)::

    .venv/bin/python benchmarks/worker_cpu.py sqlite:///var/bench/bench.db
    .venv/bin/python benchmarks/worker_cpu.py postgresql://postgres@127.0.0.1:5432/kakor_bench
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from itertools import chain
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from consent_service.admin.export.pages import PageWriter
from consent_service.audit.rowcheck import check_rows
from consent_service.store import open_store, runpool
from consent_service.store.ranges import (
    Period,
    RangeSource,
    open_ranges,
    read_export_range,
    read_range,
)

RUN = 50_000


def _timed(label: str, rows: int, work: Callable[[int], int]) -> None:
    started = time.process_time()
    done = sum(work(lo) for lo in range(0, rows, RUN))
    print(f"{label:28} {done:>8} rows  {(time.process_time() - started) / done * 1e6:.2f} µs/row")


def measure(source: RangeSource, rows: int, fmt: str) -> None:
    """Both passes of each way, in turn."""

    def streamed(lo: int) -> int:
        return check_rows(chain.from_iterable(read_range(source, lo, lo + RUN))).rows

    def held(lo: int) -> int:
        return check_rows(list(chain.from_iterable(read_range(source, lo, lo + RUN)))).rows

    def read_only(lo: int) -> int:
        return sum(len(page) for page in read_export_range(source, lo, lo + RUN, Period()))

    writer = PageWriter(fmt)

    def written(lo: int) -> int:
        count = 0
        for page in read_export_range(source, lo, lo + RUN, Period()):
            writer.text(page).encode("utf-8")
            count += len(page)
        return count

    for _ in range(2):
        _timed("verify: pages as they come", rows, streamed)
        _timed("verify: the run held", rows, held)
        _timed("export: read", rows, read_only)
        _timed(f"export: read and {fmt}", rows, written)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("url")
    parser.add_argument("--rows", type=int, default=200_000, help="rows per pass")
    parser.add_argument("--format", default="jsonl", choices=["csv", "jsonl"])
    args = parser.parse_args()
    runpool._in_worker = True  # as the pool's initializer: one kept connection
    runpool.keep_memory()
    store = open_store(args.url)
    await store.open()
    try:
        async with open_ranges(store, "demo") as ranges:
            if ranges is None:
                raise SystemExit("a SQLite or PostgreSQL store is needed")
            # A thread, as in a worker: no event loop of its own is running there.
            await asyncio.to_thread(measure, ranges.source, args.rows, args.format)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
