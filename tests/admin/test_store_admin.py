"""The admin half of the store contract, against whatever ``database_url`` names.

These call the :class:`Store` methods directly, so a new implementation (PostgreSQL)
can be held to the same behaviour by parametrising ``database_url``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from consent_service.audit.events import CHECKPOINT, ConsentEvent
from consent_service.audit.verify import anchors_from
from consent_service.store import AccessEntry, AdminToken, Store, open_store

from ..conftest import signed

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = signed(open_store(database_url))
    await opened.open()
    await opened.migrate()
    yield opened
    await opened.close()


def event(site: str, action: str, stats: bool, at: datetime, gpc: bool = False) -> ConsentEvent:
    return ConsentEvent(
        site_id=site,
        consent_id=f"{site}-{action}-{at.timestamp()}",
        action=action,
        choices={"necessary": True, "statistics": stats, "third-party": False},
        policy_version="1",
        texts_hash="t" * 64,
        language="sv",
        widget_version="",
        page="",
        ip="",
        browser="",
        gpc=gpc,
        created_at=at,
    )


async def test_tokens_round_trip_and_revoke(store: Store) -> None:
    token = AdminToken("0123456789ab", "h" * 64, "viewer", ("a", "b"), T0, label="Anna")
    await store.create_admin_token(token)
    assert await store.find_admin_token("0123456789ab") == token
    assert await store.find_admin_token("nope") is None
    assert await store.list_admin_tokens() == [token]
    assert await store.revoke_admin_token("0123456789ab", T0 + timedelta(days=1)) is True
    assert await store.revoke_admin_token("0123456789ab", T0 + timedelta(days=2)) is False
    found = await store.find_admin_token("0123456789ab")
    assert found is not None
    assert found.revoked_at == T0 + timedelta(days=1)


async def test_access_log_is_kept_in_order_and_filtered(store: Store) -> None:
    for n, site in enumerate(("a", "b", "a", None)):
        await store.log_access(
            AccessEntry(T0 + timedelta(minutes=n), "tok", "officer", site, "export", {"n": n})
        )
    all_entries = [e async for e in store.iter_access_log()]
    assert [e.detail["n"] for e in all_entries] == [0, 1, 2, 3]
    assert [e.detail["n"] async for e in store.iter_access_log(site_id="a")] == [0, 2]
    assert [e.detail["n"] async for e in store.iter_access_log(limit=2)] == [2, 3]
    assert all_entries[1].at == T0 + timedelta(minutes=1)


async def test_daily_stats_are_counted_per_utc_day(store: Store) -> None:
    day2 = T0 + timedelta(days=1)
    await store.append(
        [
            event("a", "accept-all", True, T0),
            event("a", "reject-all", False, T0),
            event("a", "gpc", False, T0, gpc=True),
            event("a", "withdraw", False, day2),
            event("a", "save", True, day2),
            event("b", "accept-all", True, T0),
        ]
    )
    days = await store.daily_stats(
        "a", None, None, ["necessary", "statistics", "third-party"], ["statistics", "third-party"]
    )
    assert [(d.day, d.decisions, d.refusals, d.gpc, d.withdrawals) for d in days] == [
        (date(2026, 3, 1), 3, 2, 1, 0),
        (date(2026, 3, 2), 1, 0, 0, 1),
    ]
    assert dict(days[0].allowed) == {"necessary": 3, "statistics": 1, "third-party": 0}
    later = await store.daily_stats("a", day2, None, ["statistics"], ["statistics"])
    assert [d.day for d in later] == [date(2026, 3, 2)]


async def test_purge_deletes_a_prefix_and_chains_a_checkpoint(store: Store) -> None:
    rows = await store.append(
        [event("a", "accept-all", True, T0 + timedelta(days=n)) for n in range(4)]
        + [event("b", "accept-all", True, T0)]
    )
    result = await store.purge("a", T0 + timedelta(days=2), T0 + timedelta(days=10))
    assert (result.purged_rows, result.first_seq, result.last_seq) == (2, rows[0].seq, rows[1].seq)
    assert result.continued_from == rows[1].hash
    left = [r async for r in store.iter_rows(site_id="a")]
    assert [r.seq for r in left[:2]] == [rows[2].seq, rows[3].seq]
    [checkpoint] = await store.checkpoint_rows("a")
    assert checkpoint == left[-1]
    assert checkpoint.action == CHECKPOINT
    assert checkpoint.prev_hash == rows[3].hash
    assert checkpoint.seq == result.checkpoint_seq == await store.last_seq()
    assert anchors_from([checkpoint]) == {"a": {rows[1].hash}}
    assert await store.row_before("a", checkpoint.seq) == rows[3]
    assert await store.row_before("a", rows[2].seq) is None
    assert await store.checkpoint_rows("b") == []
    assert (await store.purge("a", T0, T0)).purged_rows == 0
