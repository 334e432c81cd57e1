"""The test PostgreSQL: one database per session, emptied before each test that uses it.

The server is ``$KAKOR_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``,
an account allowed to create databases). Admin work runs on a private thread with its
own event loop, so it never disturbs the loop a test runs on.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest

ADMIN_URL = os.environ.get("KAKOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
ON_CI = os.environ.get("CI", "").lower() == "true"

T = TypeVar("T")


def run(func: Callable[[], Awaitable[T]]) -> T:
    """Run ``func()`` to completion on a fresh loop in another thread."""

    def target() -> T:
        async def main() -> T:
            return await func()

        return asyncio.run(main())

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(target).result()


def database_url(name: str) -> str:
    """The URL of database ``name`` on the admin server."""
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path="/" + name))


async def execute(url: str, *statements: str) -> None:
    """Run ``statements`` on ``url``, one connection, autocommit."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


async def fetch(url: str, sql: str, *args: Any) -> list[Any]:
    """Rows of one query on ``url``."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def unreachable(reason: str) -> None:
    """Skip the test, or fail it under ``CI=true``, when PostgreSQL is not there."""
    message = f"PostgreSQL at {urlsplit(ADMIN_URL).netloc} is not usable: {reason}"
    if ON_CI:
        pytest.fail(message + " (CI=true: the PostgreSQL tests must run)")
    pytest.skip(message)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _drop_orphans() -> None:
    """Drop test databases left by killed test runs (their process is gone)."""
    for (name,) in await fetch(
        ADMIN_URL, "SELECT datname FROM pg_database WHERE datname LIKE 'kakor\\_test\\_%'"
    ):
        pid = name.split("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            await execute(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_database() -> str:
    """Create a fresh, empty database; return its URL."""
    name = f"kakor_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        run(_drop_orphans)
        run(lambda: execute(ADMIN_URL, f'CREATE DATABASE "{name}"'))
    except ImportError as exc:
        unreachable(f"asyncpg is not installed ({exc})")
    except Exception as exc:
        unreachable(f"{type(exc).__name__}: {exc}")
    return database_url(name)


def drop_database(url: str) -> None:
    """Drop the database at ``url`` (closing whatever still uses it)."""
    name = urlsplit(url).path.lstrip("/")
    run(lambda: execute(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def session_database() -> Iterator[str]:
    """Generator for a session fixture: a database for the whole run, dropped at the end."""
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


def reset(url: str) -> None:
    """Empty the database: drop the schema (tables, sequences, functions) and re-create it."""
    run(
        lambda: execute(
            url,
            "DROP SCHEMA public CASCADE; CREATE SCHEMA public; GRANT ALL ON SCHEMA public TO public",
        )
    )
