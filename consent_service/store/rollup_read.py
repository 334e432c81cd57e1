"""Reading the rollups over a period: whole days from ``consent_rollups``, the ends from rows.

A period (``since``, ``until``) may start or end inside a day. The whole UTC days in
it are read from the rollups (a few rows a day, whatever the traffic); a partial day
at either end is counted from its rows with the rebuild's own statement, at most a
day's rows each. So the answer is exactly what a GROUP BY over the period's rows gives.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from consent_service.store.columns import stored_time
from consent_service.store.records import DayCounts, Rollups
from consent_service.store.rollup_counts import daily_counts
from consent_service.store.rollups import ACTION, BREAKDOWNS, CHOICES, GPC, OTHER_PAGE, PAGE
from consent_service.store.rollups_sql import rollup_select

Fetch = Callable[[str, Sequence[Any]], Awaitable[Sequence[Sequence[Any]]]]
#: The per-day dimensions (a series over time); the others are summed over the period.
DAILY = (ACTION, GPC, CHOICES)
_IN_DAILY = ", ".join(f"'{d}'" for d in DAILY)
_IN_BREAKDOWNS = ", ".join(f"'{d}'" for d in BREAKDOWNS)


@dataclass(frozen=True)
class Split:
    """A period cut into whole UTC days (``[first, end)``, either end open) and the
    partial days at its ends (``[low, high)`` moments)."""

    whole: bool
    first: date | None
    end: date | None
    partial: list[tuple[datetime | None, datetime | None]]


def split_period(since: datetime | None, until: datetime | None) -> Split:
    """Cut ``[since, until)`` into whole days and partial ends."""
    try:
        first = None if since is None else _ceil(since)
    except OverflowError:  # a moment on 9999-12-31: no whole day follows it
        return Split(False, None, None, [(since, until)])
    end = None if until is None else until.astimezone(UTC).date()
    if first is not None and end is not None and first >= end:
        return Split(False, None, None, [(since, until)])
    partial: list[tuple[datetime | None, datetime | None]] = []
    if since is not None and first is not None and _midnight(first) != since:
        partial.append((since, _midnight(first)))
    if until is not None and end is not None and _midnight(end) != until:
        partial.append((_midnight(end), until))
    return Split(True, first, end, partial)


async def read_rollups(
    fetch: Fetch,
    site_id: str,
    since: datetime | None,
    until: datetime | None,
    *,
    text_time: bool,
    day: str,
    top_pages: int,
) -> Rollups:
    """The rollups of ``site_id`` over ``[since, until)``; ``day`` is the dialect's day of a
    row, ``text_time`` whether it keeps days and times as text (SQLite)."""
    split = split_period(since, until)
    days: list[tuple[date, str, str, str, int]] = []
    breakdowns: dict[tuple[str, str, str], int] = {}
    pages: dict[str, int] = {}
    # With partial days to add, fetch more named pages than shown, so one just below
    # the cut in the rollups can still rise above it.
    fetch_pages = int(top_pages) * (4 if split.partial else 1)
    if split.whole:
        where, args = "site_id = ?", list[Any]([site_id])
        for clause, bound in (("day >= ?", split.first), ("day < ?", split.end)):
            if bound is not None:
                where += f" AND {clause}"
                args.append(bound.isoformat() if text_time else bound)
        found = await fetch(
            f"SELECT day, dim, key, choices, n FROM consent_rollups WHERE {where}"
            f" AND dim IN ({_IN_DAILY})",
            args,
        )
        days += [(_date(r[0]), r[1], r[2], r[3], int(r[4])) for r in found]
        found = await fetch(
            "SELECT dim, key, choices, CAST(sum(n) AS bigint) FROM consent_rollups"
            f" WHERE {where} AND dim IN ({_IN_BREAKDOWNS}) GROUP BY dim, key, choices",
            args,
        )
        breakdowns.update({(r[0], r[1], r[2]): int(r[3]) for r in found})
        found = await fetch(
            "SELECT key, CAST(sum(n) AS bigint) AS total FROM consent_rollups"
            f" WHERE {where} AND dim = '{PAGE}' AND key <> '{OTHER_PAGE}'"
            f" GROUP BY key ORDER BY total DESC, key LIMIT {fetch_pages}",
            args,
        )
        pages.update({r[0]: int(r[1]) for r in found})
    for low, high in split.partial:
        where, args = _raw_where(site_id, low, high, text_time)
        for _, d, dim, key, choices, n in await fetch(rollup_select(day, where), args):
            if dim in DAILY:
                days.append((_date(d), dim, key, choices, int(n)))
            elif dim == PAGE:
                if key != OTHER_PAGE:
                    pages[key] = pages.get(key, 0) + int(n)
            else:
                breakdowns[dim, key, choices] = breakdowns.get((dim, key, choices), 0) + int(n)
    # In one order whatever the database's: the same rows read the same on both stores.
    days.sort(key=lambda r: r[:4])
    top = sorted(pages.items(), key=lambda p: (-p[1], p[0]))[:top_pages]
    return Rollups(days, [(*k, n) for k, n in sorted(breakdowns.items())], top)


def _raw_where(
    site_id: str, low: datetime | None, high: datetime | None, text_time: bool
) -> tuple[str, list[Any]]:
    where, args = "site_id = ?", list[Any]([site_id])
    if low is not None:
        where += " AND created_at >= ?"
        args.append(stored_time(low, text_time))
    if high is not None:
        where += " AND created_at < ?"
        args.append(stored_time(high, text_time))
    return where, args


def _ceil(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day if _midnight(day) == moment else day + timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


@lru_cache(maxsize=4096)
def _text_date(value: str) -> date:
    return date.fromisoformat(value)


def _date(value: Any) -> date:
    # SQLite's days are text, one of a few hundred distinct ones per read.
    return value if isinstance(value, date) else _text_date(value)


class RollupReads(abc.ABC):
    """:meth:`~.base.Store.rollups` and :meth:`~.base.Store.daily_stats` of the SQL stores."""

    #: True where times are stored as text (SQLite), False where as ``timestamptz``.
    text_time: bool
    #: This dialect's UTC day of a row (:mod:`.rollups_sql`).
    _day: str

    @abc.abstractmethod
    async def _fetch(self, sql: str, args: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        """The rows of one read statement."""

    async def rollups(
        self, site_id: str, since: datetime | None, until: datetime | None, top_pages: int = 20
    ) -> Rollups:
        """See :meth:`~.base.Store.rollups`."""
        return await read_rollups(
            self._fetch, site_id, since, until,
            text_time=self.text_time, day=self._day, top_pages=top_pages,
        )  # fmt: skip

    async def daily_stats(
        self,
        site_id: str,
        since: datetime | None,
        until: datetime | None,
        categories: Sequence[str],
        optional_categories: Sequence[str],
    ) -> list[DayCounts]:
        """See :meth:`~.base.Store.daily_stats`: from the rollups."""
        rollups = await self.rollups(site_id, since, until, top_pages=0)
        return daily_counts(rollups, categories, optional_categories)
