"""Helpers the reliability suites share: sites with hostile texts, row counts, free ports."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from consent_service.settings import DEMO_CONFIG
from consent_service.store import open_store

from ..conftest import ON_CI, signed

#: A second site for cross-site replay tests, and texts that try to break out of HTML.
HOSTILE = "<script>alert('x')</script>"


def two_site_config(tmp_path: Path) -> Path:
    """The demo site plus a site ``other`` (origin https://other.example) whose name is hostile."""
    demo = DEMO_CONFIG.read_text(encoding="utf-8")
    other = demo.replace("[sites.demo", "[sites.other").replace(
        'origins = ["self"]', 'origins = ["https://other.example"]'
    )
    other = other.replace('name = "Region Västmanland (demo)"', f'name = "Other {HOSTILE}"')
    for shown in (
        'title = "Accept our use of cookies"',
        'title = "Godkänn vårt användande av kakor (cookies)"',
    ):
        other = other.replace(shown, shown[:-1] + f' {HOSTILE}"')
    other = other.replace('title = "Statistics"', f'title = "Statistics {HOSTILE}"')
    other = other.replace('title = "Statistik"', f'title = "Statistik {HOSTILE}"')
    other = other.replace('name = "Samtycke / Consent"', f'name = "Consent {HOSTILE}"')
    path = tmp_path / "sites.toml"
    path.write_text(demo + "\n" + other, encoding="utf-8")
    return path


def sqlite_rows(url: str) -> int:
    """Rows in the audit table at ``url`` (any store; SQLite is read from the file itself)."""
    if not url.startswith("sqlite:///"):
        return _store_rows(url)
    path = url.removeprefix("sqlite:///")
    if not Path(path).exists():
        return 0
    with sqlite3.connect(path) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM consent_events").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


def _store_rows(url: str) -> int:
    """``row_count()`` through the store interface, on a private loop in another thread."""

    async def count() -> int:
        store = signed(open_store(url))
        await store.open()
        try:
            await store.migrate()
            return await store.row_count()
        finally:
            await store.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, count()).result()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


POSTGRES_ADMIN = os.environ.get(
    "KAKOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def postgres_store_exists() -> bool:
    """True once the PostgreSQL store is part of the code base."""
    return importlib.util.find_spec("consent_service.store.postgres") is not None


def _pg(sql: str) -> None:
    async def go() -> None:
        import asyncpg

        conn = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of every kind the code base supports (PostgreSQL: a new database).

    PostgreSQL runs once ``consent_service/store/postgres.py`` exists; when it does and the
    server at ``$KAKOR_TEST_POSTGRES`` cannot be used, the test fails under ``CI=true``.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kakor.db'}"
        return
    if not postgres_store_exists():
        pytest.skip("the PostgreSQL store is not in this code base yet")
    name = f"kakor_rel_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        _pg(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        message = f"PostgreSQL at {POSTGRES_ADMIN} is not usable: {exc}"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    parts = urlsplit(POSTGRES_ADMIN)
    yield urlunsplit(parts._replace(path="/" + name))
    _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
