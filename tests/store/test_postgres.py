"""What only the PostgreSQL store does: month partitions, retention by dropping them,
time that never runs backwards along a chain, and migrations safe for many replicas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consent_service.audit.canonical import texts_digest
from consent_service.audit.events import CHECKPOINT
from consent_service.audit.verify import anchors_from, verify_rows
from consent_service.cli.main import main
from consent_service.store import TextsSnapshot, open_store
from consent_service.store.postgres import PostgresStore

from ..conftest import signed
from . import raw
from .test_store_contract import make_event

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_store(postgres_url: str) -> AsyncIterator[PostgresStore]:
    store = signed(open_store(postgres_url))
    assert isinstance(store, PostgresStore)
    await store.open()
    await store.migrate()
    yield store
    await store.close()


def month(year: int, mon: int, day: int = 10) -> datetime:
    return datetime(year, mon, day, 12, tzinfo=UTC)


async def test_rows_land_in_their_month_partition(
    pg_store: PostgresStore, postgres_url: str
) -> None:
    await pg_store.append([make_event(at=month(2024, 1)), make_event(at=month(2024, 3))])
    names = await pg_store.partitions()
    assert {"consent_events_p202401", "consent_events_p202403"} <= set(names)
    assert await raw.scalar(postgres_url, "SELECT count(*) FROM consent_events_p202401") == 1
    assert await raw.scalar(postgres_url, "SELECT count(*) FROM consent_events_default") == 0


async def test_a_partition_refuses_updates_too_C19(
    pg_store: PostgresStore, postgres_url: str
) -> None:
    await pg_store.append([make_event(at=month(2024, 1))])
    with pytest.raises(Exception, match="append-only"):
        await raw.execute(postgres_url, "UPDATE consent_events_p202401 SET action = 'x'")


async def test_retention_drops_whole_months_and_verify_still_passes_C21_C22(
    pg_store: PostgresStore,
) -> None:
    for mon in (1, 2, 3, 4):
        await pg_store.append(
            [make_event("a", at=month(2024, mon)), make_event("b", at=month(2024, mon))]
        )
    before = [r async for r in pg_store.iter_rows()]
    purge = await pg_store.drop_partitions_before(month(2024, 3, 15), now=month(2024, 4, 20))
    assert purge.dropped == ["consent_events_p202401", "consent_events_p202402"]
    kept = [r async for r in pg_store.iter_rows() if r.action != CHECKPOINT]
    assert kept == before[4:]
    # Each site got a checkpoint naming the hash its first kept row continues from...
    assert {s: r.continued_from for s, r in purge.sites.items()} == {
        "a": before[2].hash,
        "b": before[3].hash,
    }
    assert {s: r.purged_rows for s, r in purge.sites.items()} == {"a": 2, "b": 2}
    # ...without which verify fails, and with which the rest of the chain verifies.
    assert not (await verify_rows(pg_store.iter_rows())).ok
    anchors = anchors_from(await pg_store.checkpoint_rows())
    assert (await verify_rows(pg_store.iter_rows(), anchors)).ok
    # New rows keep chaining after the purge.
    await pg_store.append([make_event("a", at=month(2024, 5))])
    assert (await verify_rows(pg_store.iter_rows(), anchors)).ok


async def test_a_single_site_purge_drops_its_whole_months_C21(
    pg_store: PostgresStore, postgres_url: str
) -> None:
    """``purge`` (the admin contract) drops months holding only the purged site's rows
    and deletes the rest; the result is the same as on SQLite."""
    for mon in (1, 2, 3):
        await pg_store.append([make_event("a", at=month(2024, mon))])
    await pg_store.append([make_event("b", at=month(2024, 2))])
    result = await pg_store.purge("a", month(2024, 2, 20), now=month(2024, 3, 20))
    assert (result.purged_rows, result.checkpoint_seq is not None) == (2, True)
    names = await pg_store.partitions()
    assert "consent_events_p202401" not in names  # only a's rows: dropped whole
    assert "consent_events_p202402" in names  # shared with b: rows deleted
    assert await raw.scalar(postgres_url, "SELECT count(*) FROM consent_events_p202402") == 1
    anchors = anchors_from(await pg_store.checkpoint_rows())
    assert (await verify_rows(pg_store.iter_rows(), anchors)).ok


@pytest.mark.parametrize(
    "now",
    [month(2024, 3, 1), month(2024, 3, 31), datetime(2024, 3, 31, 23, 59, 59, tzinfo=UTC)],
    ids=["first-of-month", "last-day", "last-second"],
)
async def test_a_purge_never_drops_the_month_its_own_checkpoint_lands_in_C21(
    pg_store: PostgresStore, now: datetime
) -> None:
    """A cut-off after ``now`` purges every row, and the checkpoint (stamped ``now``) lands
    in a month that ends before the cut-off and holds only this site's rows: the month
    must stay, or the site is left with no rows at all and its chain with no anchor."""
    for mon in (1, 2):
        await pg_store.append([make_event("a", at=month(2024, mon))])
    await pg_store.append([make_event("a", at=now - timedelta(seconds=1))])
    await pg_store.append([make_event("b", at=month(2024, 1))])
    result = await pg_store.purge("a", datetime(2999, 1, 1, tzinfo=UTC), now=now)
    assert result.purged_rows == 3
    assert "consent_events_p202402" not in await pg_store.partitions()  # a's rows only: dropped
    left = [r async for r in pg_store.iter_rows(site_id="a")]
    assert [(r.action, r.seq) for r in left] == [(CHECKPOINT, result.checkpoint_seq)]
    # a second purge takes the first checkpoint and keeps its own
    second = await pg_store.purge("a", datetime(2999, 1, 1, tzinfo=UTC), now=now)
    assert second.purged_rows == 1
    left = [r async for r in pg_store.iter_rows(site_id="a")]
    assert [(r.action, r.seq) for r in left] == [(CHECKPOINT, second.checkpoint_seq)]
    anchors = anchors_from(await pg_store.checkpoint_rows())
    assert (await verify_rows(pg_store.iter_rows(), anchors)).ok


async def test_dropping_months_never_drops_the_current_month_C21(
    pg_store: PostgresStore,
) -> None:
    """``partitions --drop-before`` a date after ``now`` drops only months that have ended:
    this month holds rows still being written and the checkpoints the drop appends."""
    now = datetime(2024, 3, 31, 23, 59, 59, tzinfo=UTC)
    for at in (month(2024, 1), month(2024, 2), month(2024, 3)):
        await pg_store.append([make_event("a", at=at), make_event("b", at=at)])
    purge = await pg_store.drop_partitions_before(datetime(2999, 1, 1, tzinfo=UTC), now=now)
    assert purge.dropped == ["consent_events_p202401", "consent_events_p202402"]
    assert {s: r.purged_rows for s, r in purge.sites.items()} == {"a": 2, "b": 2}
    for site in ("a", "b"):
        left = [r.action async for r in pg_store.iter_rows(site_id=site)]
        assert left == ["save", CHECKPOINT]
    anchors = anchors_from(await pg_store.checkpoint_rows())
    assert (await verify_rows(pg_store.iter_rows(), anchors)).ok


async def test_time_never_runs_backwards_along_a_chain(pg_store: PostgresStore) -> None:
    """A replica whose clock is a little behind is stamped with the head's time, so a
    purge by time always removes a prefix of each chain."""
    later = month(2024, 2, 1)
    await pg_store.append([make_event("a", at=later)])
    rows = await pg_store.append(
        [
            make_event("a", at=later - timedelta(milliseconds=3)),
            make_event("b", at=later - timedelta(days=1)),
        ]
    )
    assert rows[0].created_at == later
    assert rows[1].created_at == later - timedelta(days=1)  # another site's chain: untouched
    assert (await verify_rows(pg_store.iter_rows())).ok


async def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    stores = [signed(open_store(postgres_url)) for _ in range(3)]
    for store in stores:
        await store.open()
    try:
        applied = await asyncio.gather(*(s.migrate() for s in stores))
    finally:
        for store in stores:
            await store.close()
    # Every migration file, and the one-time builds of the Merkle trees and the rollups.
    assert sorted(len(a) for a in applied) == [0, 0, len(stores[0].migration_files()) + 2]


async def test_replicas_racing_to_create_a_month_partition_all_succeed(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    stores = [signed(open_store(postgres_url)) for _ in range(4)]
    for store in stores:
        await store.open()
    try:
        await stores[0].migrate()
        moments = [month(2031, m) for m in (1, 2, 3)]
        await asyncio.gather(*(s.ensure_partitions(moments) for s in stores))  # type: ignore[attr-defined]
        assert {"consent_events_p203101", "consent_events_p203103"} <= set(
            await stores[1].partitions()  # type: ignore[attr-defined]
        )
    finally:
        for store in stores:
            await store.close()
    assert not [r for r in caplog.records if r.levelname == "WARNING"], caplog.text


async def test_the_partitions_command_drops_old_months_and_verify_passes_C21(
    pg_store: PostgresStore, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = {"title": "Vi använder kakor"}
    texts = TextsSnapshot(texts_digest(shown), "a", "sv", "2026-11-01", shown)
    for mon in (1, 2, 3):
        await pg_store.append(
            [
                make_event("a", at=month(2024, mon), texts_hash=texts.texts_hash),
                make_event("b", at=month(2024, mon), texts_hash=texts.texts_hash),
            ],
            [texts],
        )

    def cli(*args: str) -> tuple[int, dict[str, object]]:
        capsys.readouterr()
        code = main([*args, "--database", postgres_url])
        return code, json.loads(capsys.readouterr().out)

    code, listing = await asyncio.to_thread(cli, "partitions")
    assert code == 0
    assert "consent_events_p202401" in {p["name"] for p in listing["partitions"]}  # type: ignore[attr-defined]
    code, dropped = await asyncio.to_thread(cli, "partitions", "--drop-before", "2024-03-01")
    assert (code, dropped["dropped"]) == (0, ["consent_events_p202401", "consent_events_p202402"])
    code, verified = await asyncio.to_thread(cli, "verify")
    assert (code, verified["ok"]) == (0, True), json.dumps(verified["tree"])


def test_the_partitions_command_refuses_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["partitions", "--database", f"sqlite:///{tmp_path / 'k.db'}"]) == 2
    assert "only on PostgreSQL" in capsys.readouterr().err


async def test_a_purge_blocked_by_a_long_reader_deletes_instead_C21(
    pg_store: PostgresStore, postgres_url: str
) -> None:
    """A long export holds the table: the purge does not wait for it, it deletes."""
    import asyncpg

    for mon in (1, 2, 3):
        await pg_store.append([make_event("a", at=month(2024, mon))])
    pg_store.detach_lock_timeout = 0.2
    reader = await asyncpg.connect(postgres_url)
    try:
        await reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        await reader.fetch("SELECT seq FROM consent_events ORDER BY seq LIMIT 1")
        result = await pg_store.purge("a", month(2024, 2, 20), now=month(2024, 3, 20))
    finally:
        await reader.close()
    assert result.purged_rows == 2
    assert "consent_events_p202401" in await pg_store.partitions()  # not dropped: emptied
    assert await raw.scalar(postgres_url, "SELECT count(*) FROM consent_events_p202401") == 0
    anchors = anchors_from(await pg_store.checkpoint_rows())
    assert (await verify_rows(pg_store.iter_rows(), anchors)).ok


async def test_import_log_moves_a_sqlite_node_to_postgresql_row_for_row_C19_C22(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'node.db'}"
    node = signed(open_store(sqlite_url))
    await node.open()
    await node.migrate()
    snap = TextsSnapshot("ab" * 32, "a", "sv", "2026-11-01", {"title": "Godkänn kakor"})
    for mon in (1, 2, 3):
        await node.append(
            [make_event("a", at=month(2024, mon)), make_event("b", at=month(2024, mon))], [snap]
        )
    await node.purge("a", month(2024, 2, 1), now=month(2024, 3, 20))  # a checkpoint row too
    original = [r async for r in node.iter_rows()]
    node_stats = {site: await node.rollups(site, None, None) for site in ("a", "b")}
    await node.close()

    def cli(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main([*args])
        return code, capsys.readouterr().out

    code, out = await asyncio.to_thread(
        cli, "import-log", "--from", sqlite_url, "--database", postgres_url
    )
    assert code == 0, out
    report = json.loads(out)
    assert report["copied"] == len(original)
    assert report["copy"] == report["source"]
    assert report["copy"]["ok"] is True

    store = signed(open_store(postgres_url))
    await store.open()
    try:
        assert [r async for r in store.iter_rows()] == original
        assert await store.texts("ab" * 32) == snap
        # The dashboard's rollups come along, counted again from the copied rows (C23).
        assert {site: await store.rollups(site, None, None) for site in ("a", "b")} == node_stats
        # The chain and the sequence continue where the node stopped.
        [new] = await store.append([make_event("a", at=month(2024, 4))])
        assert new.seq > original[-1].seq
        assert new.prev_hash == [r for r in original if r.site_id == "a"][-1].hash
        assert (
            await verify_rows(store.iter_rows(), anchors_from(await store.checkpoint_rows()))
        ).ok
    finally:
        await store.close()
    code, _ = await asyncio.to_thread(
        cli, "import-log", "--from", sqlite_url, "--database", postgres_url
    )
    assert code == 2  # never into a log that already has rows
