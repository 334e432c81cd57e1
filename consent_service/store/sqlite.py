"""The embedded default store: one SQLite file in WAL mode.

Reads go through aiosqlite, and so do the admin side's writes (tokens, access log), on
a connection of their own. Appends and purges, the chain's writes, go through
:class:`~.sqlite_chain.ChainWriter`, on a third connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from consent_service.audit.events import AuditRow, ConsentEvent
from consent_service.audit.timefmt import format_time
from consent_service.store.base import StoreError, TextsSnapshot
from consent_service.store.migrations import run_migrations
from consent_service.store.records import PurgeResult
from consent_service.store.rollups_sql import ROLLUPS_BUILD, SQLITE_DAY
from consent_service.store.sql import Fetch, SqlStore
from consent_service.store.sqlite_chain import PRAGMAS, ChainWriter
from consent_service.store.sqlite_maintenance import rebuild_writes
from consent_service.store.tree_build import TREE_BUILD, build_trees

#: The trigger of migration 0001, put back after the tree build's one fill of leaf_index.
_APPEND_ONLY = """CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'consent_events is append-only');
END"""


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
    _day = SQLITE_DAY

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)
        self._writer: aiosqlite.Connection | None = None  # migrations, tokens, access log
        self._reader: aiosqlite.Connection | None = None
        self._chain = ChainWriter(self.path)  # appends and purges
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await self._connect()
            self._reader = await self._connect()
            await self._chain.open()
        except Exception as exc:
            await self.close()
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from exc

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in PRAGMAS:
            await conn.execute(pragma)
        return conn

    async def close(self) -> None:
        await self._chain.close()
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
        async with self._writing(sql, args) as cur:
            return int(cur.rowcount)

    async def _insert(self, sql: str, args: Sequence[Any]) -> int:
        async with self._writing(sql, args) as cur:
            found = await cur.fetchone()
        if found is None:
            raise StoreError("the insert returned no id")
        return int(found[0])

    @asynccontextmanager
    async def _writing(self, sql: str, args: Sequence[Any]) -> AsyncIterator[aiosqlite.Cursor]:
        """The cursor of one write statement, committed when the block ends."""
        # Token and access-log writes go through the aiosqlite writer; its transactions
        # must not interleave, so each holds the lock from BEGIN to COMMIT.
        async with self._write_lock:
            conn = self._w
            await conn.execute("BEGIN IMMEDIATE")
            try:
                async with conn.execute(sql, args) as cur:
                    yield cur
                await conn.commit()
            except BaseException:
                if conn.in_transaction:
                    await conn.rollback()
                raise

    async def migrate(self) -> list[str]:
        conn = self._w
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )

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
                # Another process starting on the same file (serve --workers N) took the
                # write lock first and applied it: what failed here is already done.
                if path.stem not in await _versions(conn):
                    raise

        applied = await run_migrations(
            self.migration_files(), await _versions(conn), apply, (Exception,)
        )
        if TREE_BUILD not in await _versions(conn):
            await self._build_trees(conn)
            applied.append(TREE_BUILD)
        if ROLLUPS_BUILD not in await _versions(conn):
            await self._build_rollups(conn)
            applied.append(ROLLUPS_BUILD)
        return applied

    async def _build_rollups(self, conn: aiosqlite.Connection) -> None:
        """Once, after the rollups' migration: count them for the rows already there."""
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if ROLLUPS_BUILD not in await _versions(conn):  # or another process did
                for sql, args in rebuild_writes(None):
                    await conn.execute(sql, args)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (ROLLUPS_BUILD, format_time(datetime.now(UTC))),
                )
            await conn.commit()
        except BaseException:
            if conn.in_transaction:
                await conn.rollback()
            raise

    async def _build_trees(self, conn: aiosqlite.Connection) -> None:
        async def fetch(sql: str, args: Sequence[Any]) -> Sequence[Sequence[Any]]:
            async with conn.execute(sql, args) as cur:
                return list(await cur.fetchall())

        async def many(sql: str, rows: Sequence[Sequence[Any]]) -> None:
            await conn.executemany(sql, rows)

        await conn.execute("BEGIN IMMEDIATE")
        try:
            if TREE_BUILD in await _versions(conn):  # another process built them first
                await conn.rollback()
                return
            await conn.execute("DROP TRIGGER IF EXISTS consent_events_append_only")
            await build_trees(fetch, many, self._row, self.signer)
            await conn.execute(_APPEND_ONLY)
            await conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (TREE_BUILD, format_time(datetime.now(UTC))),
            )
            await conn.commit()
        except BaseException:
            if conn.in_transaction:
                await conn.rollback()
            raise

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
        return await self._chain.append(events, texts, self.signer)

    async def purge(self, site_id: str, before: datetime, now: datetime) -> PurgeResult:
        return await self._chain.purge(site_id, before, now, self.signer)

    async def rebuild_rollups(self, site_id: str | None = None) -> int:
        return await self._chain.rebuild_rollups(site_id)


async def _versions(conn: aiosqlite.Connection) -> set[str]:
    """The migrations ``schema_migrations`` records as applied."""
    async with conn.execute("SELECT version FROM schema_migrations") as cur:
        return {row[0] for row in await cur.fetchall()}
