"""The embedded default store: one SQLite file in WAL mode, through aiosqlite.

One connection writes (every append is one ``BEGIN IMMEDIATE`` transaction, committed
with ``synchronous=FULL`` before the caller hears back); another reads, so exports
never wait for writes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from ..audit import AuditRow, ConsentEvent, chain, choices_json, format_time, parse_time
from .base import Store, StoreError, TextsSnapshot

_COLUMNS = (
    "seq, event_id, site_id, consent_id, action, choices, policy_version, texts_hash, language, "
    "widget_version, page, ip, browser, gpc, created_at, prev_hash, hash"
)
_INSERT = f"INSERT INTO consent_events ({_COLUMNS}) VALUES ({', '.join('?' * 17)})"
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)


def sqlite_path(url: str) -> str:
    """The file path in ``sqlite:///relative.db`` or ``sqlite:////absolute.db``."""
    if not url.startswith("sqlite:///"):
        raise StoreError(f"not an SQLite URL: {url!r} (expected sqlite:///path/to.db)")
    path = url[len("sqlite:///") :]
    if not path:
        raise StoreError("the SQLite URL names no file")
    return path


class SqliteStore(Store):
    """The SQLite implementation of :class:`~consent_service.store.base.Store`."""

    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = sqlite_path(url)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await self._connect()
            self._reader = await self._connect()
        except Exception as exc:
            await self.close()
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from exc

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
        return conn

    async def close(self) -> None:
        for conn in (self._writer, self._reader):
            if conn is not None:
                await conn.close()
        self._writer = self._reader = None

    @property
    def _w(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise StoreError("the store is not open")
        return self._writer

    @property
    def _r(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreError("the store is not open")
        return self._reader

    async def migrate(self) -> list[str]:
        conn = self._w
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        async with conn.execute("SELECT version FROM schema_migrations") as cur:
            done = {row[0] for row in await cur.fetchall()}
        applied = []
        for path in self.migration_files():
            if path.stem in done:
                continue
            now = format_time(datetime.now(UTC))
            script = (
                f"BEGIN IMMEDIATE;\n{path.read_text()}\n"
                f"INSERT INTO schema_migrations (version, applied_at) VALUES ('{path.stem}', '{now}');\n"
                "COMMIT;"
            )
            try:
                await conn.executescript(script)
            except Exception as exc:
                if conn.in_transaction:
                    await conn.rollback()
                raise StoreError(f"migration {path.name} failed: {exc}") from exc
            applied.append(path.stem)
        return applied

    async def ping(self) -> None:
        try:
            async with self._r.execute("SELECT 1") as cur:
                await cur.fetchone()
        except Exception as exc:
            raise StoreError(f"SQLite does not answer: {exc}") from exc

    async def append(
        self, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot] = ()
    ) -> list[AuditRow]:
        if not events:
            return []
        conn = self._w
        await conn.execute("BEGIN IMMEDIATE")
        try:
            async with conn.execute("SELECT COALESCE(MAX(seq), 0) FROM consent_events") as cur:
                last = await cur.fetchone()
            heads: dict[str, str] = {}
            for site_id in {e.site_id for e in events}:
                async with conn.execute(
                    "SELECT hash FROM consent_events WHERE site_id = ? ORDER BY seq DESC LIMIT 1",
                    (site_id,),
                ) as cur:
                    head = await cur.fetchone()
                if head is not None:
                    heads[site_id] = head[0]
            rows = chain(events, int(last[0] if last else 0) + 1, heads)
            await conn.executemany(_INSERT, [_params(r) for r in rows])
            if texts:
                now = format_time(datetime.now(UTC))
                await conn.executemany(
                    "INSERT OR IGNORE INTO consent_texts VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            t.texts_hash,
                            t.site_id,
                            t.language,
                            t.policy_version,
                            json.dumps(t.texts, ensure_ascii=False),
                            now,
                        )
                        for t in texts
                    ],
                )
            await conn.commit()
        except BaseException:
            if conn.in_transaction:
                await conn.rollback()
            raise
        return rows

    async def iter_rows(
        self,
        *,
        site_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        batch_size: int = 1000,
    ) -> AsyncIterator[AuditRow]:
        where = ["seq > ?"]
        args: list[Any] = []
        if site_id is not None:
            where.append("site_id = ?")
            args.append(site_id)
        if since is not None:
            where.append("created_at >= ?")
            args.append(format_time(since))
        if until is not None:
            where.append("created_at < ?")
            args.append(format_time(until))
        sql = f"SELECT {_COLUMNS} FROM consent_events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
        cursor = after_seq
        while True:
            async with self._r.execute(sql, (cursor, *args, batch_size)) as cur:
                batch = list(await cur.fetchall())
            for raw in batch:
                yield _row(raw)
            if len(batch) < batch_size:
                return
            cursor = batch[-1][0]

    async def consent_history(self, site_id: str, consent_id: str) -> list[AuditRow]:
        async with self._r.execute(
            f"SELECT {_COLUMNS} FROM consent_events WHERE site_id = ? AND consent_id = ? ORDER BY seq",
            (site_id, consent_id),
        ) as cur:
            return [_row(raw) for raw in await cur.fetchall()]

    async def texts(self, texts_hash: str) -> TextsSnapshot | None:
        async with self._r.execute(
            "SELECT texts_hash, site_id, language, policy_version, texts FROM consent_texts "
            "WHERE texts_hash = ?",
            (texts_hash,),
        ) as cur:
            raw = await cur.fetchone()
        if raw is None:
            return None
        return TextsSnapshot(raw[0], raw[1], raw[2], raw[3], json.loads(raw[4]))

    async def row_count(self) -> int:
        async with self._r.execute("SELECT COUNT(*) FROM consent_events") as cur:
            raw = await cur.fetchone()
        return int(raw[0]) if raw else 0


def _params(row: AuditRow) -> tuple[Any, ...]:
    return (
        row.seq,
        row.event_id,
        row.site_id,
        row.consent_id,
        row.action,
        choices_json(row.choices),
        row.policy_version,
        row.texts_hash,
        row.language,
        row.widget_version,
        row.page,
        row.ip,
        row.browser,
        int(row.gpc),
        format_time(row.created_at),
        row.prev_hash,
        row.hash,
    )


def _row(raw: Sequence[Any]) -> AuditRow:
    return AuditRow(
        seq=int(raw[0]),
        event_id=raw[1],
        site_id=raw[2],
        consent_id=raw[3],
        action=raw[4],
        choices=json.loads(raw[5]),
        policy_version=raw[6],
        texts_hash=raw[7],
        language=raw[8],
        widget_version=raw[9],
        page=raw[10],
        ip=raw[11],
        browser=raw[12],
        gpc=bool(raw[13]),
        created_at=parse_time(raw[14]),
        prev_hash=raw[15],
        hash=raw[16],
    )
