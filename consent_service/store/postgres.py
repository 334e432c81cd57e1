"""The scale-out store: PostgreSQL through an asyncpg pool, shared by every replica.

An append is one transaction: lock the ``chain_heads`` row of every site in the batch
(``SELECT … FOR UPDATE`` in site order, so writers never deadlock), read the heads, take
the batch's ``seq`` numbers from the sequence *after* the locks (so ``seq`` grows along
each chain), link the rows, and write rows and new heads in one statement. Writers on
different replicas therefore never fork a chain, and each replica still commits a
whole group of requests at once.

``consent_events`` is partitioned by UTC month: each month's partition is created
before rows land in it, and retention drops whole months where it can
(:meth:`PostgresStore.drop_partitions_before`, ``docs/scaling.md``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from consent_service.audit.canonical import UnencodableValue
from consent_service.audit.chain import GENESIS, chain_seqs
from consent_service.audit.events import AuditRow, ConsentEvent, checkpoint_event
from consent_service.store.base import Store, StoreDataError, StoreError, TextsSnapshot
from consent_service.store.columns import POSTGRES_TYPES, UNNEST_INSERT, column_arrays
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
from consent_service.store.sql import (
    INSERT_TOKEN,
    Fetch,
    SqlStore,
    numbered,
    texts_values,
    token_values,
)
from consent_service.store.stats_query import postgres_daily_stats

log = logging.getLogger(__name__)

#: The columns of the sites' new heads, after the rows'.
_HEADS_TYPES = ("text", "bigint", "text", "timestamptz")
# Rows and the sites' new heads in one round trip.
_WRITE = (
    f"WITH new_rows AS ({UNNEST_INSERT}), new_heads AS ("
    "UPDATE chain_heads h SET seq = v.seq, hash = v.hash, created_at = v.created_at FROM unnest("
    + ", ".join(f"${i}::{t}[]" for i, t in enumerate(_HEADS_TYPES, len(POSTGRES_TYPES) + 1))
    + ") AS v(site_id, seq, hash, created_at) WHERE h.site_id = v.site_id"
    ") SELECT 1"
)
_LOCK_HEADS = (
    "SELECT site_id, hash, created_at FROM chain_heads WHERE site_id = ANY($1::text[]) "
    "ORDER BY site_id FOR UPDATE"
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
_COPY_HEAD = (
    "INSERT INTO chain_heads (site_id, seq, hash, created_at) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (site_id) DO UPDATE SET "
    "seq = excluded.seq, hash = excluded.hash, created_at = excluded.created_at"
)
#: Tokens the target has already are kept as they are.
_COPY_TOKEN = numbered(INSERT_TOKEN + " ON CONFLICT (token_id) DO NOTHING")
PARTITION_PREFIX = "consent_events_p"
#: ``consent_events``' partitions, the default one included, in the catalogue.
PARTITIONS_FROM = (
    "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'consent_events'::regclass"
)


@dataclass(frozen=True)
class PartitionPurge:
    """What :meth:`PostgresStore.drop_partitions_before` dropped, and per site what
    it removed (with the checkpoint row it appended)."""

    dropped: list[str] = field(default_factory=list)
    sites: dict[str, PurgeResult] = field(default_factory=dict)


async def month_partitions(conn: Any) -> list[str]:
    """The month partitions, oldest first."""
    names = await conn.fetch(
        f"SELECT c.relname {PARTITIONS_FROM} AND c.relname LIKE $1", PARTITION_PREFIX + "%"
    )
    return sorted(r[0] for r in names)


def next_month(moment: datetime) -> datetime:
    """Midnight UTC on the first day of the month after ``moment``'s."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def month_of(partition: str) -> tuple[int, int]:
    """The year and month a month partition holds."""
    digits = partition[len(PARTITION_PREFIX) :]
    return int(digits[:4]), int(digits[4:6])


def _month_end(partition: str) -> datetime:
    year, month = month_of(partition)
    return next_month(datetime(year, month, 1, tzinfo=UTC))


