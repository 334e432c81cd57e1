"""The scale-out store: PostgreSQL through an asyncpg pool, shared by every replica.

An append is one transaction: lock the ``chain_heads`` row of every site in the batch
(``SELECT … FOR UPDATE`` in site order, so writers never deadlock), read the heads, take
the batch's ``seq`` numbers from the sequence *after* the locks (so ``seq`` grows along
each chain), link the rows, and write rows and new heads in one statement. Writers on
different replicas therefore never fork a chain, and each replica still commits a
whole group of requests at once.

``consent_events`` is partitioned by UTC month; :meth:`PostgresStore.drop_partitions_before`
is how retention removes old rows at any size (see ``docs/scaling.md``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ..audit import GENESIS, AuditRow, ConsentEvent, chain_seqs, choices_json
from .base import Store, StoreError, TextsSnapshot

log = logging.getLogger(__name__)

_COLUMNS = (
    "seq, event_id, site_id, consent_id, action, choices, policy_version, texts_hash, language, "
    "widget_version, page, ip, browser, gpc, created_at, prev_hash, hash"
)
_TYPES = ("bigint", *["text"] * 12, "boolean", "timestamptz", "text", "text")
# Rows and the sites' new heads in one round trip.
_WRITE = (
    "WITH new_rows AS ("
    f"INSERT INTO consent_events ({_COLUMNS}) SELECT * FROM unnest("
    + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_TYPES))
    + ")), new_heads AS ("
    "UPDATE chain_heads h SET seq = v.seq, hash = v.hash, created_at = v.created_at "
    "FROM unnest($18::text[], $19::bigint[], $20::text[], $21::timestamptz[]) "
    "AS v(site_id, seq, hash, created_at) WHERE h.site_id = v.site_id"
    ") SELECT 1"
)
_LOCK_HEADS = (
    "SELECT site_id, hash, created_at FROM chain_heads WHERE site_id = ANY($1::text[]) "
    "ORDER BY site_id FOR UPDATE"
)
_TAKE_SEQS = "SELECT nextval('consent_events_seq') FROM generate_series(1, $1::int)"
#: Key of the session advisory lock that lets one replica at a time migrate.
_MIGRATE_LOCK = 7_356_211_001
_PARTITION_PREFIX = "consent_events_p"


@dataclass(frozen=True)
class PartitionPurge:
    """What :meth:`PostgresStore.drop_partitions_before` removed.

    ``anchors`` maps each site that lost rows to the hash of its last dropped row: the
    ``prev_hash`` its first kept row points at, which verify must then accept.
    """

    dropped: list[str] = field(default_factory=list)
    anchors: dict[str, str] = field(default_factory=dict)


class PostgresStore(Store):
    """The PostgreSQL implementation of :class:`~consent_service.store.base.Store`."""

    dialect = "postgresql"

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
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
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

    async def migrate(self) -> list[str]:
        applied: list[str] = []
        async with self.pool.acquire() as conn:
            # Replicas start together: one migrates, the others wait and find nothing to do.
            await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATE_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version text PRIMARY KEY, applied_at timestamptz NOT NULL)"
                )
                done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                for path in self.migration_files():
                    if path.stem in done:
                        continue
                    try:
                        async with conn.transaction():
                            await conn.execute(path.read_text())
                            await conn.execute(
                                "INSERT INTO schema_migrations (version, applied_at) "
                                "VALUES ($1, now())",
                                path.stem,
                            )
                    except asyncpg.PostgresError as exc:
                        raise StoreError(f"migration {path.name} failed: {exc}") from exc
                    applied.append(path.stem)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATE_LOCK)
        now = datetime.now(UTC)
        await self.ensure_partitions([now, _next_month(now)])
        return applied

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

    async def ping(self) -> None:
        try:
            async with self.read_pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"PostgreSQL does not answer: {exc}") from exc

    async def append(
        self, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot] = ()
    ) -> list[AuditRow]:
        if not events:
            return []
        sites = sorted({e.site_id for e in events})
        await self._ensure_sites(sites)
        await self.ensure_partitions([e.created_at for e in events])
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                locked = await conn.fetch(_LOCK_HEADS, sites)
                if len(locked) != len(sites):
                    raise StoreError("a site's chain head is missing")
                heads = {r["site_id"]: r["hash"] for r in locked}
                floors = {r["site_id"]: r["created_at"] for r in locked if r["created_at"]}
                seqs = sorted(r[0] for r in await conn.fetch(_TAKE_SEQS, len(events)))
                rows = chain_seqs(events, seqs, heads, floors)
                await conn.execute(_WRITE, *_columns(rows), *_heads(rows))
                if texts:
                    await conn.executemany(
                        "INSERT INTO consent_texts VALUES ($1, $2, $3, $4, $5, now()) "
                        "ON CONFLICT (texts_hash) DO NOTHING",
                        [
                            (
                                t.texts_hash,
                                t.site_id,
                                t.language,
                                t.policy_version,
                                json.dumps(t.texts, ensure_ascii=False),
                            )
                            for t in texts
                        ],
                    )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"PostgreSQL write failed: {exc}") from exc
        return rows

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

    async def iter_rows(
        self,
        *,
        site_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        batch_size: int = 1000,
    ) -> AsyncIterator[AuditRow]:
        where = ["seq > $1"]
        args: list[Any] = []
        for clause, value in (
            ("site_id = ${}", site_id),
            ("created_at >= ${}", since),
            ("created_at < ${}", until),
        ):
            if value is not None:
                args.append(value)
                where.append(clause.format(len(args) + 1))
        sql = (
            f"SELECT {_COLUMNS} FROM consent_events WHERE {' AND '.join(where)} "
            f"ORDER BY seq LIMIT {int(batch_size)}"
        )
        # One snapshot for the whole walk: a row whose seq was taken before a neighbour's
        # but committed after it is either wholly in the snapshot or wholly out, never
        # skipped between two pages.
        async with (
            self.read_pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            cursor = after_seq
            while True:
                batch = await conn.fetch(sql, cursor, *args)
                for raw in batch:
                    yield _row(raw)
                if len(batch) < batch_size:
                    return
                cursor = batch[-1][0]

    async def consent_history(self, site_id: str, consent_id: str) -> list[AuditRow]:
        async with self.read_pool.acquire() as conn:
            raw = await conn.fetch(
                f"SELECT {_COLUMNS} FROM consent_events "
                "WHERE site_id = $1 AND consent_id = $2 ORDER BY seq",
                site_id,
                consent_id,
            )
        return [_row(r) for r in raw]

    async def texts(self, texts_hash: str) -> TextsSnapshot | None:
        async with self.read_pool.acquire() as conn:
            raw = await conn.fetchrow(
                "SELECT texts_hash, site_id, language, policy_version, texts FROM consent_texts "
                "WHERE texts_hash = $1",
                texts_hash,
            )
        if raw is None:
            return None
        return TextsSnapshot(raw[0], raw[1], raw[2], raw[3], json.loads(raw[4]))

    async def row_count(self) -> int:
        """Exact below a million rows; above, the planner's estimate (a count would scan)."""
        async with self.read_pool.acquire() as conn:
            estimate = await conn.fetchval(
                "SELECT COALESCE(SUM(GREATEST(c.reltuples, 0)), 0)::bigint FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'consent_events'::regclass"
            )
            if estimate >= 1_000_000:
                return int(estimate)
            return int(await conn.fetchval("SELECT COUNT(*) FROM consent_events"))

    async def partitions(self) -> list[str]:
        """The month partitions, oldest first (``consent_events_pYYYYMM``)."""
        async with self.read_pool.acquire() as conn:
            names = await conn.fetch(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'consent_events'::regclass AND c.relname LIKE $1",
                _PARTITION_PREFIX + "%",
            )
        return sorted(r[0] for r in names)

    async def drop_partitions_before(
        self, cutoff: datetime, *, lock_timeout: str = "5s"
    ) -> PartitionPurge:
        """Detach and drop every month partition that ends on or before ``cutoff``.

        Only whole months go: a month straddling ``cutoff`` stays until it is wholly
        older. Time only grows along a chain, so what goes is a prefix of each site's
        chain; the returned anchors let verify accept the first row kept.
        """
        doomed = [p for p in await self.partitions() if _month_end(p) <= cutoff]
        result = PartitionPurge()
        if not doomed:
            return result
        async with self.pool.acquire() as conn:
            sites = [r[0] for r in await conn.fetch("SELECT site_id FROM chain_heads")]
            for part in doomed:  # oldest first, so later partitions' anchors win
                for site in sites:
                    last = await conn.fetchval(
                        f'SELECT hash FROM "{part}" WHERE site_id = $1 ORDER BY seq DESC LIMIT 1',
                        site,
                    )
                    if last is not None:
                        result.anchors[site] = last
            for part in doomed:
                async with conn.transaction():
                    # Detaching waits for queries on the parent; never queue writers behind it.
                    await conn.execute(f"SET LOCAL lock_timeout = '{lock_timeout}'")
                    await conn.execute(f'ALTER TABLE consent_events DETACH PARTITION "{part}"')
                    await conn.execute(f'DROP TABLE "{part}"')
                result.dropped.append(part)
                self._months.discard(_month_of(part))
        return result


