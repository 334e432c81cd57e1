"""The scale-out store: PostgreSQL through an asyncpg pool, shared by every replica.

An append is one transaction: lock the ``chain_heads`` row of every site in the batch
(``SELECT … FOR UPDATE`` in site order, so writers never deadlock), read the heads, take
the batch's ``seq`` numbers from the sequence *after* the locks (so ``seq`` grows along
each chain), link the rows, and write rows and new heads in one statement. Writers on
different replicas therefore never fork a chain, and each replica still commits a
whole group of requests at once.

``consent_events`` is partitioned by UTC month: each month's partition is created
before rows land in it, and retention drops whole months where it can
(:mod:`.postgres_partitions`, ``docs/scaling.md``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from consent_service.audit.canonical import UnencodableValue
from consent_service.audit.chain import GENESIS, chain_seqs
from consent_service.audit.events import AuditRow, ConsentEvent, checkpoint_event
from consent_service.store.base import StoreDataError, StoreError, TextsSnapshot
from consent_service.store.migrations import run_migrations
from consent_service.store.postgres_import import LogImport
from consent_service.store.postgres_partitions import (
    PARTITIONS_FROM,
    PartitionMaintenance,
    next_month,
)
from consent_service.store.postgres_rollups import (
    RollupMaintenance,
    build_rollups_once,
    recount_in,
)
from consent_service.store.postgres_tree import (
    build_trees_locked,
    open_tree_edges,
    tree_prefix,
    write_rows,
)
from consent_service.store.purge import (
    PURGE_DELETE,
    PURGE_KEEP,
    PURGE_LAST_HASH,
    checkpoint_for,
    purge_span,
    purged,
)
from consent_service.store.records import PurgeResult
from consent_service.store.rollups_sql import POSTGRES_DAY, ROLLUPS_BUILD
from consent_service.store.sql import Fetch, SqlStore, numbered, texts_values
from consent_service.store.tree import HeadGuard, grow
from consent_service.store.tree_build import TREE_BUILD

log = logging.getLogger(__name__)

_LOCK_HEADS = (
    "SELECT site_id, hash, created_at, size, frontier, note FROM chain_heads "
    "WHERE site_id = ANY($1::text[]) ORDER BY site_id FOR UPDATE"
)
_TAKE_SEQS = "SELECT nextval('consent_events_seq') FROM generate_series(1, $1::int)"
_INSERT_TEXTS = (
    "INSERT INTO consent_texts VALUES ($1, $2, $3, $4, $5, now()) "
    "ON CONFLICT (texts_hash) DO NOTHING"
)
_KEEP = numbered(PURGE_KEEP)
_LAST_HASH = numbered(PURGE_LAST_HASH)
_DELETE = numbered(PURGE_DELETE)
#: Key of the session advisory lock that lets one replica at a time migrate.
_MIGRATE_LOCK = 7_356_211_001
_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PostgresStore(RollupMaintenance, SqlStore, PartitionMaintenance, LogImport):
    """The PostgreSQL implementation of :class:`~consent_service.store.base.Store`."""

    dialect = "postgresql"
    text_time = False
    _day = POSTGRES_DAY

    def __init__(self, url: str, *, readers: int = 8) -> None:
        super().__init__(url)
        self._writers: Any = None
        self._readers: Any = None
        self._max_readers = readers
        self._months: set[tuple[int, int]] = set()
        self._known_sites: set[str] = set()
        #: Refuses to sign over rows this log's key did not append.
        self._guard = HeadGuard()

    async def open(self) -> None:
        # Writes get their own small pool, as on SQLite: a crowd of slow export streams
        # holding read connections can never keep a consent from being recorded.
        try:
            self._writers = await asyncpg.create_pool(self.url, min_size=1, max_size=2)
            self._readers = await asyncpg.create_pool(
                self.url, min_size=1, max_size=self._max_readers
            )
        except _ERRORS as exc:
            await self.close()
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc

    async def close(self) -> None:
        for pool in (self._writers, self._readers):
            if pool is not None:
                await pool.close()
        self._writers = self._readers = None

    @property
    def pool(self) -> Any:
        """The asyncpg pool that writes (appends, migrations, partition maintenance)."""
        if self._writers is None:
            raise StoreError("the store is not open")
        return self._writers

    @property
    def read_pool(self) -> Any:
        """The asyncpg pool that reads (exports, verify, lookups, counts)."""
        if self._readers is None:
            raise StoreError("the store is not open")
        return self._readers

    async def _fetch(self, sql: str, args: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        async with self.read_pool.acquire() as conn:
            found: Sequence[Sequence[Any]] = await conn.fetch(numbered(sql), *args)
            return found

    @asynccontextmanager
    async def _reading(self, snapshot: bool = False) -> AsyncIterator[Fetch]:
        async with self.read_pool.acquire() as conn:
            snap = conn.transaction(isolation="repeatable_read", readonly=True)
            async with snap if snapshot else nullcontext():

                async def fetch(sql: str, args: Sequence[Any]) -> Sequence[Sequence[Any]]:
                    found: Sequence[Sequence[Any]] = await conn.fetch(numbered(sql), *args)
                    return found

                yield fetch

    async def _execute(self, sql: str, args: Sequence[Any]) -> int:
        async with self.pool.acquire() as conn:
            status: str = await conn.execute(numbered(sql), *args)
        return int(status.rsplit(" ", 1)[-1])  # "UPDATE 1", "INSERT 0 1"

    async def _insert(self, sql: str, args: Sequence[Any]) -> int:
        async with self.pool.acquire() as conn:
            return int(await conn.fetchval(numbered(sql), *args))

    async def migrate(self) -> list[str]:
        async with self.pool.acquire() as conn:
            # Replicas start together: one migrates, the others wait and find nothing to do.
            await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATE_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version text PRIMARY KEY, applied_at timestamptz NOT NULL)"
                )
                done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}

                async def apply(path: Path) -> None:
                    async with conn.transaction():
                        await conn.execute(path.read_text())
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, applied_at) "
                            "VALUES ($1, now())",
                            path.stem,
                        )

                files = self.migration_files()
                applied = await run_migrations(files, done, apply, (asyncpg.PostgresError,))
                if TREE_BUILD not in done:
                    await build_trees_locked(conn, self._row, self.signer)
                    applied.append(TREE_BUILD)
                if await build_rollups_once(conn):
                    applied.append(ROLLUPS_BUILD)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATE_LOCK)
        now = datetime.now(UTC)
        await self.ensure_partitions([now, next_month(now)])
        return applied

    async def ping(self) -> None:
        try:
            async with self.read_pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        except _ERRORS as exc:
            raise StoreError(f"PostgreSQL does not answer: {exc}") from exc

    async def row_count(self) -> int:
        """Exact below a million rows; above, the planner's estimate (a count would scan)."""
        async with self.read_pool.acquire() as conn:
            estimate = await conn.fetchval(
                f"SELECT COALESCE(SUM(GREATEST(c.reltuples, 0)), 0)::bigint {PARTITIONS_FROM}"
            )
        if estimate >= 1_000_000:
            return int(estimate)
        return await super().row_count()

    async def append(
        self, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot] = ()
    ) -> list[AuditRow]:
        if not events:
            return []
        try:
            await self._prepare(events)
            async with self.pool.acquire() as conn, conn.transaction():
                return await self._append_in(conn, events, texts)
        except (
            UnicodeError,
            UnencodableValue,
            asyncpg.DataError,
        ) as exc:  # SQLSTATE class 22, e.g. a NUL
            raise StoreDataError(f"PostgreSQL cannot keep this batch: {exc}") from exc
        except _ERRORS as exc:
            raise StoreError(f"PostgreSQL write failed: {exc}") from exc

    async def _prepare(self, events: Sequence[ConsentEvent]) -> None:
        """Outside any transaction: genesis heads for new sites, partitions for new months."""
        await self._ensure_sites(sorted({e.site_id for e in events}))
        await self.ensure_partitions([e.created_at for e in events])

    async def _lock_heads(self, conn: Any, sites: Sequence[str]) -> None:
        await conn.fetch(_LOCK_HEADS, sites)

    async def _append_in(
        self, conn: Any, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot] = ()
    ) -> list[AuditRow]:
        """Chain and insert ``events`` in the caller's transaction on ``conn``."""
        sites = sorted({e.site_id for e in events})
        locked = await conn.fetch(_LOCK_HEADS, sites)
        if len(locked) != len(sites):
            raise StoreError("a site's chain head is missing")
        heads = {r["site_id"]: r["hash"] for r in locked}
        floors = {r["site_id"]: r["created_at"] for r in locked if r["created_at"]}
        edges = await open_tree_edges(conn, locked, self._guard, self.signer)
        seqs = sorted(r[0] for r in await conn.fetch(_TAKE_SEQS, len(events)))
        sizes = {site: edge.size for site, edge in edges.items()}
        leaves: list[bytes] = []
        rows = chain_seqs(events, seqs, heads, floors, sizes, leaves)
        await write_rows(conn, rows, *grow(edges, rows, leaves, self.signer, self._guard))
        if texts:
            await self._insert_texts(conn, texts)
        return rows

    async def _insert_texts(self, conn: Any, texts: Sequence[TextsSnapshot]) -> None:
        await conn.executemany(_INSERT_TEXTS, [texts_values(t) for t in texts])

    async def _checkpoint(
        self, conn: Any, result: PurgeResult, before: datetime, now: datetime, size: int
    ) -> ConsentEvent:
        """The checkpoint of ``result``, with the compact range of the ``size`` leaves gone."""
        prefix = await tree_prefix(conn, result.site_id, size)
        return checkpoint_for(result, before, now, size, prefix)

    async def _ensure_sites(self, sites: Sequence[str]) -> None:
        """Give new sites a genesis head, committed on its own so appends only lock."""
        new = [s for s in sites if s not in self._known_sites]
        if not new:
            return
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO chain_heads (site_id, seq, hash) "
                "SELECT s, 0, $2 FROM unnest($1::text[]) s ON CONFLICT (site_id) DO NOTHING",
                new,
                GENESIS,
            )
        self._known_sites.update(new)

    async def purge(self, site_id: str, before: datetime, now: datetime) -> PurgeResult:
        """As on SQLite: remove a prefix of the site's chain and append a checkpoint.

        Month partitions that end by ``before`` and hold rows of no other site are
        dropped whole (no dead rows); only the rest is deleted. The partitions are
        detached last, so the brief exclusive lock is held only until the commit; if a
        long reader keeps it away past :attr:`detach_lock_timeout`, the purge deletes
        those rows instead: slower, never blocked.
        """
        try:
            await self._prepare([checkpoint_event(site_id, {}, now)])
            for drop in (True, False):
                try:
                    async with self.pool.acquire() as conn, conn.transaction():
                        return await self._purge_in(conn, site_id, before, now, drop)
                except asyncpg.LockNotAvailableError:
                    log.warning("purge of %s: partitions busy, deleting rows instead", site_id)
            raise StoreError("the purge could not take its locks; try again")
        except _ERRORS as exc:
            raise StoreError(f"PostgreSQL purge failed: {exc}") from exc

    async def _purge_in(
        self, conn: Any, site_id: str, before: datetime, now: datetime, drop: bool
    ) -> PurgeResult:
        # Lock the site's head first: no append to this chain runs until we commit.
        await self._lock_heads(conn, [site_id])
        keep = await conn.fetchval(_KEEP, site_id, before)
        sql, args = purge_span(site_id, keep)
        summary = await conn.fetchrow(numbered(sql), *args)
        if not summary[0]:
            return PurgeResult(site_id, 0)
        last = await conn.fetchrow(_LAST_HASH, site_id, summary[2])
        result = purged(site_id, summary, last[0])
        event = await self._checkpoint(conn, result, before, now, last[1] + 1)
        [row] = await self._append_in(conn, [event])
        whole = await self._whole_months(conn, site_id, before, summary[2]) if drop else []
        if whole:
            sql = _DELETE + " AND tableoid <> ALL($3::regclass[])"
            await conn.execute(sql, site_id, summary[2], whole)
        else:
            await conn.execute(_DELETE, site_id, summary[2])
        await recount_in(conn, site_id, summary)
        await self._detach(conn, whole)
        return replace(result, checkpoint_seq=row.seq)
