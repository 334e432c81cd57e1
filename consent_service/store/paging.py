"""Keyset pages of a read: ``WHERE key > ? … ORDER BY key LIMIT n``, one after the other.

The cost of a page is the same at the first row and the millionth (no ``OFFSET``).
Fetching the next page while the last one is written out was tried for exports and
measured slower (``docs/performance.md``, *Export*): the fetch holds the GIL for most
of its time, so the two only take turns.
"""

from __future__ import annotations

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
