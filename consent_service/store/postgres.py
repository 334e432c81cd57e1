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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from consent_service.audit.canonical import UnencodableValue
from consent_service.audit.chain import GENESIS, chain_seqs
from consent_service.audit.events import CHECKPOINT, AuditRow, ConsentEvent, checkpoint_event
from consent_service.audit.timefmt import format_time
from consent_service.store.base import (
    DECISION_ACTIONS,
    Store,
    StoreDataError,
    StoreError,
    TextsSnapshot,
)
from consent_service.store.columns import (
    COLUMNS,
    POSTGRES_TYPES,
    UNNEST_INSERT,
    audit_row,
    column_arrays,
)
from consent_service.store.records import (
    AccessEntry,
    AdminToken,
    DayCounts,
    PurgeResult,
)

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
#: Key of the session advisory lock that lets one replica at a time migrate.
_MIGRATE_LOCK = 7_356_211_001
_PARTITION_PREFIX = "consent_events_p"
_TOKEN_COLUMNS = "token_id, token_hash, role, sites, label, created_at, revoked_at"  # noqa: S105 - column names
_ACCESS_COLUMNS = "id, at, token_id, role, site_id, action, detail"


@dataclass(frozen=True)
class PartitionPurge:
    """What :meth:`PostgresStore.drop_partitions_before` dropped, and per site what it
    removed (with the checkpoint row it appended)."""

    dropped: list[str] = field(default_factory=list)
    sites: dict[str, PurgeResult] = field(default_factory=dict)


