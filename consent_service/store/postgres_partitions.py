"""The audit log's month partitions on PostgreSQL: creating them, and retention by dropping them.

``consent_events`` is partitioned by UTC month (``consent_events_pYYYYMM``, each
created before rows land in it), so retention can remove old rows at any size by
dropping whole months instead of deleting rows (see ``docs/scaling.md``): for every
site at once
(:meth:`PartitionMaintenance.drop_partitions_before`, the ``partitions`` command), or
as the part of one site's purge that holds only that site's purged rows.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg

from consent_service.audit.events import AuditRow, ConsentEvent, checkpoint_event
from consent_service.store.base import StoreError, TextsSnapshot
from consent_service.store.postgres_rollups import recount_in
from consent_service.store.purge import purged
from consent_service.store.records import PurgeResult

log = logging.getLogger(__name__)

PARTITION_PREFIX = "consent_events_p"
#: ``consent_events``' partitions, the default one included, in the catalogue.
PARTITIONS_FROM = (
    "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'consent_events'::regclass"
)


@dataclass(frozen=True)
class PartitionPurge:
    """What :meth:`PartitionMaintenance.drop_partitions_before` dropped, and per site what
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


class PartitionMaintenance(abc.ABC):
    """The partition side of :class:`~.postgres.PostgresStore` (a mixin of it)."""

    #: Seconds a purge waits for the brief exclusive lock that detaching a partition takes
    #: (a long export holds it off); then ``purge`` deletes instead, the all-site drop fails.
    detach_lock_timeout: float = 2.0
    #: The months whose partition exists or could not be made (set up by PostgresStore).
    _months: set[tuple[int, int]]

    # What PostgresStore provides.
    @property
    @abc.abstractmethod
    def pool(self) -> Any:
        """The pool that writes."""

    @property
    @abc.abstractmethod
    def read_pool(self) -> Any:
        """The pool that reads."""

    @abc.abstractmethod
    async def _prepare(self, events: Sequence[ConsentEvent]) -> None:
        """Outside any transaction: what appending ``events`` needs."""

    @abc.abstractmethod
    async def _lock_heads(self, conn: Any, sites: Sequence[str]) -> None:
        """Lock the chain heads of ``sites`` until the transaction ends."""

    @abc.abstractmethod
    async def _checkpoint(
        self, conn: Any, result: PurgeResult, before: datetime, now: datetime, size: int
    ) -> ConsentEvent:
        """The checkpoint row recording ``result``, the tree's first ``size`` leaves gone."""

    @abc.abstractmethod
    async def _append_in(
        self, conn: Any, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot] = ()
    ) -> list[AuditRow]:
        """Chain and insert ``events`` in the caller's transaction."""

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
            f'SELECT seq, hash, leaf_index, created_at FROM "{part}" WHERE site_id = $1'
            for part in doomed
        )
        events, results = [], {}
        for site in sites:
            summary = await conn.fetchrow(
                f"SELECT count(*), min(seq), max(seq), min(created_at), max(created_at)"
                f" FROM ({union}) t",
                site,
            )
            if not summary[0]:
                continue
            last = await conn.fetchrow(
                f"SELECT hash, leaf_index FROM ({union}) t WHERE seq = $2", site, summary[2]
            )
            results[site] = purged(site, summary, last[0])
            await recount_in(conn, site, summary)
            events.append(await self._checkpoint(conn, results[site], cutoff, now, last[1] + 1))
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
