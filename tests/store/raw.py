"""Raw SQL on a test database, outside the store: what an attacker with database rights does."""

from __future__ import annotations

from typing import Any

import aiosqlite

from consent_service.store.sqlite import sqlite_path


async def execute(url: str, *statements: str) -> None:
    """Run ``statements`` directly on the database at ``url`` (sqlite or postgresql)."""
    if url.startswith("sqlite:"):
        async with aiosqlite.connect(sqlite_path(url), isolation_level=None) as conn:
            for sql in statements:
                await conn.execute(sql)
        return
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


async def scalar(url: str, sql: str) -> Any:
    """The first column of the first row of ``sql``."""
    if url.startswith("sqlite:"):
        async with aiosqlite.connect(sqlite_path(url)) as conn, conn.execute(sql) as cur:
            row = await cur.fetchone()
            return row[0] if row else None
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def tamper(url: str, sql: str) -> None:
    """Run an UPDATE past the append-only trigger, as someone with database rights could."""
    if url.startswith("sqlite:"):
        await execute(url, "DROP TRIGGER consent_events_append_only", sql)
    else:
        await execute(url, "SET session_replication_role = replica", sql)


async def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Every row of ``sql``, as tuples."""
    if url.startswith("sqlite:"):
        async with aiosqlite.connect(sqlite_path(url)) as conn, conn.execute(sql) as cur:
            return [tuple(r) for r in await cur.fetchall()]
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()
