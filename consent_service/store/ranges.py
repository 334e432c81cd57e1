"""The audit log read in ranges of ``seq`` from any process: verify's parallel walk.

A worker process cannot use the store's connections, so :func:`read_range` (and
:func:`read_export_range`, an export's) opens its own from a :class:`RangeSource`
(picklable: a URL, a site, a snapshot). The rows come
as stored tuples for :func:`~consent_service.audit.rowcheck.check_rows`, with
``created_at`` as text in the one shape the hash covers: on PostgreSQL formatted by the
database (as an export reads it), on SQLite passed on only when the stored text already
has that shape (NULL otherwise, which the check leaves to the ChainVerifier).

:func:`open_ranges` is the side of the process that walks: where each range ends, and
a range's rows as :class:`~consent_service.audit.events.AuditRow` for the ChainVerifier.
On PostgreSQL every range, in every process, is read in the snapshot of one open
transaction (``pg_export_snapshot``), so the walk sees one state of the log, as
:meth:`~consent_service.store.base.Store.iter_rows` does. On SQLite ``iter_rows`` reads
each page on its own too: rows are only appended, in ``seq`` order, by one writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consent_service.audit.events import AuditRow
from consent_service.store.base import Store
from consent_service.store.columns import (
    COLUMNS,
    EXPORT_COLUMNS,
    EXPORT_COLUMNS_TIMESTAMPTZ,
    audit_row,
    stored_time,
)
from consent_service.store.range_postgres import Pages, postgres_pages
from consent_service.store.sql import numbered
from consent_service.store.sqlite import SqliteStore, sqlite_path

_DIGIT = "[0-9]"
#: ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` as a GLOB: the text :func:`~.timefmt.format_time` writes.
_TIME_GLOB = (
    f"'{_DIGIT * 4}-{_DIGIT * 2}-{_DIGIT * 2}T{_DIGIT * 2}:{_DIGIT * 2}:{_DIGIT * 2}.{_DIGIT * 6}Z'"
)
#: The columns of a range on SQLite: :data:`~.columns.COLUMNS`, ``created_at`` only when
#: written as :func:`~.timefmt.format_time` writes it.
SQLITE_RANGE_COLUMNS = COLUMNS.replace(
    "created_at",
    f"CASE WHEN typeof(created_at) = 'text' AND created_at GLOB {_TIME_GLOB} THEN created_at END",
)
#: The same on PostgreSQL, ``created_at`` formatted by the database as an export has it.
POSTGRES_RANGE_COLUMNS = EXPORT_COLUMNS_TIMESTAMPTZ + ", leaf_index"


@dataclass(frozen=True)
class RangeSource:
    """Where a worker reads ranges from: the database, one site (or all), a snapshot."""

    url: str
    site_id: str | None = None
    #: PostgreSQL: the exported snapshot every range is read in.
    snapshot: str | None = None


#: Rows a worker holds at a time: a page of its run.
_PAGE_ROWS = 1000


@dataclass(frozen=True)
class Period:
    """An export's ``[since, until)`` on ``created_at`` (either end open when None)."""

    since: datetime | None = None
    until: datetime | None = None


_ALL_TIME = Period()


def _range_sql(columns: str, site_id: str | None, period: Period = _ALL_TIME) -> str:
    where = [
        "seq > ? AND seq <= ?",
        *(["site_id = ?"] if site_id is not None else []),
        *(["created_at >= ?"] if period.since is not None else []),
        *(["created_at < ?"] if period.until is not None else []),
    ]
    return f"SELECT {columns} FROM consent_events WHERE {' AND '.join(where)} ORDER BY seq"


def _args(
    source: RangeSource, lo: int, hi: int, period: Period = _ALL_TIME, text_time: bool = False
) -> tuple[Any, ...]:
    site = () if source.site_id is None else (source.site_id,)
    moments = (m for m in (period.since, period.until) if m is not None)
    return (lo, hi, *site, *(stored_time(m, text_time) for m in moments))


def read_range(source: RangeSource, lo: int, hi: int) -> Pages:
    """The rows with ``lo < seq <= hi``, oldest first, as pages of stored tuples (any
    process; pages for the reason :func:`read_export_range` gives)."""
    if source.url.startswith("sqlite:"):
        sql = _range_sql(SQLITE_RANGE_COLUMNS, source.site_id)
        return _sqlite_pages(source, sql, lo, hi, page_rows=_PAGE_ROWS)
    sql = numbered(_range_sql(POSTGRES_RANGE_COLUMNS, source.site_id))
    return postgres_pages(source.url, source.snapshot, sql, _args(source, lo, hi), _PAGE_ROWS)


def read_export_range(
    source: RangeSource, lo: int, hi: int, period: Period, page_rows: int = _PAGE_ROWS
) -> Pages:
    """An export's rows with ``lo < seq <= hi`` in ``period``, oldest first, as pages of
    :meth:`~consent_service.store.base.Store.export_pages`'s rows (any process).

    Pages, not the whole range at once: a worker that held a run's ~200,000 values at
    a time spent a third of its time in the kernel, faulting in the memory for them and
    giving it back (``docs/performance.md``, *Export*); a page's are freed before the
    next page is read, so the next reuses their memory.
    """
    if source.url.startswith("sqlite:"):
        sql = _range_sql(EXPORT_COLUMNS, source.site_id, period)
        return _sqlite_pages(source, sql, lo, hi, period, page_rows)
    sql = numbered(_range_sql(EXPORT_COLUMNS_TIMESTAMPTZ, source.site_id, period))
    args = _args(source, lo, hi, period)
    return postgres_pages(source.url, source.snapshot, sql, args, page_rows)