class PostgresStore(SqlStore):
    """The PostgreSQL implementation of :class:`~consent_service.store.base.Store`."""

    dialect = "postgresql"
    text_time = False
    _stats_query = staticmethod(postgres_daily_stats)
    #: Seconds a purge waits for the brief exclusive lock that detaching a partition takes
    #: (a long export holds it off); then ``purge`` deletes instead, the all-site drop fails.
    detach_lock_timeout: float = 2.0

    def __init__(self, url: str, *, readers: int = 8) -> None:
        super().__init__(url)
        self._writers: Any = None
        self._readers: Any = None
        self._max_readers = readers
        self._months: set[tuple[int, int]] = set()
        self._known_sites: set[str] = set()

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
        seqs = sorted(r[0] for r in await conn.fetch(_TAKE_SEQS, len(events)))
        rows = chain_seqs(events, seqs, heads, floors)
        await conn.execute(_WRITE, *column_arrays(rows), *_heads(rows))
        if texts:
            await self._insert_texts(conn, texts)
        return rows

    async def _insert_texts(self, conn: Any, texts: Sequence[TextsSnapshot]) -> None:
        await conn.executemany(_INSERT_TEXTS, [texts_values(t) for t in texts])

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
        last_hash = await conn.fetchval(_LAST_HASH, site_id, summary[2])
        result = purged(site_id, summary, last_hash)
        [row] = await self._append_in(conn, [checkpoint_for(result, before, now)])
        whole = await self._whole_months(conn, site_id, before, summary[2]) if drop else []
        if whole:
            sql = _DELETE + " AND tableoid <> ALL($3::regclass[])"
            await conn.execute(sql, site_id, summary[2], whole)
        else:
            await conn.execute(_DELETE, site_id, summary[2])
        await self._detach(conn, whole)
        return replace(result, checkpoint_seq=row.seq)

    async def ensure_partitions(self, moments: Sequence[datetime]) -> None:
        """Create the month partitions holding ``moments`` unless they exist already."""
        missing = sorted({(m.astimezone(UTC).year, m.astimezone(UTC).month) for m in moments})
        missing = [ym for ym in missing if ym not in self._months]
        if not missing:
            return
        async with self.pool.acquire() as conn:
            for year, month in missing:
                try:
                    await conn.execute(
                        "SELECT consent_events_ensure_partition($1)",
                        datetime(year, month, 1, tzinfo=UTC),
                    )
                except asyncpg.PostgresError as exc:
                    # E.g. the DEFAULT partition already holds rows of that month: the rows
                    # still land there, only retention by partition cannot drop them.
                    log.warning("no partition for %04d-%02d: %s", year, month, exc)
                self._months.add((year, month))

    async def partitions(self) -> list[str]:
        """The month partitions, oldest first (``consent_events_pYYYYMM``)."""
        async with self.read_pool.acquire() as conn:
            return await month_partitions(conn)

    async def partition_sizes(self) -> list[tuple[str, int, int]]:
        """Each partition (default included): name, estimated rows, bytes on disk."""
        async with self.read_pool.acquire() as conn:
            found = await conn.fetch(
                "SELECT c.relname, GREATEST(c.reltuples, 0)::bigint, "
                f"pg_total_relation_size(c.oid) {PARTITIONS_FROM} ORDER BY c.relname"
            )
        return [(r[0], int(r[1]), int(r[2])) for r in found]

    async def drop_partitions_before(self, cutoff: datetime, now: datetime) -> PartitionPurge:
        """Retention for every site at once: drop each month partition ending by ``cutoff``.

        Only whole months go: a month straddling ``cutoff`` stays until it is wholly
        older, and so does every month that has not ended by ``now``, where the
        checkpoints land. Time never runs backwards along a chain, so what goes is a
        prefix of each site's chain; in the same transaction each site that lost rows
        gets a checkpoint row (as ``purge`` appends) naming the hash its first kept
        row continues from.
        """
        last_end = min(cutoff, now)
        doomed = [p for p in await self.partitions() if _month_end(p) <= last_end]
        if not doomed:
            return PartitionPurge()
        async with self.read_pool.acquire() as conn:
            sites = sorted(r[0] for r in await conn.fetch("SELECT site_id FROM chain_heads"))
        try:
            await self._prepare([checkpoint_event(s, {}, now) for s in sites])
            async with self.pool.acquire() as conn, conn.transaction():
                return await self._drop_in(conn, doomed, sites, cutoff, now)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"PostgreSQL partition purge failed: {exc}") from exc

    async def _drop_in(
        self, conn: Any, doomed: list[str], sites: list[str], cutoff: datetime, now: datetime
    ) -> PartitionPurge:
        await self._lock_heads(conn, sites)  # no chain moves until we commit
        if await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM consent_events_default WHERE created_at < $1)", cutoff
        ):
            raise StoreError(
                "consent_events_default holds rows older than the cutoff: dropping months "
                "would cut those chains in the middle; purge those sites with `purge` first"
            )
        union = " UNION ALL ".join(
            f'SELECT seq, hash FROM "{part}" WHERE site_id = $1' for part in doomed
        )
        events, results = [], {}
        for site in sites:
            summary = await conn.fetchrow(
                f"SELECT count(*), min(seq), max(seq) FROM ({union}) t", site
            )
            if not summary[0]:
                continue
            last = await conn.fetchval(
                f"SELECT hash FROM ({union}) t WHERE seq = $2", site, summary[2]
            )
            results[site] = purged(site, summary, last)
            events.append(checkpoint_for(results[site], cutoff, now))
        rows = await self._append_in(conn, events) if events else []
        for row in rows:
            results[row.site_id] = replace(results[row.site_id], checkpoint_seq=row.seq)
        await self._detach(conn, doomed)
        return PartitionPurge(doomed, results)

    async def _whole_months(
        self, conn: Any, site_id: str, before: datetime, last_seq: int
    ) -> list[str]:
        """Month partitions ending by ``before`` whose every row is in the purged prefix.

        Such a partition holds no other site's rows and none of this site's rows after
        ``last_seq``: not the rows kept, and not the checkpoint the purge has just
        appended, which lands in the month of ``now`` (a month that ends by ``before``
        when a purge is given a cut-off in the future). Each check is an index lookup.
        """
        others = [
            r[0]
            for r in await conn.fetch(
                "SELECT site_id FROM chain_heads WHERE site_id <> $1", site_id
            )
        ]
        whole = []
        for part in await month_partitions(conn):
            if _month_end(part) > before:
                continue
            kept = await conn.fetchval(
                f'SELECT EXISTS (SELECT 1 FROM "{part}" WHERE site_id = ANY($1::text[])) '
                f'OR EXISTS (SELECT 1 FROM "{part}" WHERE site_id = $2 AND seq > $3)',
                others,
                site_id,
                last_seq,
            )
            if not kept:
                whole.append(part)
        return whole

    async def _detach(self, conn: Any, parts: Sequence[str]) -> None:
        """In the caller's transaction: detach and drop ``parts``.

        Detaching waits for queries on the parent: never queue writers behind it for
        long. Past :attr:`detach_lock_timeout` it raises ``LockNotAvailableError``.
        """
        if not parts:
            return
        await conn.execute(f"SET LOCAL lock_timeout = '{int(self.detach_lock_timeout * 1000)}ms'")
        for part in parts:
            await conn.execute(f'ALTER TABLE consent_events DETACH PARTITION "{part}"')
            await conn.execute(f'DROP TABLE "{part}"')
            self._months.discard(month_of(part))

    async def import_log(self, source: Store, batch_size: int = 5000) -> int:
        """Copy another store's audit log here, row for row (seq and hashes unchanged).

        For moving a single node from SQLite to PostgreSQL: this store must hold no
        audit rows yet. The texts shown and the admin tokens come along; then the chain
        heads and the sequence continue from the copied log. Returns the rows copied.
        """
        if await self.row_count():
            raise StoreError("the PostgreSQL audit log is not empty: import into a fresh database")
        heads: dict[str, AuditRow] = {}
        seen_texts: set[str] = set()
        copied = 0
        batch: list[AuditRow] = []

        async def flush() -> None:
            await self.ensure_partitions([r.created_at for r in batch])
            new_texts = [t for t in {r.texts_hash for r in batch} if t and t not in seen_texts]
            snapshots = [snap for h in new_texts if (snap := await source.texts(h)) is not None]
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(UNNEST_INSERT, *column_arrays(batch))
                await self._insert_texts(conn, snapshots)
            seen_texts.update(new_texts)

        try:
            async for row in source.iter_rows(batch_size=batch_size):
                batch.append(row)
                heads[row.site_id] = row
                if len(batch) >= batch_size:
                    await flush()
                    copied += len(batch)
                    batch = []
            if batch:
                await flush()
                copied += len(batch)
            tokens = await source.list_admin_tokens()
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.executemany(
                    _COPY_HEAD, [(r.site_id, r.seq, r.hash, r.created_at) for r in heads.values()]
                )
                last = max((r.seq for r in heads.values()), default=0)
                if last:
                    await conn.execute("SELECT setval('consent_events_seq', $1)", last)
                await conn.executemany(
                    _COPY_TOKEN, [token_values(t, text_time=False) for t in tokens]
                )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"import into PostgreSQL failed after {copied} rows: {exc}") from exc
        self._known_sites.update(heads)
        return copied


def _heads(rows: Sequence[AuditRow]) -> list[list[Any]]:
    last = {r.site_id: r for r in rows}  # rows are in chain order: the last one wins
    return [
        list(last),
        [r.seq for r in last.values()],
        [r.hash for r in last.values()],
        [r.created_at for r in last.values()],
    ]
