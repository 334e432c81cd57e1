"""The daily rollups never drift from the rows (C23): after any mix of appends, purges and
checkpoints, on both stores, they equal a GROUP BY over the rows that remain.

Each example runs a random program against a fresh database: batches of decisions and
withdrawals around a month end (some spraying more distinct pages than a day names),
purges at random cut-offs (each appends a checkpoint row), SQLite WAL checkpoints, and
on PostgreSQL drops of whole months. Then ``consent_rollups`` is compared with an
independent GROUP BY over ``consent_events``, ``Store.rollups`` over a random period
(partial days included) with the same GROUP BY limited to that period, and a rebuild
must leave the table exactly as the appends and purges kept it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent_service.audit.events import ConsentEvent
from consent_service.audit.timefmt import format_time
from consent_service.store import DECISION_ACTIONS, Store, open_store
from consent_service.store.rollups import OTHER_PAGE, PAGES_PER_DAY

from .. import pg
from ..store import raw
from .strategies import PROPERTY

_START = datetime(2026, 11, 29, 6, tzinfo=UTC)  # four days across November's end
_SPAN = int(timedelta(days=4).total_seconds() * 1_000_000)
_NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
_CATS = ("necessary", "statistics", "marketing")
Key = tuple[str, str, str, str, str]


def _moment(offset: int) -> datetime:
    return _START + timedelta(microseconds=offset)


@st.composite
def _event(draw: st.DrawFn, page: str | None = None) -> ConsentEvent:
    action = draw(st.sampled_from([*DECISION_ACTIONS, "withdraw"]))
    return ConsentEvent(
        site_id=draw(st.sampled_from(["a", "b"])),
        consent_id="c" + str(draw(st.integers(0, 9))),
        action=action,
        choices={"necessary": True, **{c: draw(st.booleans()) for c in _CATS[1:]}},
        policy_version=draw(st.sampled_from(["v1", "v2"])),
        texts_hash="f" * 64,
        language=draw(st.sampled_from(["sv", "en"])),
        widget_version="1",
        page=page or draw(st.sampled_from(["", "https://x.se/", "https://x.se/shop"])),
        ip="192.0.2.0",
        browser=draw(st.sampled_from(["Firefox/Linux", "Chrome/Android", "Other/Other"])),
        gpc=draw(st.booleans()),
        created_at=_moment(draw(st.integers(0, _SPAN))),
    )


def _crawl(day_offset: int, first: int, size: int) -> list[ConsentEvent]:
    """More new pages in one day than the day names: the rest must count as other."""
    at = _START + timedelta(days=day_offset)
    return [
        ConsentEvent(
            "a",
            "crawler",
            "reject-all",
            {"necessary": True},
            "v1",
            "f" * 64,
            "sv",
            "1",
            f"https://x.se/p{first + i}",
            "192.0.2.0",
            "Other/Other",
            False,
            at + timedelta(seconds=i),
        )
        for i in range(size)
    ]


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.lists(_event(), min_size=1, max_size=8)),
        st.tuples(
            st.just("crawl"), st.tuples(st.integers(0, 3), st.integers(0, 100), st.integers(1, 130))
        ),
        st.tuples(st.just("purge"), st.tuples(st.sampled_from(["a", "b"]), st.integers(0, _SPAN))),
        st.tuples(st.just("checkpoint"), st.none()),
    ),
    min_size=1,
    max_size=10,
)


async def _rows(url: str) -> list[tuple[Any, ...]]:
    """Every decision and withdrawal row, with its UTC day, as the database holds them."""
    at = "created_at" if url.startswith("sqlite") else (
        """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    )  # fmt: skip
    sql = (
        f"SELECT site_id, substr({at}, 1, 10), action, choices, gpc, language, policy_version,"
        f" browser, page, seq, {at} FROM consent_events WHERE action <> 'checkpoint' ORDER BY seq"
    )
    return await raw.rows(url, sql)


