"""A lease on a named job among every process that shares one store.

``serve --workers N`` and replicas on one PostgreSQL database each run the scan
schedule; without a lease, each would crawl a due site and record its own report.
:func:`lease` lets one process hold a name (``scan:<site>``) while it works, and tells
every other that asks meanwhile that it is taken. Nothing is written to the log: a
lease is held by the process, not stored.

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection held
  for the lease; a process that dies drops its connection and so its lease.
- SQLite in a file: ``flock`` on a lock file beside the database
  (``<file>.lease-<name>``), which the kernel releases when the process ends.
- SQLite in memory: one process only, so a lease is always granted.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import AsyncIterator

from consent_service.store.base import Store


def lease_key(name: str) -> int:
    """The advisory lock key of ``name``: 8 bytes of its SHA-256, as a signed bigint."""
    digest = hashlib.sha256(b"kakor-lease\n" + name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.asynccontextmanager
async def lease(store: Store, name: str) -> AsyncIterator[bool]:
    """Hold ``name`` for the block if no other process does: yields True when held."""
    from consent_service.store.postgres import PostgresStore
    from consent_service.store.sqlite import SqliteStore

    if isinstance(store, PostgresStore):
        key = lease_key(name)
        async with store.pool.acquire() as conn:
            held = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))
            try:
                yield held
            finally:
                if held:
                    await conn.fetchval("SELECT pg_advisory_unlock($1)", key)
    elif isinstance(store, SqliteStore) and store.path != ":memory:":
        path = f"{store.path}.lease-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    else:
        yield True
