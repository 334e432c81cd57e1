"""PostgreSQL's rollup maintenance: the rebuild, the one build after migrating, the
recount after a purge. The append's part is a CTE of its one statement (:mod:`.postgres_tree`).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from consent_service.store.rollups_sql import (
    POSTGRES_DAY,
    PURGE_FORGET,
    PURGE_RECOUNT_WHERE,
    ROLLUPS_BUILD,
    day_bounds,
    rebuild,
)
from consent_service.store.sql import numbered

_REBUILD_ALL = rebuild(POSTGRES_DAY, "true")
_REBUILD_SITE = rebuild(POSTGRES_DAY, "site_id = $1")
_RECOUNT = numbered(rebuild(POSTGRES_DAY, PURGE_RECOUNT_WHERE))
_FORGET = numbered(PURGE_FORGET)
#: Every site's head, or one's, locked in site order as appends lock them: no append
#: runs beside a rebuild, and none can deadlock with it.
_LOCK_ALL = "SELECT 1 FROM chain_heads ORDER BY site_id FOR UPDATE"
_LOCK_SITE = "SELECT 1 FROM chain_heads WHERE site_id = $1 FOR UPDATE"


async def rebuild_in(conn: Any, site_id: str | None) -> int:
    """In the caller's transaction: lock the heads, forget the rollups (of ``site_id``,
    or all) and count them again from the rows; the rollup rows written."""
    if site_id is None:
        await conn.execute(_LOCK_ALL)
        await conn.execute("DELETE FROM consent_rollups")
        status: str = await conn.execute(_REBUILD_ALL)
    else:
        await conn.execute(_LOCK_SITE, site_id)
        await conn.execute("DELETE FROM consent_rollups WHERE site_id = $1", site_id)
        status = await conn.execute(_REBUILD_SITE, site_id)
    return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 n"


async def recount_in(conn: Any, site_id: str, summary: Sequence[Any]) -> None:
    """After a purge summarised by ``summary`` (count, first and last seq, first and last
    ``created_at``): recount the days its rows fell on from the rows after its last seq,
    which also leaves out rows in partitions the purge has yet to detach."""
    first, last, start, end = day_bounds(summary[3], summary[4], text_time=False)
    await conn.execute(_FORGET, site_id, first, last)
    await conn.execute(_RECOUNT, site_id, start, end, summary[2])


async def build_rollups_once(conn: Any) -> bool:
    """After migrating, on the migration connection: count the rollups of the rows already
    there, once (recorded in ``schema_migrations``); whether it ran now."""
    async with conn.transaction():
        done = await conn.fetchval(
            "SELECT count(*) FROM schema_migrations WHERE version = $1", ROLLUPS_BUILD
        )
        if done:
            return False
        await rebuild_in(conn, None)
        await conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())",
            ROLLUPS_BUILD,
        )
    return True


class RollupMaintenance(abc.ABC):
    """:meth:`~.base.Store.rebuild_rollups` for :class:`~.postgres.PostgresStore`."""

    @property
    @abc.abstractmethod
    def pool(self) -> Any:
        """The pool that writes."""

    async def rebuild_rollups(self, site_id: str | None = None) -> int:
        """Recount the rollups from the rows in one transaction; appends wait for it."""
        async with self.pool.acquire() as conn, conn.transaction():
            return await rebuild_in(conn, site_id)
