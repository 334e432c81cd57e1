"""Where the SQLite store's commits run, and who checkpoints its WAL.

A batch's ``COMMIT`` waits for an fsync. On a disk that syncs in a fraction of a
millisecond, handing it to a thread costs more than it saves: the thread must be woken,
win the GIL, and wake the loop again, and on a virtual machine each wake-up of an idle
CPU costs about a tenth of a millisecond. Meanwhile the loop has nothing to do, because
the recorder gathers every waiting consent into the batch. So :class:`CommitPlacement`
runs the commit on the loop while commits are quick, and on the append thread once
they are slow (a slow disk, a loaded machine), so the loop never waits long; it comes
back when they are quick again. Either way a 201 is sent only after the commit.

SQLite checkpoints its WAL inside whichever ``COMMIT`` passes 1,000 pages, which on the
loop would stall it for the copy and two fsyncs. The append connection therefore turns
that off, and :class:`Checkpointer` runs a passive checkpoint on a thread and a
connection of its own every ``CHECKPOINT_EVERY`` commits; SQLite lets it run beside the
writer.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

#: A commit on the loop may stall it for this long, averaged over recent commits.
INLINE_COMMIT_SECONDS = 0.002
#: Weight of the newest commit in the moving average.
AVERAGE_WEIGHT = 0.2
#: Commits between two background checkpoints.
CHECKPOINT_EVERY = 32


class CommitPlacement:
    """Decides, batch by batch, whether the commit runs on the event loop or the thread."""

    def __init__(self, limit: float = INLINE_COMMIT_SECONDS) -> None:
        self.limit = limit
        #: Moving average of recent commit times, in seconds.
        self.average = 0.0

    @property
    def inline(self) -> bool:
        """True while recent commits were quick enough to run on the loop."""
        return self.average < self.limit

    def observe(self, seconds: float) -> None:
        """Note how long a commit took (wherever it ran)."""
        self.average += AVERAGE_WEIGHT * (seconds - self.average)


class Checkpointer:
    """Passive WAL checkpoints on a thread of their own, every ``every`` commits."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], every: int = CHECKPOINT_EVERY
    ) -> None:
        self._connect = connect
        self.every = every
        self._commits = 0
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="kakor-sqlite-checkpoint")
        self._conn: sqlite3.Connection | None = None
        self._running: asyncio.Future[None] | None = None
        #: Checkpoints run so far (for tests and curiosity).
        self.runs = 0

    def committed(self) -> None:
        """Count a commit; start a checkpoint when enough have passed and none is running."""
        self._commits += 1
        if self._commits < self.every or (self._running is not None and not self._running.done()):
            return
        self._commits = 0
        self._running = asyncio.get_running_loop().run_in_executor(self._thread, self._checkpoint)
        self._running.add_done_callback(_log_failure)

    def _checkpoint(self) -> None:
        if self._conn is None:
            self._conn = self._connect()
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self.runs += 1

    async def close(self) -> None:
        """Wait for a running checkpoint, then close the connection and the thread."""
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, conn.close)
        self._thread.shutdown(wait=True)


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("WAL checkpoint failed (the next one retries): %s", future.exception())
