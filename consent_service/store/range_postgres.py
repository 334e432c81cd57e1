"""Ranges of the log read from PostgreSQL, in the snapshot the walk exported.

In a worker process of :func:`~consent_service.store.runpool.in_order` one connection
(and one event loop) is kept from run to run, closed when the worker ends: a new
connection for every run of 10,000 rows cost a few ms of both processes' CPU each time.
Its rows come a page at a time from a cursor, so the worker's memory is a page of rows,
not a run of them. Anywhere else (a thread of the service) each read connects afresh:
a loop and a connection cannot be shared by threads that may read at the same time.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Generator, Sequence
from multiprocessing.util import Finalize
from typing import Any

from consent_service.store import runpool

#: A range's rows, a page at a time; closing it early ends the read.
Pages = Generator[Sequence[Sequence[Any]], None, None]
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")
#: This worker's loop and connection, and the URL it connected to.
_kept: tuple[str, asyncio.AbstractEventLoop, Any] | None = None


def _checked(snapshot: str | None) -> str:
    if snapshot is None or not _SNAPSHOT_ID.fullmatch(snapshot):
        raise ValueError("a PostgreSQL range is read in an exported snapshot")
    return snapshot


def postgres_pages(
    url: str, snapshot: str | None, sql: str, args: Sequence[Any], page_rows: int
) -> Pages:
    """The rows ``sql`` selects in ``snapshot``, ``page_rows`` at a time."""
    snapshot = _checked(snapshot)
    if not runpool.in_worker():
        found = asyncio.run(_fetch_once(url, snapshot, sql, args))
        for start in range(0, len(found), page_rows):
            yield found[start : start + page_rows]
        return
    loop, conn = _connection(url)
    run = loop.run_until_complete
    transaction = conn.transaction(isolation="repeatable_read", readonly=True)
    run(transaction.start())
    try:
        run(conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
        cursor = run(conn.cursor(sql, *args))
        while page := run(cursor.fetch(page_rows)):
            yield page
    except GeneratorExit:  # the reader stopped early (a row it cannot confirm)
        run(transaction.rollback())
        raise
    except BaseException:
        _close()  # the next run connects afresh, whatever state this one was left in
        raise
    run(transaction.rollback())  # read only: nothing to commit


async def _fetch_once(
    url: str, snapshot: str, sql: str, args: Sequence[Any]
) -> Sequence[Sequence[Any]]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            found: Sequence[Sequence[Any]] = await conn.fetch(sql, *args)
            return found
    finally:
        await conn.close()


def _connection(url: str) -> tuple[asyncio.AbstractEventLoop, Any]:
    global _kept
    if _kept is not None and _kept[0] == url:
        return _kept[1], _kept[2]
    import asyncpg

    _close()
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(url))
    _kept = (url, loop, conn)
    # Run by multiprocessing when the worker ends (a process's atexit is not).
    Finalize(None, _close, exitpriority=10)
    return loop, conn


def _close() -> None:
    global _kept
    if _kept is None:
        return
    _, loop, conn = _kept
    _kept = None
    try:
        loop.run_until_complete(conn.close())
    finally:
        loop.close()
