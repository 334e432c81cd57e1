"""An export written in worker processes is byte for byte the export written page by page.

Runs of 7 rows here (``export_parts(run_rows=7)``), so a few dozen rows make enough runs
for two real worker processes; hostile cells sit at run edges, another site's rows are
interleaved, and the period and the pin cut runs in the middle (C23).
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import operator
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.admin.export import runs
from consent_service.admin.export.manifest import Manifest
from consent_service.admin.export.runs import export_parts
from consent_service.admin.export.stream import Exporter
from consent_service.audit.events import AuditRow, ConsentEvent
from consent_service.audit.timefmt import format_time
from consent_service.cli.main import main
from consent_service.store import Store, open_store, range_postgres, runpool
from consent_service.store.ranges import Period, open_ranges, read_export_range

from ..core.helpers import event
from .conftest import bearer
from .test_export_pages import AWKWARD

START = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)  # the log runs over a year's end


def _events() -> list[ConsentEvent]:
    made = []
    for n in range(60):
        e = event("demo" if n % 5 else "other", n)
        e.created_at = START + timedelta(minutes=7 * n)
        if n % 7 in (0, 6):  # a run's first and last row, more or less
            e.widget_version = AWKWARD[n % len(AWKWARD)]
        made.append(e)
    return made


@pytest.fixture
def stored(database_url: str) -> list[AuditRow]:
    async def go() -> list[AuditRow]:
        store = open_store(database_url)
        await store.open()
        try:
            await store.migrate()
            return await store.append(_events())
        finally:
            await store.close()

    return asyncio.run(go())


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worker counts of the process pools started while the test runs."""
    started: list[int] = []

    class Pool(ProcessPoolExecutor):
        def __init__(self, workers: int, **kwargs: Any) -> None:
            started.append(workers)
            super().__init__(workers, **kwargs)

    monkeypatch.setattr(runpool, "ProcessPoolExecutor", Pool)
    return started


@asynccontextmanager
async def _no_ranges(store: Store, site_id: str | None) -> AsyncIterator[None]:
    yield None


def _export(url: str, manifest: Manifest, workers: int | None, pages: bool = False) -> bytes:
    """The file and (in ``manifest``) its manifest: by runs, or by ``export_pages``."""

    async def go() -> bytes:
        store = open_store(url)
        await store.open()
        try:
            parts = export_parts(store, manifest, workers=workers, run_rows=7)
            return b"".join([chunk async for chunk in Exporter(manifest).chunks(parts)])
        finally:
            await store.close()

    if not pages:
        return asyncio.run(go())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs, "open_ranges", _no_ranges)  # a store without ranges: its pages
        return asyncio.run(go())