class PostgresStore(Store):
    """The PostgreSQL implementation of :class:`~consent_service.store.base.Store`."""

    dialect = "postgresql"
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
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"PostgreSQL write failed: {exc}") from exc

    async def _prepare(self, events: Sequence[ConsentEvent]) -> None:
        """Outside any transaction: genesis heads for new sites, partitions for new months."""
        await self._ensure_sites(sorted({e.site_id for e in events}))
        await self.ensure_partitions([e.created_at for e in events])

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
            f"SELECT {COLUMNS} FROM consent_events WHERE {' AND '.join(where)} "
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
                f"SELECT {COLUMNS} FROM consent_events "
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
                await conn.executemany(
                    "INSERT INTO consent_texts VALUES ($1, $2, $3, $4, $5, now()) "
                    "ON CONFLICT (texts_hash) DO NOTHING",
                    [
                        (t.texts_hash, t.site_id, t.language, t.policy_version, _json(t.texts))
                        for t in snapshots
                    ],
                )
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
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.executemany(
                    "INSERT INTO chain_heads (site_id, seq, hash, created_at) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (site_id) DO UPDATE SET "
                    "seq = excluded.seq, hash = excluded.hash, created_at = excluded.created_at",
                    [(r.site_id, r.seq, r.hash, r.created_at) for r in heads.values()],
                )
                last = max((r.seq for r in heads.values()), default=0)
                if last:
                    await conn.execute("SELECT setval('consent_events_seq', $1)", last)
                for token in await source.list_admin_tokens():
                    if await conn.fetchval(
                        "SELECT 1 FROM admin_tokens WHERE token_id = $1", token.token_id
                    ):
                        continue
                    await conn.execute(
                        f"INSERT INTO admin_tokens ({_TOKEN_COLUMNS}) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        token.token_id,
                        token.token_hash,
                        token.role,
                        json.dumps(list(token.sites)),
                        token.label,
                        token.created_at,
                        token.revoked_at,
                    )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"import into PostgreSQL failed after {copied} rows: {exc}") from exc
        self._known_sites.update(heads)
        return copied

    async def partition_sizes(self) -> list[tuple[str, int, int]]:
        """Each partition (default included): name, estimated rows, bytes on disk."""
        async with self.read_pool.acquire() as conn:
            found = await conn.fetch(
                "SELECT c.relname, GREATEST(c.reltuples, 0)::bigint, "
                "pg_total_relation_size(c.oid) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'consent_events'::regclass ORDER BY c.relname"
            )
        return [(r[0], int(r[1]), int(r[2])) for r in found]

    async def drop_partitions_before(self, cutoff: datetime, now: datetime) -> PartitionPurge:
        """Retention for every site at once: drop each month partition ending by ``cutoff``.

        Only whole months go: a month straddling ``cutoff`` stays until it is wholly
        older, and so does every month that has not ended by ``now``, where the
        checkpoints land. Time never runs backwards along a chain, so what goes is a
        prefix of each site's chain; in the same transaction each site that lost rows
        gets a checkpoint row (as :meth:`purge` appends) naming the hash its first kept
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
        await conn.fetch(_LOCK_HEADS, sites)  # no chain moves until we commit
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
            detail = {
                "purged_rows": int(summary[0]),
                "first_seq": int(summary[1]),
                "last_seq": int(summary[2]),
                "before": format_time(cutoff),
                "continued_from": str(last),
            }
            events.append(checkpoint_event(site, detail, now))
            results[site] = PurgeResult(
                site, int(summary[0]), int(summary[1]), int(summary[2]), str(last)
            )
        rows = await self._append_in(conn, events) if events else []
        for row in rows:
            results[row.site_id] = replace(results[row.site_id], checkpoint_seq=row.seq)
        # Detaching waits for queries on the parent: never queue writers behind it for long.
        await conn.execute(f"SET LOCAL lock_timeout = '{int(self.detach_lock_timeout * 1000)}ms'")
        for part in doomed:
            await conn.execute(f'ALTER TABLE consent_events DETACH PARTITION "{part}"')
            await conn.execute(f'DROP TABLE "{part}"')
            self._months.discard(_month_of(part))
        return PartitionPurge(doomed, results)

    # -- the privacy officer's side (same contract and SQL shapes as store/sqlite.py) ------

    async def create_admin_token(self, token: AdminToken) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                f"INSERT INTO admin_tokens ({_TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                token.token_id,
                token.token_hash,
                token.role,
                json.dumps(list(token.sites)),
                token.label,
                token.created_at,
                token.revoked_at,
            )

    async def find_admin_token(self, token_id: str) -> AdminToken | None:
        async with self.read_pool.acquire() as conn:
            raw = await conn.fetchrow(
                f"SELECT {_TOKEN_COLUMNS} FROM admin_tokens WHERE token_id = $1", token_id
            )
        return None if raw is None else _token(raw)

    async def list_admin_tokens(self) -> list[AdminToken]:
        async with self.read_pool.acquire() as conn:
            found = await conn.fetch(
                f"SELECT {_TOKEN_COLUMNS} FROM admin_tokens ORDER BY created_at, token_id"
            )
        return [_token(raw) for raw in found]

    async def revoke_admin_token(self, token_id: str, at: datetime) -> bool:
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                "UPDATE admin_tokens SET revoked_at = $1 WHERE token_id = $2 AND revoked_at IS NULL",
                at,
                token_id,
            )
        return bool(status != "UPDATE 0")

    async def log_access(self, entry: AccessEntry) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO admin_access_log (at, token_id, role, site_id, action, detail) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                entry.at,
                entry.token_id,
                entry.role,
                entry.site_id,
                entry.action,
                json.dumps(dict(entry.detail), ensure_ascii=False, separators=(",", ":")),
            )

    async def iter_access_log(
        self, *, site_id: str | None = None, limit: int | None = None
    ) -> AsyncIterator[AccessEntry]:
        where, args = ("site_id = $2", [site_id]) if site_id is not None else ("true", [])
        async with self.read_pool.acquire() as conn:
            if limit is not None:
                where = where.replace("$2", "$1")
                found = await conn.fetch(
                    f"SELECT * FROM (SELECT {_ACCESS_COLUMNS} FROM admin_access_log "
                    f"WHERE {where} ORDER BY id DESC LIMIT {int(limit)}) t ORDER BY id",
                    *args,
                )
                for raw in found:
                    yield _access(raw)
                return
            cursor = 0
            while True:
                batch = await conn.fetch(
                    f"SELECT {_ACCESS_COLUMNS} FROM admin_access_log WHERE id > $1 AND {where} "
                    "ORDER BY id LIMIT 500",
                    cursor,
                    *args,
                )
                for raw in batch:
                    yield _access(raw)
                if len(batch) < 500:
                    return
                cursor = batch[-1][0]

    async def daily_stats(
        self,
        site_id: str,
        since: datetime | None,
        until: datetime | None,
        categories: Sequence[str],
        optional_categories: Sequence[str],
    ) -> list[DayCounts]:
        cats = list(dict.fromkeys([*categories, *optional_categories]))
        args: list[Any] = [site_id, list(DECISION_ACTIONS)]

        def allowed(category: str) -> str:
            args.append(category)
            return f"COALESCE((c ->> ${len(args)})::boolean, false)"

        any_optional = " OR ".join(allowed(c) for c in optional_categories) or "false"
        per_category = [f"count(*) FILTER (WHERE decision AND {allowed(c)})" for c in cats]
        where = ["site_id = $1", "(action = ANY($2::text[]) OR action = 'withdraw')"]
        for clause, value in (("created_at >= ", since), ("created_at < ", until)):
            if value is not None:
                args.append(value)
                where.append(f"{clause}${len(args)}")
        sql = (
            "SELECT day, count(*) FILTER (WHERE decision), "
            f"count(*) FILTER (WHERE decision AND NOT ({any_optional})), "
            "count(*) FILTER (WHERE decision AND gpc), count(*) FILTER (WHERE NOT decision), "
            + ", ".join([*per_category, "0"])
            + " FROM (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, "
            "action = ANY($2::text[]) AS decision, gpc, choices::jsonb AS c "
            f"FROM consent_events WHERE {' AND '.join(where)}) t GROUP BY day ORDER BY day"
        )
        async with self.read_pool.acquire() as conn:
            found = await conn.fetch(sql, *args)
        return [
            DayCounts(
                day=raw[0],
                decisions=int(raw[1]),
                refusals=int(raw[2]),
                gpc=int(raw[3]),
                withdrawals=int(raw[4]),
                allowed={cat: int(raw[5 + i]) for i, cat in enumerate(cats)},
            )
            for raw in found
        ]

    async def purge(self, site_id: str, before: datetime, now: datetime) -> PurgeResult:
        """As on SQLite: remove a prefix of the site's chain and append a checkpoint.

        Month partitions that end by ``before`` and hold rows of no other site are
        dropped whole (no dead rows); only the rest is deleted. The partitions are
        detached last, so the brief exclusive lock is held only until the commit; if a
        long reader keeps it away past :attr:`detach_lock_timeout`, the purge deletes
        those rows instead: slower, never blocked.
        """
        checkpoint = checkpoint_event(site_id, {}, now)
        try:
            await self._prepare([checkpoint])
            for drop in (True, False):
                try:
                    async with self.pool.acquire() as conn, conn.transaction():
                        return await self._purge_in(conn, site_id, before, checkpoint, drop)
                except asyncpg.LockNotAvailableError:
                    log.warning("purge of %s: partitions busy, deleting rows instead", site_id)
            raise StoreError("the purge could not take its locks; try again")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"PostgreSQL purge failed: {exc}") from exc

    async def _purge_in(
        self, conn: Any, site_id: str, before: datetime, checkpoint: ConsentEvent, drop: bool
    ) -> PurgeResult:
        # Lock the site's head first: no append to this chain runs until we commit.
        await conn.fetch(_LOCK_HEADS, [site_id])
        keep = await conn.fetchval(
            "SELECT min(seq) FROM consent_events WHERE site_id = $1 AND created_at >= $2",
            site_id,
            before,
        )
        bound = "" if keep is None else " AND seq < $2"
        summary = await conn.fetchrow(
            "SELECT count(*), min(seq), max(seq) FROM consent_events WHERE site_id = $1" + bound,
            site_id,
            *([] if keep is None else [keep]),
        )
        count = int(summary[0])
        if count == 0:
            return PurgeResult(site_id, 0)
        first_seq, last_seq = int(summary[1]), int(summary[2])
        continued_from = await conn.fetchval(
            "SELECT hash FROM consent_events WHERE site_id = $1 AND seq = $2", site_id, last_seq
        )
        detail = {
            "purged_rows": count,
            "first_seq": first_seq,
            "last_seq": last_seq,
            "before": format_time(before),
            "continued_from": str(continued_from),
        }
        [row] = await self._append_in(conn, [replace(checkpoint, detail=detail)])
        whole = await self._only_purged_rows(conn, site_id, before, last_seq) if drop else []
        await conn.execute(
            "DELETE FROM consent_events WHERE site_id = $1 AND seq <= $2"
            + ("" if not whole else " AND tableoid <> ALL($3::regclass[])"),
            site_id,
            last_seq,
            *([whole] if whole else []),
        )
        await conn.execute(f"SET LOCAL lock_timeout = '{int(self.detach_lock_timeout * 1000)}ms'")
        for part in whole:
            await conn.execute(f'ALTER TABLE consent_events DETACH PARTITION "{part}"')
            await conn.execute(f'DROP TABLE "{part}"')
            self._months.discard(_month_of(part))
        return PurgeResult(site_id, count, first_seq, last_seq, str(continued_from), row.seq)

    async def _only_purged_rows(
        self, conn: Any, site_id: str, before: datetime, last_seq: int
    ) -> list[str]:
        """Month partitions ending by ``before`` whose every row is in the purged prefix.

        Such a partition holds no other site's rows and none of this site's rows after
        ``last_seq``: not the rows kept, and not the checkpoint the purge has just
        appended, which lands in the month of ``now`` (a month that ends by ``before``
        when a purge is given a cut-off in the future). Each check is an index lookup.
        """
        names = await conn.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'consent_events'::regclass AND c.relname LIKE $1",
            _PARTITION_PREFIX + "%",
        )
        others = [
            r[0]
            for r in await conn.fetch(
                "SELECT site_id FROM chain_heads WHERE site_id <> $1", site_id
            )
        ]
        whole = []
        for part in sorted(r[0] for r in names):
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

    async def last_seq(self) -> int:
        async with self.read_pool.acquire() as conn:
            return int(await conn.fetchval("SELECT COALESCE(max(seq), 0) FROM consent_events"))

    async def row_before(self, site_id: str, seq: int) -> AuditRow | None:
        async with self.read_pool.acquire() as conn:
            raw = await conn.fetchrow(
                f"SELECT {COLUMNS} FROM consent_events WHERE site_id = $1 AND seq < $2 "
                "ORDER BY seq DESC LIMIT 1",
                site_id,
                seq,
            )
        return None if raw is None else _row(raw)

    async def checkpoint_rows(self, site_id: str | None = None) -> list[AuditRow]:
        args: list[Any] = [CHECKPOINT]
        where = "action = $1"
        if site_id is not None:
            args.append(site_id)
            where += " AND site_id = $2"
        async with self.read_pool.acquire() as conn:
            found = await conn.fetch(
                f"SELECT {COLUMNS} FROM consent_events WHERE {where} ORDER BY seq", *args
            )
        return [_row(raw) for raw in found]


def _next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _month_of(partition: str) -> tuple[int, int]:
    digits = partition[len(_PARTITION_PREFIX) :]
    return int(digits[:4]), int(digits[4:6])


def _month_end(partition: str) -> datetime:
    year, month = _month_of(partition)
    return _next_month(datetime(year, month, 1, tzinfo=UTC))


def _heads(rows: Sequence[AuditRow]) -> list[list[Any]]:
    last = {r.site_id: r for r in rows}  # rows are in chain order: the last one wins
    return [
        list(last),
        [r.seq for r in last.values()],
        [r.hash for r in last.values()],
        [r.created_at for r in last.values()],
    ]


def _json(value: Any) -> str:
    return json.dumps(dict(value), ensure_ascii=False, separators=(",", ":"))


def _token(raw: Sequence[Any]) -> AdminToken:
    return AdminToken(
        token_id=raw[0],
        token_hash=raw[1],
        role=raw[2],
        sites=tuple(json.loads(raw[3])),
        label=raw[4],
        created_at=raw[5].astimezone(UTC),
        revoked_at=None if raw[6] is None else raw[6].astimezone(UTC),
    )


def _access(raw: Sequence[Any]) -> AccessEntry:
    return AccessEntry(
        id=int(raw[0]),
        at=raw[1].astimezone(UTC),
        token_id=raw[2],
        role=raw[3],
        site_id=raw[4],
        action=raw[5],
        detail=json.loads(raw[6]),
    )


def _row(raw: Sequence[Any]) -> AuditRow:
    return audit_row(raw, text_time=False)
