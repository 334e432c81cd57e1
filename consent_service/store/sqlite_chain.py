"""The one writer of the SQLite audit chain: appends and purges, on a connection of its own.

A batch is prepared on the event loop (``BEGIN IMMEDIATE``, read the chain heads, link
the rows and build the ``INSERT`` parameters — Python work, microseconds, no disk wait),
then the ``INSERT`` and the ``COMMIT`` (which fsyncs under ``synchronous=FULL``) run on
the loop while commits are quick and on a dedicated thread once they are slow
(:mod:`.sqlite_commit`, which also checkpoints the WAL off the loop). If another process
holds the write lock, the whole batch moves to the thread instead, so the loop never
blocks. Purges run on the thread. One lock keeps the transactions one at a time.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from consent_service.audit.canonical import UnencodableValue
from consent_service.audit.chain import chain
from consent_service.audit.events import STORED_FIELDS, AuditRow, ConsentEvent
from consent_service.audit.signing import LogSigner
from consent_service.audit.timefmt import format_time
from consent_service.store.base import StoreDataError, StoreError, TextsSnapshot
from consent_service.store.columns import COLUMNS, sqlite_values
from consent_service.store.rollups import batch_counts, counts_values
from consent_service.store.rollups_sql import SQLITE_ROWS_PER_UPSERT, sqlite_upsert
from consent_service.store.sql import texts_values
from consent_service.store.sqlite_commit import Checkpointer, CommitPlacement
from consent_service.store.sqlite_maintenance import ChainMaintenance, Write
from consent_service.store.tree import TILES_SQL, HeadGuard, edge_tiles_where, grow, open_edges

#: Every connection's settings: durable commits, and waiting for another process's lock.
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)
_ROW_PLACEHOLDERS = "(" + ", ".join("?" * len(STORED_FIELDS)) + ")"
#: Rows per INSERT statement: well under SQLite's 32,766 bound parameters.
_ROWS_PER_INSERT = 500
#: The largest seq ever given: the heads keep it when a chain's newest rows are cut.
_LAST_SEQ = (
    "SELECT MAX(COALESCE((SELECT MAX(seq) FROM consent_events), 0),"
    " COALESCE((SELECT MAX(seq) FROM chain_heads), 0))"
)


class ChainWriter(ChainMaintenance):
    """Appends, purges and rollup rebuilds of one SQLite file, one transaction at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        #: Where the next commit runs (on the loop or the thread).
        self.placement = CommitPlacement()
        #: Checkpoints the WAL off this connection (None until open).
        self.checkpointer: Checkpointer | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        #: Refuses to sign over rows this log's key did not append.
        self.guard = HeadGuard()

    async def open(self) -> None:
        """Connect on the thread; the connection's commits never checkpoint (one could
        stall the loop): the checkpointer does, on a thread of its own."""
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="kakor-sqlite-append")
        self._conn = await self._in_thread(self._connect)
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self.checkpointer = Checkpointer(self._connect)

    async def close(self) -> None:
        """Stop the checkpointer, close the connection, end the thread."""
        if self.checkpointer is not None:
            await self.checkpointer.close()
            self.checkpointer = None
        if self._conn is not None:
            await self._in_thread(self._conn.close)
            self._conn = None
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    def _connect(self) -> sqlite3.Connection:
        # Used by the loop (staging) and the append thread (insert, commit), never at once.
        # The multi-row INSERT's text differs with every batch size: keep one prepared
        # statement per size (preparing a 256-row INSERT takes about half a millisecond),
        # and so does the rollups' upsert: room for a few hundred sizes of that too.
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=_ROWS_PER_INSERT + 288,
        )
        for pragma in PRAGMAS:
            conn.execute(pragma)
        return conn

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the store is not open")
        return self._conn

    async def _in_thread(self, func: Any, *args: Any) -> Any:
        if self._thread is None:
            raise StoreError("the store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._thread, func, *args)

    async def append(
        self,
        events: Sequence[ConsentEvent],
        texts: Sequence[TextsSnapshot],
        signer: LogSigner | None = None,
    ) -> list[AuditRow]:
        """Chain and commit ``events`` (and ``texts``) in one transaction: the store's append."""
        async with self._lock:  # one transaction at a time on the append connection
            try:
                return await self._append(events, texts, signer)
            except (
                UnicodeError,
                UnencodableValue,
                sqlite3.DataError,
            ) as exc:  # rolled back: nothing written
                raise StoreDataError(f"SQLite cannot keep this batch: {exc}") from exc

    async def _append(
        self,
        events: Sequence[ConsentEvent],
        texts: Sequence[TextsSnapshot],
        signer: LogSigner | None,
    ) -> list[AuditRow]:
        conn = self._connection
        try:
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # another process writes: wait for it off the loop
            conn.execute("PRAGMA busy_timeout=10000")
            rows: list[AuditRow] = await self._in_thread(
                self._append_locking, events, texts, signer
            )
            self._committed()
            return rows
        try:
            rows, writes = self._stage(conn, events, texts, signer)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if self.placement.inline:
            self._timed_commit(conn, writes)
        else:
            await self._in_thread(self._timed_commit, conn, writes)
        self._committed()
        return rows

    def _timed_commit(self, conn: sqlite3.Connection, writes: list[Write]) -> None:
        started = time.perf_counter()
        self._write_and_commit(conn, writes)
        self.placement.observe(time.perf_counter() - started)

    def _committed(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.committed()

    def _append_locking(
        self,
        events: Sequence[ConsentEvent],
        texts: Sequence[TextsSnapshot],
        signer: LogSigner | None,
    ) -> list[AuditRow]:
        conn = self._connection
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows, writes = self._stage(conn, events, texts, signer)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._write_and_commit(conn, writes)
        return rows

    @staticmethod
    def _write_and_commit(conn: sqlite3.Connection, writes: list[Write]) -> None:
        """Run the staged statements and commit; any failure rolls the whole batch back."""
        try:
            for sql, params in writes:
                conn.execute(sql, params)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _stage(
        self,
        conn: sqlite3.Connection,
        events: Sequence[ConsentEvent],
        texts: Sequence[TextsSnapshot],
        signer: LogSigner | None,
    ) -> tuple[list[AuditRow], list[Write]]:
        """Inside an open write transaction: chain and grow the trees after the stored heads;
        the writes to run."""
        last = conn.execute(_LAST_SEQ).fetchone()
        heads: dict[str, str] = {}
        trees: dict[str, tuple[int, bytes, str | None]] = {}
        for site_id in dict.fromkeys(e.site_id for e in events):
            head = conn.execute(
                "SELECT hash, size, frontier, note FROM chain_heads WHERE site_id = ?", (site_id,)
            ).fetchone()
            if head is not None:
                heads[site_id] = head[0]
            trees[site_id] = (head[1], head[2], head[3]) if head is not None else (0, b"", None)
        where, args = edge_tiles_where({site: tree[0] for site, tree in trees.items()})
        tiles = conn.execute(TILES_SQL.format(where), args)
        edges = open_edges(trees, tiles.fetchall(), self.guard, signer)
        leaves: list[bytes] = []
        sizes = {site: edge.size for site, edge in edges.items()}
        rows = chain(events, int(last[0]) + 1, heads, sizes, leaves)
        new_heads, new_tiles = grow(edges, rows, leaves, signer, self.guard)
        writes: list[Write] = [
            (
                "INSERT INTO chain_heads (site_id, seq, hash, size, frontier, note) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(new_heads))
                + " ON CONFLICT (site_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
                " size = excluded.size, frontier = excluded.frontier, note = excluded.note",
                [
                    v
                    for h in new_heads
                    for v in (h.site_id, h.seq, h.hash, h.size, h.frontier, h.note)
                ],
            ),
            (
                "INSERT INTO log_tiles (site_id, level, idx, hashes) VALUES "
                + ", ".join(["(?, ?, ?, ?)"] * len(new_tiles))
                + " ON CONFLICT (site_id, level, idx) DO UPDATE SET hashes = excluded.hashes",
                [v for tile in new_tiles for v in tile],
            ),
        ]
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            # OR ROLLBACK: a conflict ends the whole transaction, as any failure here does
            # anyway, so SQLite keeps no statement journal to undo one statement (it
            # spilled to a temp file for most batches: open, write, unlink, close).
            sql = f"INSERT OR ROLLBACK INTO consent_events ({COLUMNS}) VALUES " + ", ".join(
                [_ROW_PLACEHOLDERS] * len(chunk)
            )
            writes.append((sql, [value for row in chunk for value in sqlite_values(row)]))
        values = counts_values(batch_counts(rows))  # one statement per batch (rollups_sql.py)
        step = SQLITE_ROWS_PER_UPSERT * 7
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            writes.append((sqlite_upsert(len(chunk) // 7), chunk))
        if texts:
            now = format_time(datetime.now(UTC))
            sql = "INSERT OR IGNORE INTO consent_texts VALUES " + ", ".join(
                ["(?, ?, ?, ?, ?, ?)"] * len(texts)
            )
            writes.append((sql, [value for t in texts for value in (*texts_values(t), now)]))
        return rows, writes
