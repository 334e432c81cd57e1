"""The embedded default store: one SQLite file in WAL mode.

Reads go through aiosqlite. Appends use a connection of their own: the batch is
prepared on the event loop (``BEGIN IMMEDIATE``, read the chain heads, link the rows
and build the ``INSERT`` parameters — Python work, microseconds, no disk wait), then
the ``INSERT`` and the ``COMMIT`` (which fsyncs under ``synchronous=FULL``) run on the
loop while commits are quick and on a dedicated thread once they are slow
(:mod:`.sqlite_commit`, which also checkpoints the WAL off the loop). If another
process holds the write lock, the whole batch moves to the thread instead, so the
loop never blocks.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from consent_service.audit.canonical import UnencodableValue
from consent_service.audit.chain import chain
from consent_service.audit.events import ROW_FIELDS, AuditRow, ConsentEvent
from consent_service.audit.timefmt import format_time
from consent_service.store.base import StoreDataError, StoreError, TextsSnapshot
from consent_service.store.columns import COLUMNS, sqlite_values
from consent_service.store.migrations import run_migrations
from consent_service.store.purge import (
    PURGE_DELETE,
    PURGE_KEEP,
    PURGE_LAST_HASH,
    checkpoint_for,
    purge_span,
    purged,
)
from consent_service.store.records import PurgeResult
from consent_service.store.sql import Fetch, SqlStore, texts_values
from consent_service.store.sqlite_commit import Checkpointer, CommitPlacement
from consent_service.store.stats_query import sqlite_daily_stats

_ROW_PLACEHOLDERS = "(" + ", ".join("?" * len(ROW_FIELDS)) + ")"
#: Rows per INSERT statement: well under SQLite's 32,766 bound parameters.
_ROWS_PER_INSERT = 500
#: A statement of a staged batch: SQL and its parameters.
_Write = tuple[str, list[Any]]
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)


def sqlite_path(url: str) -> str:
    """The file path in ``sqlite:///relative.db`` or ``sqlite:////absolute.db``."""
    if not url.startswith("sqlite:///"):
        raise StoreError(f"not an SQLite URL: {url!r} (expected sqlite:///path/to.db)")
    path = url[len("sqlite:///") :]
    if not path:
        raise StoreError("the SQLite URL names no file")
    return path


