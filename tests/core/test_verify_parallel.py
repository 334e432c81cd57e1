"""verify's parallel walk finds exactly what the row-by-row walk finds, on both stores (C22).

Runs of 10 rows are checked in two worker processes (``audit/walk.py``); the answer of
every verify here is compared, whole, with the answer of the ChainVerifier fed one row
at a time (the walk with no ranges), after tampering in the middle of a run, at its
first row, and where it only moves a row out of its place in the tree.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consent_service.admin.retention import purge
from consent_service.audit import walk
from consent_service.audit.canonical import texts_digest
from consent_service.audit.chain import chain, row_leaf
from consent_service.audit.events import AuditRow, ConsentEvent
from consent_service.audit.integrity import verify_log
from consent_service.audit.rowcheck import check_rows
from consent_service.audit.verify import ChainVerifier
from consent_service.cli.main import main
from consent_service.store import Store, TextsSnapshot, open_store, runpool
from consent_service.store.columns import sqlite_values

from ..conftest import signed
from ..rawdb import RawDb
from .helpers import event

ROWS = 64  # two sites, interleaved: runs of 10 rows, seven runs
START = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)  # the year's end passes mid-log
TEXTS = {"title": "Kakor", "body": "Vi använder kakor."}
TEXTS_HASH = texts_digest(TEXTS)


def events() -> list[ConsentEvent]:
    made = []
    for n in range(1, ROWS + 1):
        made.append(
            replace(
                event("a" if n % 3 else "b", n),
                choices={"necessary": True, "statistics": n % 2 == 0, "ads": n % 5 == 0},
                page="https://exempel.se/sida/å",
                texts_hash=TEXTS_HASH,
                created_at=START + timedelta(seconds=n),
            )
        )
    return made


async def _opened(url: str) -> Store:
    store = signed(open_store(url))
    await store.open()
    return store


@pytest.fixture
def logged(database_url: str) -> str:
    async def go() -> None:
        store = await _opened(database_url)
        try:
            await store.migrate()
            for first in range(0, ROWS, 16):  # several appends: several signed heads
                batch = events()[first : first + 16]
                shown = [TextsSnapshot(TEXTS_HASH, site, "sv", "v1", TEXTS) for site in "ab"]
                await store.append(batch, shown)
        finally:
            await store.close()

    asyncio.run(go())
    return database_url


@pytest.fixture(autouse=True)
def short_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walk, "RUN_ROWS", 10)


@asynccontextmanager
async def no_ranges(store: Store, site_id: str | None) -> AsyncIterator[None]:
    yield None


def verify(url: str, sites: list[str] | None, workers: int | None) -> dict[str, Any]:
    """verify's answer; ``workers=None`` here means row by row (no ranges at all)."""

    async def go() -> dict[str, Any]:
        store = await _opened(url)
        try:
            return await verify_log(store, sites, workers=workers)
        finally:
            await store.close()

    if workers is not None:
        return asyncio.run(go())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(walk, "open_ranges", no_ranges)
        return asyncio.run(go())


def tamper(url: str, *statements: str) -> None:
    db = RawDb(url)
    try:
        for statement in statements:
            db.execute(statement, bypass_triggers=True)
    finally:
        db.close()


TAMPERING = {
    "intact": (),
    # seq 25: the middle of the run (20, 30]
    "edited in the middle of a run": (
        """UPDATE consent_events SET choices = '{"necessary":true,"statistics":true,"ads":true}' WHERE seq = 25""",
    ),
    "deleted in the middle of a run": ("DELETE FROM consent_events WHERE seq = 25",),
    # seq 31 is the first row of the run (30, 40]: the break is only seen across runs
    "deleted at the start of a run": ("DELETE FROM consent_events WHERE seq = 31",),
    "hash rewritten at a run's end": (
        # Another first hex digit, whatever it was ('f' || … left one hash in 16 unchanged).
        "UPDATE consent_events SET hash = CASE WHEN substr(hash, 1, 1) = 'f' THEN 'e' "
        "ELSE 'f' END || substr(hash, 2) WHERE seq = 40",
    ),
    "moved in the tree": ("UPDATE consent_events SET leaf_index = leaf_index + 1 WHERE seq = 44",),
    "page edited": ("UPDATE consent_events SET page = 'https://evil.example/' WHERE seq = 63",),
}


