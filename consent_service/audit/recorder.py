"""Group commit: many concurrent consents, one transaction, one fsync.

Handlers hand events to :meth:`Recorder.record` and wait; a single writer task takes
everything queued (up to ``batch_max``), appends it to the store in one transaction
and only then wakes the handlers. A 201 therefore always follows a commit, while the
cost of the commit is shared by every request that arrived during the previous one.

Before it takes a batch the writer lets the event loop take a few turns (see
:meth:`Recorder._gather`), so that requests the loop has already received join it.
"""

from __future__ import annotations

import asyncio
import time

from consent_service.audit.events import AuditRow, ConsentEvent
from consent_service.store import Store, StoreDataError, StoreError, TextsSnapshot
from consent_service.web.metrics import Metrics

_Item = tuple[ConsentEvent, TextsSnapshot | None, "asyncio.Future[AuditRow]"]

#: Loop turns the writer always lets pass before it takes a batch.
GATHER_TURNS_MIN = 3
#: Loop turns it lets pass at most, however busy the loop stays.
GATHER_TURNS_MAX = 8


class Recorder:
    """Serialises writes to the store in batches."""

    def __init__(self, store: Store, metrics: Metrics, batch_max: int = 256) -> None:
        self._store = store
        self._metrics = metrics
        self._batch_max = batch_max
        # A plain list and one wake-up future: asyncio.Queue's bookkeeping per item
        # (unfinished count, getters, task_done) cost more than the rest of queueing.
        self._pending: list[_Item] = []
        self._wake: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._known_texts: set[str] = set()
        self._closing = False

    def start(self) -> None:
        """Start the writer task on the running loop."""
        # Kept: asyncio.get_running_loop() makes a getpid() system call on Python 3.11.
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="kakor-recorder")

    async def stop(self) -> None:
        """Write what is queued, then stop the writer task."""
        self._closing = True
        if self._task is None:
            return
        self._wake_writer()
        await self._task  # it returns once nothing is pending
        self._task = None

    async def record(self, event: ConsentEvent, texts: TextsSnapshot | None = None) -> AuditRow:
        """Queue ``event`` and return its row once it is committed."""
        if self._closing or self._task is None or self._loop is None:
            raise StoreError("the service is shutting down")
        future: asyncio.Future[AuditRow] = self._loop.create_future()
        if texts is not None and texts.texts_hash in self._known_texts:
            texts = None
        self._pending.append((event, texts, future))
        self._wake_writer()
        return await future

    def _wake_writer(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake = loop.create_future()
                await self._wake
                continue
            await self._gather()
            items = self._pending[: self._batch_max]
            del self._pending[: self._batch_max]
            await self._write(items)

    async def _gather(self) -> None:
        """Let the loop take turns until the requests it has already received are queued.

        When a commit returns, its batch's answers have yet to be sent and the next
        requests sit in socket buffers or half parsed; a batch taken at once holds only
        what happened to be queued (at 32 connections, half of them). Each
        ``sleep(0)`` is one turn of the loop: the first sends the answers, the next
        read and parse new requests, which join ``_pending``. The writer takes the
        batch after a turn that adds nothing (from the third on), after
        ``GATHER_TURNS_MAX`` turns, or when the batch is full. A turn of an idle loop
        costs microseconds; fewer, larger commits save a whole fsync for each batch
        not taken (docs/performance.md).
        """
        for turn in range(GATHER_TURNS_MAX):
            queued = len(self._pending)
            if queued >= self._batch_max:
                return
            await asyncio.sleep(0)
            if turn + 1 >= GATHER_TURNS_MIN and len(self._pending) == queued:
                return

    async def _write(self, items: list[_Item]) -> None:
        events = [event for event, _, _ in items]
        texts = list({t.texts_hash: t for _, t, _ in items if t is not None}.values())
        started = time.perf_counter()
        try:
            rows = await self._store.append(events, texts)
        except StoreDataError as exc:
            await self._isolate(items, exc)
            return
        except Exception as exc:  # every waiting request learns it was not recorded
            self._metrics.store_errors.inc()
            for _, _, future in items:
                if not future.done():
                    future.set_exception(StoreError(f"the consent was not recorded: {exc}"))
            return
        self._metrics.store_write_seconds.observe(time.perf_counter() - started)
        self._metrics.store_batch_size.observe(len(rows))
        self._known_texts.update(t.texts_hash for t in texts)
        counts: dict[tuple[str, str], int] = {}
        for (_, _, future), row in zip(items, rows, strict=True):
            key = (row.site_id, row.action)
            counts[key] = counts.get(key, 0) + 1
            if not future.done():
                future.set_result(row)
        for (site_id, action), count in counts.items():  # one locked update per kind
            self._metrics.consents.inc(site_id, action, amount=count)

    async def _isolate(self, items: list[_Item], exc: StoreDataError) -> None:
        """The store refused a value in this batch: write the rest without it.

        One visitor's unstorable text must not cost everyone who shared the commit their
        consent. The batch is split in halves and each half written again, down to the
        single rows that still fail: ``k`` bad rows in a batch of ``n`` cost about
        ``2·k·log2(n)`` extra commits, and only requests whose own row is refused learn
        of it. Each half keeps its items' texts snapshots, so no row is written without
        the texts its ``texts_hash`` names.
        """
        if len(items) == 1:
            self._metrics.store_refused.inc()
            future = items[0][2]
            if not future.done():
                future.set_exception(exc)
            return
        half = len(items) // 2
        await self._write(items[:half])
        await self._write(items[half:])