class SqliteStore(SqlStore):
    """The SQLite implementation of :class:`~consent_service.store.base.Store`."""

    dialect = "sqlite"
    text_time = True
    _stats_query = staticmethod(sqlite_daily_stats)

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._append_thread: ThreadPoolExecutor | None = None
        self._append_conn: sqlite3.Connection | None = None
        self._placement = CommitPlacement()
        self._checkpointer: Checkpointer | None = None
        self._append_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await self._connect()
            self._reader = await self._connect()
            self._append_thread = ThreadPoolExecutor(1, thread_name_prefix="kakor-sqlite-append")
            self._append_conn = await self._in_append_thread(self._connect_sync)
            # The append connection's commits never checkpoint (one could stall the loop).
            self._append_conn.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = Checkpointer(self._connect_sync)
        except Exception as exc:
            await self.close()
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from exc

    def _connect_sync(self) -> sqlite3.Connection:
        # Used by the loop (staging) and the append thread (insert, commit), never at once.
        # The multi-row INSERT's text differs with every batch size: keep one prepared
        # statement per size (preparing a 256-row INSERT takes about half a millisecond).
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=_ROWS_PER_INSERT + 32,
        )
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        return conn

    async def _in_append_thread(self, func: Any, *args: Any) -> Any:
        if self._append_thread is None:
            raise StoreError("the store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._append_thread, func, *args)

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
        return conn

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.close()
            self._checkpointer = None
        if self._append_conn is not None:
            await self._in_append_thread(self._append_conn.close)
            self._append_conn = None
        if self._append_thread is not None:
            self._append_thread.shutdown(wait=True)
            self._append_thread = None
        for conn in (self._writer, self._reader):
            if conn is not None:
                await conn.close()
        self._writer = self._reader = None

    @property
    def _w(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise StoreError("the store is not open")
        return self._writer

    @property
    def _r(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreError("the store is not open")
        return self._reader

    async def _fetch(self, sql: str, args: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        async with self._r.execute(sql, args) as cur:
            return list(await cur.fetchall())

    @asynccontextmanager
    async def _reading(self, snapshot: bool = False) -> AsyncIterator[Fetch]:
        # No snapshot needed: SQLite's one writer numbers and commits rows in seq order,
        # so a walk by seq cannot pass a row that commits later.
        yield self._fetch

    async def _execute(self, sql: str, args: Sequence[Any]) -> int:
        # Token and access-log writes go through the aiosqlite writer; its transactions
        # must not interleave, so each holds the lock from BEGIN to COMMIT.
        async with self._write_lock:
            conn = self._w
            await conn.execute("BEGIN IMMEDIATE")
            try:
                async with conn.execute(sql, args) as cur:
                    changed = cur.rowcount
                await conn.commit()
            except BaseException:
                if conn.in_transaction:
                    await conn.rollback()
                raise
            return changed

    async def migrate(self) -> list[str]:
        conn = self._w
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        async with conn.execute("SELECT version FROM schema_migrations") as cur:
            done = {row[0] for row in await cur.fetchall()}

        async def apply(path: Path) -> None:
            now = format_time(datetime.now(UTC))
            script = (
                f"BEGIN IMMEDIATE;\n{path.read_text()}\n"
                f"INSERT INTO schema_migrations (version, applied_at) VALUES ('{path.stem}', '{now}');\n"
                "COMMIT;"
            )
            try:
                await conn.executescript(script)
            except Exception:
                if conn.in_transaction:
                    await conn.rollback()
                raise

        return await run_migrations(self.migration_files(), done, apply, (Exception,))

    async def ping(self) -> None:
        try:
            async with self._r.execute("SELECT 1") as cur:
                await cur.fetchone()
        except Exception as exc:
            raise StoreError(f"SQLite does not answer: {exc}") from exc

    async def append(
        self, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot] = ()
    ) -> list[AuditRow]:
        if not events:
            return []
        async with self._append_lock:  # one transaction at a time on the append connection
            try:
                return await self._append(events, texts)
            except (
                UnicodeError,
                UnencodableValue,
                sqlite3.DataError,
            ) as exc:  # rolled back: nothing written
                raise StoreDataError(f"SQLite cannot keep this batch: {exc}") from exc

    async def _append(
        self, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot]
    ) -> list[AuditRow]:
        conn = self._append_conn
        if conn is None:
            raise StoreError("the store is not open")
        try:
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # another process writes: wait for it off the loop
            conn.execute("PRAGMA busy_timeout=10000")
            rows: list[AuditRow] = await self._in_append_thread(self._append_locking, events, texts)
            self._committed()
            return rows
        try:
            rows, writes = self._stage(conn, events, texts)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if self._placement.inline:
            self._timed_commit(conn, writes)
        else:
            await self._in_append_thread(self._timed_commit, conn, writes)
        self._committed()
        return rows

    def _timed_commit(self, conn: sqlite3.Connection, writes: list[_Write]) -> None:
        started = time.perf_counter()
        self._write_and_commit(conn, writes)
        self._placement.observe(time.perf_counter() - started)

    def _committed(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.committed()

    def _append_locking(
        self, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot]
    ) -> list[AuditRow]:
        conn = self._append_conn
        if conn is None:
            raise StoreError("the store is not open")
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows, writes = self._stage(conn, events, texts)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._write_and_commit(conn, writes)
        return rows

    @staticmethod
    def _write_and_commit(conn: sqlite3.Connection, writes: list[_Write]) -> None:
        """Run the staged statements and commit; any failure rolls the whole batch back."""
        try:
            for sql, params in writes:
                conn.execute(sql, params)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _stage(
        conn: sqlite3.Connection, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot]
    ) -> tuple[list[AuditRow], list[_Write]]:
        """Inside an open write transaction: chain after the stored heads; the writes to run."""
        last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM consent_events").fetchone()
        heads: dict[str, str] = {}
        for site_id in {e.site_id for e in events}:
            head = conn.execute(
                "SELECT hash FROM consent_events WHERE site_id = ? ORDER BY seq DESC LIMIT 1",
                (site_id,),
            ).fetchone()
            if head is not None:
                heads[site_id] = head[0]
        rows = chain(events, int(last[0]) + 1, heads)
        writes: list[_Write] = []
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            # OR ROLLBACK: a conflict ends the whole transaction, as any failure here does
            # anyway, so SQLite keeps no statement journal to undo one statement (it
            # spilled to a temp file for most batches: open, write, unlink, close).
            sql = f"INSERT OR ROLLBACK INTO consent_events ({COLUMNS}) VALUES " + ", ".join(
                [_ROW_PLACEHOLDERS] * len(chunk)
            )
            writes.append((sql, [value for row in chunk for value in sqlite_values(row)]))
        if texts:
            now = format_time(datetime.now(UTC))
            sql = "INSERT OR IGNORE INTO consent_texts VALUES " + ", ".join(
                ["(?, ?, ?, ?, ?, ?)"] * len(texts)
            )
            writes.append((sql, [value for t in texts for value in (*texts_values(t), now)]))
        return rows, writes

    async def purge(self, site_id: str, before: datetime, now: datetime) -> PurgeResult:
        async with self._append_lock:  # the chain's writer: no append can slip in between
            result: PurgeResult = await self._in_append_thread(
                self._purge_locking, site_id, before, now
            )
            self._committed()
            return result

    def _purge_locking(self, site_id: str, before: datetime, now: datetime) -> PurgeResult:
        """On the append thread: summarise, append the checkpoint, delete; one transaction."""
        conn = self._append_conn
        if conn is None:
            raise StoreError("the store is not open")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("BEGIN IMMEDIATE")
        try:
            [keep] = conn.execute(PURGE_KEEP, (site_id, format_time(before))).fetchone()
            summary = conn.execute(*purge_span(site_id, keep)).fetchone()
            if not summary[0]:
                conn.execute("ROLLBACK")
                return PurgeResult(site_id, 0)
            [last_hash] = conn.execute(PURGE_LAST_HASH, (site_id, summary[2])).fetchone()
            result = purged(site_id, summary, last_hash)
            [checkpoint], writes = self._stage(conn, [checkpoint_for(result, before, now)], ())
            writes.append((PURGE_DELETE, [site_id, result.last_seq]))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._write_and_commit(conn, writes)
        return replace(result, checkpoint_seq=checkpoint.seq)
