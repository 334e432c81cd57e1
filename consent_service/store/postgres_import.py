"""Moving a single node to PostgreSQL: copy another store's audit log, row for row."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from consent_service.audit.events import AuditRow
from consent_service.store.base import Store, StoreError, TextsSnapshot
from consent_service.store.columns import UNNEST_INSERT, column_arrays
from consent_service.store.postgres_rollups import rebuild_in
from consent_service.store.sql import INSERT_TOKEN, numbered, token_values

_COPY_HEAD = (
    "INSERT INTO chain_heads (site_id, seq, hash, created_at) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (site_id) DO UPDATE SET "
    "seq = excluded.seq, hash = excluded.hash, created_at = excluded.created_at"
)
#: Tokens the target has already are kept as they are.
_COPY_TOKEN = numbered(INSERT_TOKEN + " ON CONFLICT (token_id) DO NOTHING")


class LogImport(abc.ABC):
    """The ``import-log`` side of :class:`~.postgres.PostgresStore` (a mixin of it)."""

    #: Sites whose chain head exists (PostgresStore keeps it).
    _known_sites: set[str]

    # What the rest of PostgresStore provides.
    @property
    @abc.abstractmethod
    def pool(self) -> Any:
        """The pool that writes."""

    @abc.abstractmethod
    async def _insert_texts(self, conn: Any, texts: Sequence[TextsSnapshot]) -> None:
        """Keep ``texts`` unless kept already, in the caller's transaction."""

    @abc.abstractmethod
    async def row_count(self) -> int:
        """The audit rows stored."""

    @abc.abstractmethod
    async def ensure_partitions(self, moments: Sequence[datetime]) -> None:
        """Create the month partitions holding ``moments`` (PartitionMaintenance)."""

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
                await rebuild_in(conn, None)  # the copied rows' rollups, with the heads
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"import into PostgreSQL failed after {copied} rows: {exc}") from exc
        self._known_sites.update(heads)
        return copied