PERIODS = {
    "all time": (None, None),
    "from the new year": (datetime(2027, 1, 1, tzinfo=UTC), None),
    "a slice across runs": (START + timedelta(minutes=50), START + timedelta(minutes=260)),
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("period", PERIODS)
def test_c23_the_export_by_worker_processes_is_the_export_page_by_page(
    fmt: str,
    period: str,
    database_url: str,
    stored: list[AuditRow],
    pools: list[int],
) -> None:
    since, until = PERIODS[period]
    upto = stored[-3].seq  # the pin cuts the last run

    def manifest() -> Manifest:
        since_text = None if since is None else format_time(since)
        until_text = None if until is None else format_time(until)
        return Manifest("demo", fmt, since_text, until_text, upto)

    reference, by_pages = manifest(), manifest()
    data = _export(database_url, by_pages, None, pages=True)
    wanted = [
        r
        for r in stored
        if r.site_id == "demo"
        and r.seq <= upto
        and (since is None or r.created_at >= since)
        and (until is None or r.created_at < until)
    ]
    assert by_pages.rows == len(wanted) > 0
    assert (by_pages.first_seq, by_pages.last_seq) == (wanted[0].seq, wanted[-1].seq)
    assert by_pages.chain_head == wanted[-1].hash
    assert by_pages.sha256 == hashlib.sha256(data).hexdigest()
    assert pools == []
    for workers in (2, 0):
        by_runs = manifest()
        assert _export(database_url, by_runs, workers) == data
        assert by_runs == by_pages
    assert pools == [2]  # the runs really went to two processes (not for workers=0)
    assert reference.rows == 0  # untouched: each export fills in its own


@pytest.mark.parametrize("period", ["a slice across runs", "empty"])
def test_a_periods_runs_start_and_end_at_its_rows_not_at_the_logs(
    period: str, database_url: str, stored: list[AuditRow], monkeypatch: pytest.MonkeyPatch
) -> None:
    since, until = PERIODS.get(period, (START - timedelta(days=1), START))
    assert since is not None and until is not None
    seen: list[tuple[int, int]] = []
    real_bounds = runpool.bounds

    async def recorded(*args: Any) -> AsyncIterator[tuple[int, int]]:
        async for run in real_bounds(*args):
            seen.append(run)
            yield run

    monkeypatch.setattr(runs, "bounds", recorded)
    manifest = Manifest("demo", "csv", format_time(since), format_time(until), stored[-1].seq)
    data = _export(database_url, manifest, 0)
    wanted = [
        r for r in stored if r.site_id == "demo" and since <= r.created_at and r.created_at < until
    ]
    assert manifest.rows == len(wanted)
    if not wanted:
        assert seen == [] and data == _export(database_url, manifest, 0, pages=True)
        return
    # The first run starts just before the period's first row, the last ends at its last.
    assert seen[0][0] == wanted[0].seq - 1 and seen[-1][1] == wanted[-1].seq
    assert len(seen) < len([r for r in stored if r.site_id == "demo"]) // 7


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_c23_the_http_export_and_its_manifest_come_from_the_workers(
    fmt: str,
    make_client: Callable[..., TestClient],
    two_sites: Path,
    make_token: Callable[..., str],
    database_url: str,
    stored: list[AuditRow],
    pools: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runs, "RUN_ROWS", 7)
    client = make_client(config_path=two_sites, export_workers=2)
    headers = bearer(make_token("demo"))
    answer = client.get(f"/admin/v1/sites/demo/consents?format={fmt}", headers=headers)
    assert answer.status_code == 200
    upto = int(answer.headers["kakor-upto-seq"])
    by_pages = Manifest("demo", fmt, None, None, upto)
    assert answer.content == _export(database_url, by_pages, 0, pages=True)
    query = f"format={fmt}&upto_seq={upto}"
    manifest = client.get(f"/admin/v1/sites/demo/consents/manifest?{query}", headers=headers)
    assert manifest.json() == by_pages.to_dict()
    assert pools == [2, 2]


def test_in_order_gives_runs_oldest_first_and_stops_its_workers_when_closed() -> None:
    async def runs_of(count: int) -> AsyncIterator[tuple[int, int]]:
        for n in range(count):
            yield 10 * n, 10 * n + 10

    async def go() -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        whole = [r async for r in runpool.in_order(runs_of(9), operator.sub, 2)]
        early = runpool.in_order(runs_of(9), operator.sub, 2)
        first = [await anext(early), await anext(early)]
        await early.aclose()
        return whole, first

    whole, first = asyncio.run(go())
    assert whole == [(10 * n, 10 * n + 10, -10) for n in range(9)]
    assert first == whole[:2]
    assert multiprocessing.active_children() == []  # the pool is gone, not left running


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_worker_keeps_one_postgresql_connection_from_run_to_run(
    database_url: str, stored: list[AuditRow], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runpool, "_in_worker", True)  # as the pool's initializer sets it

    def read_twice(source: Any) -> list[list[int]]:
        seqs = []
        connections = []
        for lo, hi in ((0, 20), (20, 60)):
            pages = read_export_range(source, lo, hi, Period(), page_rows=4)
            seqs.append([len(page) for page in pages])
            assert range_postgres._kept is not None
            connections.append(range_postgres._kept[2])
        assert connections[0] is connections[1]
        early = read_export_range(source, 0, 60, Period(), page_rows=4)
        assert len(next(early)) == 4
        early.close()  # as verify stops at a row it cannot confirm: rolled back, kept
        assert range_postgres._kept is not None and range_postgres._kept[2] is connections[0]
        assert [len(p) for p in read_export_range(source, 0, 20, Period(), page_rows=8)] == [8, 8]
        return seqs

    async def inside() -> list[list[int]]:
        store = open_store(database_url)
        await store.open()
        try:
            async with open_ranges(store, "demo") as ranges:
                assert ranges is not None
                # In a thread, as in a worker: no loop of its own is running there.
                return await asyncio.to_thread(read_twice, ranges.source)
        finally:
            await store.close()

    async def after() -> None:
        store = open_store(database_url)
        await store.open()
        try:
            async with open_ranges(store, "demo") as ranges:
                assert ranges is not None
                source = ranges.source
            await asyncio.to_thread(read_twice, source)  # the snapshot's transaction is over
        finally:
            await store.close()

    try:
        counts = asyncio.run(inside())
        # seq 1..20: 16 of demo's rows (every fifth is "other"), 4 a page; then 32.
        assert counts == [[4, 4, 4, 4], [4] * 8]
        with pytest.raises(Exception, match="snapshot"):
            asyncio.run(after())  # the read fails …
        assert range_postgres._kept is None  # … and the broken connection is not kept
    finally:
        range_postgres._close()


def test_the_cli_export_takes_workers_and_refuses_a_negative_count(
    database_url: str, stored: list[AuditRow], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = []
    for workers in ("0", "2"):
        out = tmp_path / f"w{workers}.jsonl"
        args = ["export", "--site", "demo", "--output", str(out), "--workers", workers]
        assert main([*args, "--database", database_url]) == 0
        files.append(out.read_bytes())
    assert files[0] == files[1] and files[0].count(b"\n") == 48
    capsys.readouterr()
    assert main(["export", "--site", "demo", "--workers", "-1", "--database", database_url]) == 2
    assert "--workers must be 0 or more" in capsys.readouterr().err


def test_a_worker_process_knows_it_is_one() -> None:
    async def go() -> list[tuple[int, int, bool]]:
        async def four() -> AsyncIterator[tuple[int, int]]:
            for n in range(4):
                yield n, n + 1

        return [r async for r in runpool.in_order(four(), _in_worker_at, 2)]

    assert not runpool.in_worker()
    assert [flag for _, _, flag in asyncio.run(go())] == [True] * 4


def _in_worker_at(lo: int, hi: int) -> bool:
    return runpool.in_worker()
