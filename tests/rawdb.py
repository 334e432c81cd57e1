"""Plain SQL on a test database, outside the store: what someone with database rights has.

Works on both stores, so the tamper tests run on SQLite and on PostgreSQL. SQL uses
``?`` placeholders (rewritten to ``$1…`` for PostgreSQL).
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from . import pg


class RawDb:
    """A direct connection to the database at ``url`` (sqlite:/// or postgresql://)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sqlite = (
            sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            if url.startswith("sqlite:")
            else None
        )

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()

    def execute(self, sql: str, *args: Any, bypass_triggers: bool = False) -> list[tuple[Any, ...]]:
        """Run one statement; its rows, if any."""
        if self._sqlite is not None:
            if bypass_triggers:
                self._sqlite.execute("DROP TRIGGER IF EXISTS consent_events_append_only")
            return list(self._sqlite.execute(sql, args).fetchall())
        numbered = iter(range(1, len(args) + 1))
        statement = re.sub(r"\?", lambda _: f"${next(numbered)}", sql)

        async def go() -> list[tuple[Any, ...]]:
            import asyncpg

            conn = await asyncpg.connect(self.url)
            try:
                if bypass_triggers:  # as a superuser would: triggers off for this session
                    await conn.execute("SET session_replication_role = replica")
                return [tuple(r) for r in await conn.fetch(statement, *args)]
            finally:
                await conn.close()

        return pg.run(go)

    def dump(self) -> str:
        """Every row of every table, as text: for "this secret is stored nowhere" checks."""
        if self._sqlite is not None:
            return "\n".join(self._sqlite.iterdump())
        tables = self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        return "\n".join(
            str(row) for (table,) in tables for row in self.execute(f'SELECT * FROM "{table}"')
        )