def _group_by(rows: list[tuple[Any, ...]]) -> Counter[Key]:
    """The rollups as a plain GROUP BY over ``rows`` would give them (pages ranked by seq)."""
    out: Counter[Key] = Counter()
    first_seen: dict[tuple[str, str], list[str]] = {}
    for site, day, action, choices, gpc, lang, policy, browser, page, *_ in rows:
        out[site, day, "action", action, ""] += 1
        if action == "withdraw":
            continue
        out[site, day, "choices", "", choices] += 1
        for dim, key in (("language", lang), ("policy", policy), ("browser", browser)):
            out[site, day, dim, key, choices] += 1
        if gpc:
            out[site, day, "gpc", "", ""] += 1
        seen = first_seen.setdefault((site, day), [])
        if page not in seen:
            seen.append(page)
        named = page if seen.index(page) < PAGES_PER_DAY else OTHER_PAGE
        out[site, day, "page", named, ""] += 1
    return out


async def _table(url: str) -> Counter[Key]:
    day = "day" if url.startswith("sqlite") else "to_char(day, 'YYYY-MM-DD')"
    found = await raw.rows(url, f"SELECT site_id, {day}, dim, key, choices, n FROM consent_rollups")
    return Counter({(r[0], r[1], r[2], r[3], r[4]): int(r[5]) for r in found})


async def _run(url: str, ops: list[tuple[str, Any]], period: tuple[int, int]) -> None:
    store = open_store(url)
    await store.open()
    try:
        await store.migrate()
        for op, arg in ops:
            if op == "append":
                await store.append(sorted(arg, key=lambda e: e.created_at))
            elif op == "crawl":
                await store.append(_crawl(*arg))
            elif op == "purge":
                await store.purge(arg[0], _moment(arg[1]), _NOW)
            elif url.startswith("sqlite"):  # a WAL checkpoint beside the writer
                await raw.execute(url, "PRAGMA wal_checkpoint(TRUNCATE)")
            else:  # retention by whole months, which appends checkpoints too
                await store.drop_partitions_before(datetime(2026, 12, 1, tzinfo=UTC), _NOW)  # type: ignore[attr-defined]
        rows = await _rows(url)
        kept = await _table(url)
        assert kept == _group_by(rows)
        await _compare_read(store, rows, period)
        assert await store.rebuild_rollups() == len(+kept)
        assert await _table(url) == kept
    finally:
        await store.close()


async def _compare_read(store: Store, rows: list[tuple[Any, ...]], period: tuple[int, int]) -> None:
    """``Store.rollups`` over a period that starts and ends inside days equals the GROUP
    BY of that period's rows (the daily and breakdown dimensions; pages by total)."""
    since, until = _moment(min(period)), _moment(max(period) + 1)
    for site in ("a", "b"):
        low, high = format_time(since), format_time(until)
        inside = [r for r in rows if r[0] == site and low <= r[10] < high]
        got = await store.rollups(site, since, until, top_pages=1000)
        want = _group_by(inside)
        days = Counter({(site, d.isoformat(), m, k, c): n for d, m, k, c, n in got.days})
        assert days == Counter(
            {k: n for k, n in want.items() if k[2] in ("action", "gpc", "choices")}
        )
        sums: Counter[tuple[str, str, str]] = Counter()
        for (_, _, dim, key, choices), n in want.items():
            if dim in ("language", "policy", "browser"):
                sums[dim, key, choices] += n
        assert Counter({(d, k, c): n for d, k, c, n in got.breakdowns}) == sums
        decisions = sum(1 for r in inside if r[2] != "withdraw")
        assert sum(n for _, n in got.pages) <= decisions


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)  # fmt: skip
def test_c23_rollups_equal_a_group_by_after_any_workload(database_url: str, tmp_path: Path) -> None:
    examples = (
        PROPERTY.max_examples
        if database_url.startswith("sqlite")
        else max(PROPERTY.max_examples // 3, 10)
    )

    @settings(PROPERTY, max_examples=examples, suppress_health_check=list(HealthCheck))
    @given(ops=_ops, period=st.tuples(st.integers(0, _SPAN), st.integers(0, _SPAN)))
    def check(ops: list[tuple[str, Any]], period: tuple[int, int]) -> None:
        url = _fresh(database_url, tmp_path)
        asyncio.run(_run(url, ops, period))

    check()


def _fresh(url: str, tmp_path: Path) -> str:
    """An empty database for one example."""
    if not url.startswith("sqlite"):
        pg.reset(url)
        return url
    for old in tmp_path.glob("example.db*"):
        old.unlink()
    return f"sqlite:///{tmp_path / 'example.db'}"
