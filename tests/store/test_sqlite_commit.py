"""Where SQLite commits run and who checkpoints the WAL (issue 2; C19, C22: every 201 stored)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from consent_service.audit.verify import ChainVerifier
from consent_service.store import open_store
from consent_service.store.sqlite import SqliteStore
from consent_service.store.sqlite_commit import INLINE_COMMIT_SECONDS, CommitPlacement

from ..conftest import signed
from ..core.helpers import event


def test_quick_commits_stay_on_the_loop() -> None:
    placement = CommitPlacement()
    assert placement.inline
    for _ in range(50):
        placement.observe(INLINE_COMMIT_SECONDS / 4)
    assert placement.inline


def test_slow_commits_move_to_the_thread_and_come_back_when_quick() -> None:
    """One slow fsync moves commits off the loop at once; quick ones bring them back."""
    placement = CommitPlacement()
    placement.observe(INLINE_COMMIT_SECONDS * 10)  # a slow disk, or a stalled machine
    assert not placement.inline
    quick = 0
    while not placement.inline:
        placement.observe(INLINE_COMMIT_SECONDS / 10)
        quick += 1
    assert 2 <= quick <= 10


async def _append_batches(store: SqliteStore, batches: int, size: int = 4) -> None:
    for b in range(batches):
        await store.append([event("demo", b * size + n) for n in range(size)])


async def _stored(store: SqliteStore) -> list[str]:
    verifier = ChainVerifier()
    rows = [r async for r in store.iter_rows()]
    assert all(verifier.feed(r) for r in rows)
    return [r.consent_id for r in rows]


@pytest.mark.parametrize("limit", [float("inf"), 0.0], ids=["on-the-loop", "on-the-thread"])
async def test_both_placements_store_every_row_in_one_chain(tmp_path: Path, limit: float) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path / 'kakor.db'}")
    await store.open()
    await store.migrate()
    store._chain.placement.limit = limit
    try:
        await _append_batches(store, 10)
        assert await _stored(store) == [f"c{n}" for n in range(40)]
        assert store._chain.placement.inline is (limit > 0)
    finally:
        await store.close()
    raw = sqlite3.connect(tmp_path / "kakor.db")  # and a fresh connection sees all of it
    assert raw.execute("SELECT COUNT(*) FROM consent_events").fetchone() == (40,)
    raw.close()


async def test_the_wal_is_checkpointed_off_the_append_connection(tmp_path: Path) -> None:
    """The append connection never checkpoints; the checkpointer copies the WAL into the file."""
    path = tmp_path / "kakor.db"
    store = SqliteStore(f"sqlite:///{path}")
    await store.open()
    await store.migrate()
    try:
        assert store._chain.checkpointer is not None
        store._chain.checkpointer.every = 1_000_000  # none yet
        size = os.path.getsize(path)
        await _append_batches(store, 300, size=16)  # far past SQLite's 1,000 pages
        assert os.path.getsize(path) == size  # every page still only in the WAL
        store._chain.checkpointer.every = 8
        await _append_batches(store, 8)
        await store._chain.checkpointer.close()  # waits for the running checkpoint
        assert store._chain.checkpointer.runs == 1
        assert os.path.getsize(path) > size * 10
    finally:
        await store.close()


async def test_processes_starting_together_on_one_file_all_migrate(tmp_path: Path) -> None:
    """``serve --workers N`` on SQLite: every worker migrates the same new file at start.
    The one that takes the write lock first applies each migration; the others find it
    applied instead of failing on "table already exists" and exiting."""
    for attempt in range(5):
        url = f"sqlite:///{tmp_path / f'race-{attempt}.db'}"
        stores = [signed(open_store(url)) for _ in range(4)]
        for store in stores:
            await store.open()
        try:
            await asyncio.gather(*(store.migrate() for store in stores))
            rows = await stores[0].append([event("demo", 1)])
        finally:
            for store in stores:
                await store.close()
        assert [r.seq for r in rows] == [1]