def _next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _month_of(partition: str) -> tuple[int, int]:
    digits = partition[len(_PARTITION_PREFIX) :]
    return int(digits[:4]), int(digits[4:6])


def _month_end(partition: str) -> datetime:
    year, month = _month_of(partition)
    return _next_month(datetime(year, month, 1, tzinfo=UTC))


def _columns(rows: Sequence[AuditRow]) -> list[list[Any]]:
    return [
        [r.seq for r in rows],
        [r.event_id for r in rows],
        [r.site_id for r in rows],
        [r.consent_id for r in rows],
        [r.action for r in rows],
        [choices_json(r.choices) for r in rows],
        [r.policy_version for r in rows],
        [r.texts_hash for r in rows],
        [r.language for r in rows],
        [r.widget_version for r in rows],
        [r.page for r in rows],
        [r.ip for r in rows],
        [r.browser for r in rows],
        [r.gpc for r in rows],
        [r.created_at for r in rows],
        [r.prev_hash for r in rows],
        [r.hash for r in rows],
    ]


def _heads(rows: Sequence[AuditRow]) -> list[list[Any]]:
    last = {r.site_id: r for r in rows}  # rows are in chain order: the last one wins
    return [
        list(last),
        [r.seq for r in last.values()],
        [r.hash for r in last.values()],
        [r.created_at for r in last.values()],
    ]


def _row(raw: Sequence[Any]) -> AuditRow:
    return AuditRow(
        seq=int(raw[0]),
        event_id=raw[1],
        site_id=raw[2],
        consent_id=raw[3],
        action=raw[4],
        choices=json.loads(raw[5]),
        policy_version=raw[6],
        texts_hash=raw[7],
        language=raw[8],
        widget_version=raw[9],
        page=raw[10],
        ip=raw[11],
        browser=raw[12],
        gpc=bool(raw[13]),
        created_at=raw[14].astimezone(UTC),
        prev_hash=raw[15],
        hash=raw[16],
    )