def _sqlite_pages(
    source: RangeSource,
    sql: str,
    lo: int,
    hi: int,
    period: Period = _ALL_TIME,
    page_rows: int = _PAGE_ROWS,
) -> Pages:
    conn = sqlite3.connect(sqlite_path(source.url))
    try:
        cur = conn.execute(sql, _args(source, lo, hi, period, text_time=True))
        while page := cur.fetchmany(page_rows):
            yield page
    finally:
        conn.close()


class Ranges:
    """The walking side: the last ``seq``, where ranges end, a range's rows for the
    ChainVerifier; all in the snapshot the workers read (:func:`open_ranges`)."""

    def __init__(self, source: RangeSource, store: Store, conn: Any = None) -> None:
        self.source = source
        self._store = store
        self._conn = conn  # PostgreSQL: the connection holding the snapshot
        self._site = "" if source.site_id is None else " AND site_id = ?"
        self._site_args: tuple[Any, ...] = () if source.site_id is None else (source.site_id,)

    async def _value(self, sql: str, args: Sequence[Any]) -> Any:
        if self._conn is not None:
            return await self._conn.fetchval(numbered(sql), *args)
        found = await self._store._fetch(sql, args)  # type: ignore[attr-defined]
        return found[0][0] if found else None

    async def last_seq(self) -> int:
        """The newest row's ``seq`` (0 when there is none)."""
        sql = f"SELECT COALESCE(max(seq), 0) FROM consent_events WHERE seq > ?{self._site}"
        return int(await self._value(sql, (0, *self._site_args)))

    async def span(self, period: Period, upto: int) -> tuple[int, int] | None:
        """``(lo, hi)`` with every row of ``period`` up to ``upto`` in ``lo < seq <= hi``
        (None when there is none), so a short period of a long log is not read in runs
        of all of it. SQLite answers from its ``(site_id, created_at)`` index, PostgreSQL
        from the period's month partitions (0.3 s for a day at the end of a million rows)."""
        where = [f"seq > ? AND seq <= ?{self._site}"]
        args: list[Any] = [0, upto, *self._site_args]
        text_time = self._conn is None  # SQLite stores times as text; PostgreSQL as such
        for clause, moment in (("created_at >= ?", period.since), ("created_at < ?", period.until)):
            if moment is not None:
                where.append(clause)
                args.append(stored_time(moment, text_time))
        sql = f"SELECT min(seq) FROM consent_events WHERE {' AND '.join(where)}"
        first = await self._value(sql, args)
        if first is None:
            return None
        last = await self._value(sql.replace("min(seq)", "max(seq)", 1), args)
        return int(first) - 1, int(last)

    async def count(self) -> int:
        """How many rows the walk has to check."""
        sql = f"SELECT count(*) FROM consent_events WHERE seq > ?{self._site}"
        return int(await self._value(sql, (0, *self._site_args)))

    async def end_after(self, lo: int, rows: int, upto: int) -> int:
        """The ``seq`` ending the range of ``rows`` rows after ``lo`` (``upto`` at most)."""
        sql = (
            f"SELECT seq FROM consent_events WHERE seq > ? AND seq <= ?{self._site} "
            f"ORDER BY seq LIMIT 1 OFFSET {int(rows) - 1}"
        )
        found = await self._value(sql, (lo, upto, *self._site_args))
        return upto if found is None else int(found)

    async def rows(self, lo: int, hi: int) -> AsyncIterator[AuditRow]:
        """The rows with ``lo < seq <= hi`` as AuditRows, for the ChainVerifier."""
        if self._conn is not None:
            sql = numbered(_range_sql(COLUMNS, self.source.site_id))
            for raw in await self._conn.fetch(sql, *_args(self.source, lo, hi)):
                yield audit_row(raw, text_time=False)
            return
        rows = self._store.iter_rows(site_id=self.source.site_id, after_seq=lo)
        try:
            async for row in rows:
                if row.seq > hi:
                    break
                yield row
        finally:
            aclose = getattr(rows, "aclose", None)
            if aclose is not None:
                await aclose()


@asynccontextmanager
async def open_ranges(store: Store, site_id: str | None) -> AsyncIterator[Ranges | None]:
    """The ranges of ``store``'s log (one site's, or all); None for a store of another kind."""
    if isinstance(store, SqliteStore):
        yield Ranges(RangeSource(store.url, site_id), store)
        return
    pool = getattr(store, "read_pool", None)
    if getattr(store, "dialect", None) != "postgresql" or pool is None:
        yield None
        return
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        snapshot = str(await conn.fetchval("SELECT pg_export_snapshot()"))
        yield Ranges(RangeSource(store.url, site_id, snapshot), store, conn)


async def count_rows(store: Store, site_ids: Sequence[str]) -> int | None:
    """How many rows the sites hold (None for a store of another kind)."""
    total = 0
    for site_id in site_ids:
        async with open_ranges(store, site_id) as ranges:
            if ranges is None:
                return None
            total += await ranges.count()
    return total