@pytest.mark.parametrize("change", list(TAMPERING))
@pytest.mark.parametrize("sites", [None, ["a", "b"]], ids=["whole log", "per site"])
def test_c22_the_parallel_walk_answers_as_the_row_by_row_walk(
    logged: str, change: str, sites: list[str] | None
) -> None:
    tamper(logged, *TAMPERING[change])
    expected = verify(logged, sites, workers=None)
    assert verify(logged, sites, workers=2) == expected
    assert verify(logged, sites, workers=0) == expected
    assert expected["ok"] is (change == "intact"), {
        k: expected[k] for k in ("first_broken", "texts", "chain_heads", "tree")
    }


def test_c22_a_row_edited_mid_run_is_named_by_the_parallel_walk(logged: str) -> None:
    tamper(logged, *TAMPERING["edited in the middle of a run"])
    found = verify(logged, None, workers=2)
    assert found["first_broken"] == {
        "seq": 25,
        "site_id": "a",
        "reason": "row content does not match its hash",
    }
    assert found["rows_checked"] == 25  # the walk stops at the broken row, as it always has


def test_c22_a_row_moved_in_the_tree_is_one_tree_problem(logged: str) -> None:
    tamper(logged, *TAMPERING["moved in the tree"])
    found = verify(logged, None, workers=2)
    assert found["first_broken"] is None and found["rows_checked"] == ROWS
    assert [p["seq"] for p in found["tree"]["broken"] if "seq" in p] == [44]


def test_c21_after_a_purge_the_parallel_walk_starts_from_the_checkpoint(logged: str) -> None:
    async def go() -> None:
        store = await _opened(logged)
        try:
            await purge(store, "a", START + timedelta(seconds=30), START + timedelta(days=9))
        finally:
            await store.close()

    asyncio.run(go())
    expected = verify(logged, None, workers=None)
    assert expected["ok"], expected
    assert verify(logged, None, workers=2) == expected


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_time_in_another_shape_is_left_to_the_chain_verifier(logged: str) -> None:
    # SQLite keeps any text: this one parses to the same moment, but is not the shape the
    # hash covers, so the quick check hands the run to the ChainVerifier (which re-reads it).
    tamper(
        logged,
        "UPDATE consent_events SET created_at = '2027-W01-5T00:00:17.000000Z' WHERE seq = 18",
    )
    assert verify(logged, None, workers=2) == verify(logged, None, workers=None)


def test_c22_the_quick_check_hashes_the_bytes_canonical_json_writes() -> None:
    made = events()[:6]
    made[2] = replace(made[2], detail={"zeta": 1, "alpha": {"b": 2, "a": "ö"}})
    rows = chain(made, 1, {})
    raw = [sqlite_values(r) for r in rows]
    found = check_rows(raw)
    assert found.clear and found.rows == 6
    for site in ("a", "b"):
        expected = b"".join(row_leaf(r) for r in rows if r.site_id == site)
        assert bytes(found.sites[site].leaves) == expected
    for column, value in ((10, "https://evil.example/"), (13, 1), (5, "[]"), (17, "[1]")):
        edited = list(raw[4])
        edited[column] = value
        assert not check_rows([*raw[:4], tuple(edited)]).clear, column


@pytest.mark.parametrize("change", ["intact", "edited in the middle of a run"])
def test_the_workers_check_the_runs_and_only_an_unclear_run_is_fed_row_by_row(
    logged: str, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tamper(logged, *TAMPERING[change])
    pools: list[int] = []
    fed: list[int] = []

    class Pool(ProcessPoolExecutor):
        def __init__(self, workers: int, **kwargs: Any) -> None:
            pools.append(workers)
            super().__init__(workers, **kwargs)

    def counted(self: ChainVerifier, row: AuditRow) -> bool:
        fed.append(row.seq)
        return feed_one(self, row)

    feed_one = ChainVerifier.feed
    monkeypatch.setattr(runpool, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(ChainVerifier, "feed", counted)
    found = verify(logged, None, workers=2)
    assert pools == [2]
    # Intact: every run taken whole. Edited at 25: only the run (20, 30] up to it.
    assert fed == ([] if change == "intact" else list(range(21, 26)))
    assert found["ok"] is (change == "intact")


def test_c22_the_cli_verifies_with_workers_and_refuses_a_negative_count(
    logged: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper(logged, *TAMPERING["deleted at the start of a run"])
    capsys.readouterr()
    assert main(["verify", "--workers", "2", "--database", logged]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["first_broken"]["reason"] == "prev_hash does not match the previous row"
    assert found == verify(logged, None, workers=None)
    assert main(["verify", "--workers", "-1", "--database", logged]) == 2
    assert "--workers must be 0 or more" in capsys.readouterr().err
