"""Keyset pages of a read: one after the other, or each fetched while the last is used.

An export reads pages and writes them out; with the next page's fetch started before
the last one is handed over, the database (SQLite's thread, or the PostgreSQL server)
and the encoder work at the same time (``docs/performance.md``, *Export*).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

#: Fetch the rows of one statement: ``await fetch(sql, args)``.
Fetch = Callable[[str, Sequence[Any]], Awaitable[Sequence[Sequence[Any]]]]


async def pages(
    fetch: Fetch, sql: str, args: Sequence[Any], after: int, size: int
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """The rows of ``sql`` a page at a time, keyed by their first column.

    ``sql``'s first parameter is the key to start after, its ``LIMIT`` is ``size``;
    ``args`` are the parameters that follow.
    """
    while True:
        page = await fetch(sql, (after, *args))
        yield page
        if len(page) < size:
            return
        after = page[-1][0]


async def pages_ahead(
    fetch: Fetch, sql: str, args: Sequence[Any], size: int
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """The non-empty pages of ``sql``, keyed by their first column, one fetch ahead.

    ``sql``'s first parameter is the key to start after (from 0), its ``LIMIT`` is
    ``size``; ``args`` are the parameters that follow.
    """
    page = await fetch(sql, (0, *args))
    while page:
        if len(page) < size:
            yield page
            return
        following = asyncio.ensure_future(fetch(sql, (page[-1][0], *args)))
        try:
            yield page
        except BaseException:
            following.cancel()
            raise
        page = await following
