"""Group commit: how the recorder forms its batches (issue 2, C19: every 201 is stored)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from consent_service.audit import recorder as recorder_module
from consent_service.audit.chain import chain
from consent_service.audit.events import AuditRow, ConsentEvent
from consent_service.audit.recorder import GATHER_TURNS_MAX, Recorder
from consent_service.audit.verify import verify_rows
from consent_service.store import StoreDataError, StoreError, open_store
from consent_service.web.metrics import Metrics

from ..conftest import signed
from .helpers import event


class BatchLog:
    """A store that keeps the rows in memory and remembers the size of every batch."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.rows: list[AuditRow] = []

    async def append(
        self, events: Sequence[ConsentEvent], texts: Sequence[Any] = ()
    ) -> list[AuditRow]:
        self.batches.append(len(events))
        heads = {r.site_id: r.hash for r in self.rows}
        rows = chain(list(events), len(self.rows) + 1, heads)
        self.rows += rows
        return rows


async def _after_turns(turns: int, recorder: Recorder, n: int) -> AuditRow:
    for _ in range(turns):
        await asyncio.sleep(0)
    return await recorder.record(event("demo", n))


async def _record_all(turns: list[int], *, batch_max: int = 256) -> BatchLog:
    log = BatchLog()
    recorder = Recorder(log, Metrics(), batch_max=batch_max)  # type: ignore[arg-type]
    recorder.start()
    try:
        await asyncio.gather(*(_after_turns(t, recorder, n) for n, t in enumerate(turns)))
    finally:
        await recorder.stop()
    return log


async def test_requests_the_loop_is_still_handling_join_the_same_commit() -> None:
    """Consents queued within the next loop turns share one commit (and one fsync)."""
    log = await _record_all([0, 1, 2, 3, 4])
    assert log.batches == [5]
    assert [r.consent_id for r in log.rows] == [f"c{n}" for n in range(5)]


async def test_without_gathering_they_would_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same arrivals with no turns let pass: the first commit takes only the first."""
    monkeypatch.setattr(recorder_module, "GATHER_TURNS_MAX", 0)
    log = await _record_all([0, 1, 2, 3, 4])
    assert log.batches[0] == 1 and sum(log.batches) == 5


async def test_a_steady_trickle_does_not_hold_a_batch_back() -> None:
    """A loop that queues a consent on every turn still gets a commit after a few turns."""
    log = BatchLog()
    recorder = Recorder(log, Metrics())  # type: ignore[arg-type]
    recorder.start()
    first_done_at: list[int] = []
    turns = 0

    async def trickle() -> None:
        nonlocal turns
        waiting = []
        for n in range(60):
            waiting.append(asyncio.ensure_future(recorder.record(event("demo", n))))
            await asyncio.sleep(0)
            turns += 1
            if waiting[0].done() and not first_done_at:
                first_done_at.append(turns)
        await asyncio.gather(*waiting)

    try:
        await trickle()
    finally:
        await recorder.stop()
    assert sum(log.batches) == 60
    assert log.batches[0] <= GATHER_TURNS_MAX + 1
    assert first_done_at and first_done_at[0] <= GATHER_TURNS_MAX + 3


async def test_a_full_batch_is_taken_at_once() -> None:
    """More queued than one batch holds: full batches, then the rest, nothing lost."""
    log = await _record_all([0] * 10, batch_max=4)
    assert log.batches == [4, 4, 2]


async def test_a_quiet_turn_right_after_the_commit_does_not_end_the_gathering() -> None:
    """Answers go out on the first turn, new requests come later: the first turns always pass."""
    log = await _record_all([0, 2])
    assert log.batches == [2]


def _poisons(database_url: str) -> list[dict[str, Any]]:
    """Values the store cannot keep: a lone surrogate anywhere; a NUL on PostgreSQL."""
    bad: list[dict[str, Any]] = [{"widget_version": "\ud800"}, {"page": "https://x.se/\udfff"}]
    if database_url.startswith("postgresql"):
        bad += [{"page": "https://x.se/\x00"}, {"browser": "Firefox\x00/Linux"}]
    return bad


async def test_one_unstorable_event_fails_alone_and_the_batch_is_kept(
    database_url: str,
) -> None:
    """A value the check at the door let through, refused by the store, costs only its
    own request: every other event of the batch is committed, chained and answered, and
    the failure is counted apart from store outages."""
    store = signed(open_store(database_url))
    await store.open()
    await store.migrate()
    metrics = Metrics()
    recorder = Recorder(store, metrics)
    recorder.start()
    poisons = _poisons(database_url)
    events = [event("demo", n) for n in range(40)]
    for k, poison in enumerate(poisons):  # spread among the good ones
        events[5 + 9 * k] = replace(events[5 + 9 * k], **poison)
    try:
        outcomes = await asyncio.gather(
            *(recorder.record(e) for e in events), return_exceptions=True
        )
        rows = [r async for r in store.iter_rows()]
        verified = await verify_rows(store.iter_rows())
    finally:
        await recorder.stop()
        await store.close()
    refused = [n for n, o in enumerate(outcomes) if isinstance(o, BaseException)]
    assert refused == [5 + 9 * k for k in range(len(poisons))]
    assert all(isinstance(outcomes[n], StoreDataError) for n in refused)
    kept = [e.consent_id for n, e in enumerate(events) if n not in refused]
    assert [r.consent_id for r in rows] == kept
    assert verified.ok and verified.rows_checked == len(kept)
    assert metrics.store_refused.value() == len(poisons)
    assert metrics.store_errors.value() == 0


async def test_a_store_outage_still_fails_the_whole_batch() -> None:
    """Only a refusal of the data is split: when the store itself fails, every request
    of the batch learns it at once (no retries against a store that is down)."""

    class Down:
        calls = 0

        async def append(self, events: Sequence[ConsentEvent], texts: Sequence[Any] = ()) -> None:
            Down.calls += 1
            raise StoreError("connection refused")

    metrics = Metrics()
    recorder = Recorder(Down(), metrics)  # type: ignore[arg-type]
    recorder.start()
    try:
        outcomes = await asyncio.gather(
            *(recorder.record(event("demo", n)) for n in range(8)), return_exceptions=True
        )
    finally:
        await recorder.stop()
    assert all(isinstance(o, StoreError) and not isinstance(o, StoreDataError) for o in outcomes)
    assert Down.calls == 1
    assert metrics.store_errors.value() == 1
