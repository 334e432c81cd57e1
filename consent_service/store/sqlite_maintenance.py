"""The SQLite chain writer's rarer transactions: purges and rebuilds of the rollups.

A mixin of :class:`~.sqlite_chain.ChainWriter`: both run on its append thread and
connection, under its lock, so no append slips in between, and an append waiting for
a long rebuild waits on the lock, never on SQLite's busy timeout.
"""

from __future__ import annotations

import abc
import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from consent_service.audit.events import AuditRow, ConsentEvent
from consent_service.audit.signing import LogSigner
from consent_service.audit.timefmt import format_time
from consent_service.store.base import TextsSnapshot
from consent_service.store.purge import (
    PURGE_DELETE,
    PURGE_KEEP,
    PURGE_LAST_HASH,
    checkpoint_for,
    purge_span,
    purged,
)
from consent_service.store.records import PurgeResult
from consent_service.store.rollups_sql import (
    PURGE_FORGET,
    PURGE_RECOUNT_WHERE,
    SQLITE_DAY,
    day_bounds,
    rebuild,
)
from consent_service.store.tree import TILES_SQL, prefix_hashes, prefix_tiles_where

#: A statement of a staged batch: SQL and its parameters.
Write = tuple[str, list[Any]]


def rebuild_writes(site_id: str | None) -> list[Write]:
    """Forget the rollups (of ``site_id``, or all) and count them again from the rows."""
    if site_id is None:
        return [("DELETE FROM consent_rollups", []), (rebuild(SQLITE_DAY, "true"), [])]
    return [
        ("DELETE FROM consent_rollups WHERE site_id = ?", [site_id]),
        (rebuild(SQLITE_DAY, "site_id = ?"), [site_id]),
    ]


def recount_writes(site_id: str, summary: Sequence[Any]) -> list[Write]:
    """After a purge summarised by ``summary`` (:func:`~.purge.purge_span`): recount the
    days its rows fell on from the rows that remain of them."""
    first, last, start, end = day_bounds(summary[3], summary[4], text_time=True)
    return [
        (PURGE_FORGET, [site_id, first, last]),
        (rebuild(SQLITE_DAY, PURGE_RECOUNT_WHERE), [site_id, start, end, summary[2]]),
    ]


class ChainMaintenance(abc.ABC):
    """Purges and rollup rebuilds; the rest is :class:`~.sqlite_chain.ChainWriter`'s."""

    _lock: asyncio.Lock

    @property
    @abc.abstractmethod
    def _connection(self) -> sqlite3.Connection:
        """The append connection."""

    @abc.abstractmethod
    async def _in_thread(self, func: Any, *args: Any) -> Any:
        """Run ``func`` on the append thread."""

    @abc.abstractmethod
    def _committed(self) -> None:
        """Count a commit (for the WAL checkpoints)."""

    @abc.abstractmethod
    def _stage(
        self,
        conn: sqlite3.Connection,
        events: Sequence[ConsentEvent],
        texts: Sequence[TextsSnapshot],
        signer: LogSigner | None,
    ) -> tuple[list[AuditRow], list[Write]]:
        """Chain ``events`` in the open transaction; the writes to run."""

    @staticmethod
    @abc.abstractmethod
    def _write_and_commit(conn: sqlite3.Connection, writes: list[Write]) -> None:
        """Run the writes and commit; any failure rolls back."""

    async def purge(
        self, site_id: str, before: datetime, now: datetime, signer: LogSigner | None = None
    ) -> PurgeResult:
        """The store's purge, in one transaction on the thread; no append slips in between."""
        async with self._lock:
            result: PurgeResult = await self._in_thread(
                self._purge_locking, site_id, before, now, signer
            )
            self._committed()
            return result

    def _purge_locking(
        self, site_id: str, before: datetime, now: datetime, signer: LogSigner | None
    ) -> PurgeResult:
        """On the append thread: summarise, append the checkpoint, delete, recount the
        rollups of the days touched; one transaction."""
        conn = self._connection
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("BEGIN IMMEDIATE")
        try:
            [keep] = conn.execute(PURGE_KEEP, (site_id, format_time(before))).fetchone()
            summary = conn.execute(*purge_span(site_id, keep)).fetchone()
            if not summary[0]:
                conn.execute("ROLLBACK")
                return PurgeResult(site_id, 0)
            last_hash, last_leaf = conn.execute(PURGE_LAST_HASH, (site_id, summary[2])).fetchone()
            result = purged(site_id, summary, last_hash)
            size = last_leaf + 1
            where, args = prefix_tiles_where(site_id, size)
            tiles = conn.execute(TILES_SQL.format(where), args)
            event = checkpoint_for(result, before, now, size, prefix_hashes(size, tiles.fetchall()))
            [checkpoint], writes = self._stage(conn, [event], (), signer)
            writes.append((PURGE_DELETE, [site_id, result.last_seq]))
            writes += recount_writes(site_id, summary)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._write_and_commit(conn, writes)
        return replace(result, checkpoint_seq=checkpoint.seq)

    async def rebuild_rollups(self, site_id: str | None = None) -> int:
        """Recount the rollups (of ``site_id``, or every site) from the rows, in one
        transaction; the rollup rows written."""
        async with self._lock:
            written: int = await self._in_thread(self._rebuild_locking, site_id)
            self._committed()
            return written

    def _rebuild_locking(self, site_id: str | None) -> int:
        conn = self._connection
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, args in rebuild_writes(site_id):
                written = conn.execute(sql, args).rowcount
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return int(written)
