"""The embedded default store: one SQLite file in WAL mode.

Reads go through aiosqlite. Appends use a connection of their own: the batch is
prepared on the event loop (``BEGIN IMMEDIATE``, read the chain heads, link the rows
and build the ``INSERT`` parameters — Python work, microseconds, no disk wait), then
the ``INSERT`` and the ``COMMIT`` (which fsyncs under ``synchronous=FULL``) run on the
loop while commits are quick and on a dedicated thread once they are slow
(:mod:`.sqlite_commit`, which also checkpoints the WAL off the loop). If another
process holds the write lock, the whole batch moves to the thread instead, so the
loop never blocks.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from consent_service.audit.canonical import UnencodableValue
from consent_service.audit.chain import chain
from consent_service.audit.events import (
    CHECKPOINT,
    ROW_FIELDS,
    AuditRow,
    ConsentEvent,
    checkpoint_event,
)
from consent_service.audit.timefmt import format_time, parse_time
from consent_service.store.base import (
    DECISION_ACTIONS,
    Store,
    StoreDataError,
    StoreError,
    TextsSnapshot,
)
from consent_service.store.columns import COLUMNS, audit_row, sqlite_values
from consent_service.store.records import (
    AccessEntry,
    AdminToken,
    DayCounts,
    PurgeResult,
)
from consent_service.store.sqlite_commit import Checkpointer, CommitPlacement

_ROW_PLACEHOLDERS = "(" + ", ".join("?" * len(ROW_FIELDS)) + ")"
#: Rows per INSERT statement: well under SQLite's 32,766 bound parameters.
_ROWS_PER_INSERT = 500
_DECISION = "action IN (" + ", ".join(f"'{a}'" for a in DECISION_ACTIONS) + ")"
_TOKEN_COLUMNS = "token_id, token_hash, role, sites, label, created_at, revoked_at"  # noqa: S105 - column names
_ACCESS_COLUMNS = "id, at, token_id, role, site_id, action, detail"
#: A statement of a staged batch: SQL and its parameters.
_Write = tuple[str, list[Any]]
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
        self._append_thread: ThreadPoolExecutor | None = None
        self._append_conn: sqlite3.Connection | None = None
        self._placement = CommitPlacement()
        self._checkpointer: Checkpointer | None = None
        self._append_lock = asyncio.Lock()
        # Token and access-log writes go through the aiosqlite writer; its transactions
        # must not interleave, so each holds this lock from BEGIN to COMMIT.
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await self._connect()
            self._reader = await self._connect()
            self._append_thread = ThreadPoolExecutor(1, thread_name_prefix="kakor-sqlite-append")
            self._append_conn = await self._in_append_thread(self._connect_sync)
            # The append connection's commits never checkpoint (one could stall the loop).
            self._append_conn.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = Checkpointer(self._connect_sync)
        except Exception as exc:
            await self.close()
            raise StoreError(f"cannot open SQLite database {self.path}: {exc}") from exc

    def _connect_sync(self) -> sqlite3.Connection:
        # Used by the loop (staging) and the append thread (insert, commit), never at once.
        # The multi-row INSERT's text differs with every batch size: keep one prepared
        # statement per size (preparing a 256-row INSERT takes about half a millisecond).
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=_ROWS_PER_INSERT + 32,
        )
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        return conn

    async def _in_append_thread(self, func: Any, *args: Any) -> Any:
        if self._append_thread is None:
            raise StoreError("the store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._append_thread, func, *args)

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
        return conn

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer.close()
            self._checkpointer = None
        if self._append_conn is not None:
            await self._in_append_thread(self._append_conn.close)
            self._append_conn = None
        if self._append_thread is not None:
            self._append_thread.shutdown(wait=True)
            self._append_thread = None
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
        async with self._append_lock:  # one transaction at a time on the append connection
            try:
                return await self._append(events, texts)
            except (
                UnicodeError,
                UnencodableValue,
                sqlite3.DataError,
            ) as exc:  # rolled back: nothing written
                raise StoreDataError(f"SQLite cannot keep this batch: {exc}") from exc

    async def _append(
        self, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot]
    ) -> list[AuditRow]:
        conn = self._append_conn
        if conn is None:
            raise StoreError("the store is not open")
        try:
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # another process writes: wait for it off the loop
            conn.execute("PRAGMA busy_timeout=10000")
            rows: list[AuditRow] = await self._in_append_thread(self._append_locking, events, texts)
            self._committed()
            return rows
        try:
            rows, writes = self._stage(conn, events, texts)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if self._placement.inline:
            self._timed_commit(conn, writes)
        else:
            await self._in_append_thread(self._timed_commit, conn, writes)
        self._committed()
        return rows

    def _timed_commit(self, conn: sqlite3.Connection, writes: list[_Write]) -> None:
        started = time.perf_counter()
        self._write_and_commit(conn, writes)
        self._placement.observe(time.perf_counter() - started)

    def _committed(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.committed()

    def _append_locking(
        self, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot]
    ) -> list[AuditRow]:
        conn = self._append_conn
        if conn is None:
            raise StoreError("the store is not open")
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows, writes = self._stage(conn, events, texts)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._write_and_commit(conn, writes)
        return rows

    @staticmethod
    def _write_and_commit(conn: sqlite3.Connection, writes: list[_Write]) -> None:
        """Run the staged statements and commit; any failure rolls the whole batch back."""
        try:
            for sql, params in writes:
                conn.execute(sql, params)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _stage(
        conn: sqlite3.Connection, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot]
    ) -> tuple[list[AuditRow], list[_Write]]:
        """Inside an open write transaction: chain after the stored heads; the writes to run."""
        last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM consent_events").fetchone()
        heads: dict[str, str] = {}
        for site_id in {e.site_id for e in events}:
            head = conn.execute(
                "SELECT hash FROM consent_events WHERE site_id = ? ORDER BY seq DESC LIMIT 1",
                (site_id,),
            ).fetchone()
            if head is not None:
                heads[site_id] = head[0]
        rows = chain(events, int(last[0]) + 1, heads)
        writes: list[_Write] = []
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start : start + _ROWS_PER_INSERT]
            # OR ROLLBACK: a conflict ends the whole transaction, as any failure here does
            # anyway, so SQLite keeps no statement journal to undo one statement (it
            # spilled to a temp file for most batches: open, write, unlink, close).
            sql = f"INSERT OR ROLLBACK INTO consent_events ({COLUMNS}) VALUES " + ", ".join(
                [_ROW_PLACEHOLDERS] * len(chunk)
            )
            writes.append((sql, [value for row in chunk for value in sqlite_values(row)]))
        if texts:
            now = format_time(datetime.now(UTC))
            sql = "INSERT OR IGNORE INTO consent_texts VALUES " + ", ".join(
                ["(?, ?, ?, ?, ?, ?)"] * len(texts)
            )
            params = [
                value
                for t in texts
                for value in (
                    t.texts_hash,
                    t.site_id,
                    t.language,
                    t.policy_version,
                    json.dumps(t.texts, ensure_ascii=False),
                    now,
                )
            ]
            writes.append((sql, params))
        return rows, writes

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
        sql = (
            f"SELECT {COLUMNS} FROM consent_events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
        )
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
            f"SELECT {COLUMNS} FROM consent_events WHERE site_id = ? AND consent_id = ? ORDER BY seq",
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

    # -- the privacy officer's side ------------------------------------------------------

    async def _write(self, sql: str, args: Sequence[Any]) -> int:
        async with self._write_lock:
            conn = self._w
            await conn.execute("BEGIN IMMEDIATE")
            try:
                async with conn.execute(sql, args) as cur:
                    changed = cur.rowcount
                await conn.commit()
            except BaseException:
                if conn.in_transaction:
                    await conn.rollback()
                raise
            return changed

    async def create_admin_token(self, token: AdminToken) -> None:
        await self._write(
            f"INSERT INTO admin_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                token.token_id,
                token.token_hash,
                token.role,
                json.dumps(list(token.sites)),
                token.label,
                format_time(token.created_at),
                None if token.revoked_at is None else format_time(token.revoked_at),
            ),
        )

    async def find_admin_token(self, token_id: str) -> AdminToken | None:
        async with self._r.execute(
            f"SELECT {_TOKEN_COLUMNS} FROM admin_tokens WHERE token_id = ?", (token_id,)
        ) as cur:
            raw = await cur.fetchone()
        return None if raw is None else _token(raw)

    async def list_admin_tokens(self) -> list[AdminToken]:
        async with self._r.execute(
            f"SELECT {_TOKEN_COLUMNS} FROM admin_tokens ORDER BY created_at, token_id"
        ) as cur:
            return [_token(raw) for raw in await cur.fetchall()]

    async def revoke_admin_token(self, token_id: str, at: datetime) -> bool:
        changed = await self._write(
            "UPDATE admin_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
            (format_time(at), token_id),
        )
        return changed > 0

    async def log_access(self, entry: AccessEntry) -> None:
        await self._write(
            "INSERT INTO admin_access_log (at, token_id, role, site_id, action, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                format_time(entry.at),
                entry.token_id,
                entry.role,
                entry.site_id,
                entry.action,
                json.dumps(dict(entry.detail), ensure_ascii=False, separators=(",", ":")),
            ),
        )

    async def iter_access_log(
        self, *, site_id: str | None = None, limit: int | None = None
    ) -> AsyncIterator[AccessEntry]:
        where, args = ("site_id = ?", [site_id]) if site_id is not None else ("1 = 1", [])
        if limit is not None:
            sql = (
                f"SELECT * FROM (SELECT {_ACCESS_COLUMNS} FROM admin_access_log WHERE {where} "
                "ORDER BY id DESC LIMIT ?) ORDER BY id"
            )
            async with self._r.execute(sql, (*args, limit)) as cur:
                for raw in await cur.fetchall():
                    yield _access(raw)
            return
        cursor = 0
        sql = (
            f"SELECT {_ACCESS_COLUMNS} FROM admin_access_log WHERE id > ? AND {where} "
            "ORDER BY id LIMIT 500"
        )
        while True:
            async with self._r.execute(sql, (cursor, *args)) as cur:
                batch = list(await cur.fetchall())
            for raw in batch:
                yield _access(raw)
            if len(batch) < 500:
                return
            cursor = batch[-1][0]

    async def daily_stats(
        self,
        site_id: str,
        since: datetime | None,
        until: datetime | None,
        categories: Sequence[str],
        optional_categories: Sequence[str],
    ) -> list[DayCounts]:
        cats = list(dict.fromkeys([*categories, *optional_categories]))
        any_optional = (
            " + ".join("COALESCE(json_extract(choices, ?), 0)" for _ in optional_categories) or "0"
        )
        select = [
            "substr(created_at, 1, 10) AS day",
            f"SUM({_DECISION})",
            f"SUM({_DECISION} AND ({any_optional}) = 0)",
            f"SUM({_DECISION} AND gpc = 1)",
            "SUM(action = 'withdraw')",
            *(f"SUM({_DECISION} AND json_extract(choices, ?) = 1)" for _ in cats),
        ]
        args: list[Any] = [_json_path(c) for c in optional_categories]
        args += [_json_path(c) for c in cats]
        where = ["site_id = ?", f"({_DECISION} OR action = 'withdraw')"]
        args.append(site_id)
        if since is not None:
            where.append("created_at >= ?")
            args.append(format_time(since))
        if until is not None:
            where.append("created_at < ?")
            args.append(format_time(until))
        sql = (
            f"SELECT {', '.join(select)} FROM consent_events WHERE {' AND '.join(where)} "
            "GROUP BY day ORDER BY day"
        )
        async with self._r.execute(sql, args) as cur:
            found = await cur.fetchall()
        return [
            DayCounts(
                day=date.fromisoformat(raw[0]),
                decisions=int(raw[1] or 0),
                refusals=int(raw[2] or 0),
                gpc=int(raw[3] or 0),
                withdrawals=int(raw[4] or 0),
                allowed={cat: int(raw[5 + i] or 0) for i, cat in enumerate(cats)},
            )
            for raw in found
        ]

    async def purge(self, site_id: str, before: datetime, now: datetime) -> PurgeResult:
        async with self._append_lock:  # the chain's writer: no append can slip in between
            result: PurgeResult = await self._in_append_thread(
                self._purge_locking, site_id, before, now
            )
            self._committed()
            return result

    def _purge_locking(self, site_id: str, before: datetime, now: datetime) -> PurgeResult:
        """On the append thread: summarise, append the checkpoint, delete; one transaction."""
        conn = self._append_conn
        if conn is None:
            raise StoreError("the store is not open")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("BEGIN IMMEDIATE")
        try:
            keep = conn.execute(
                "SELECT MIN(seq) FROM consent_events WHERE site_id = ? AND created_at >= ?",
                (site_id, format_time(before)),
            ).fetchone()
            bound, args = ("seq < ?", [keep[0]]) if keep[0] is not None else ("1 = 1", [])
            count, first_seq, last_seq = conn.execute(
                f"SELECT COUNT(*), MIN(seq), MAX(seq) FROM consent_events "
                f"WHERE site_id = ? AND {bound}",
                (site_id, *args),
            ).fetchone()
            if not count:
                conn.execute("ROLLBACK")
                return PurgeResult(site_id, 0)
            continued_from = conn.execute(
                "SELECT hash FROM consent_events WHERE seq = ?", (last_seq,)
            ).fetchone()[0]
            detail = {
                "purged_rows": count,
                "first_seq": first_seq,
                "last_seq": last_seq,
                "before": format_time(before),
                "continued_from": continued_from,
            }
            [checkpoint], writes = self._stage(conn, [checkpoint_event(site_id, detail, now)], ())
            writes.append(
                (
                    "DELETE FROM consent_events WHERE site_id = ? AND seq <= ?",
                    [site_id, last_seq],
                )
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._write_and_commit(conn, writes)
        return PurgeResult(site_id, count, first_seq, last_seq, continued_from, checkpoint.seq)

    async def last_seq(self) -> int:
        async with self._r.execute("SELECT COALESCE(MAX(seq), 0) FROM consent_events") as cur:
            raw = await cur.fetchone()
        return int(raw[0]) if raw else 0

    async def row_before(self, site_id: str, seq: int) -> AuditRow | None:
        async with self._r.execute(
            f"SELECT {COLUMNS} FROM consent_events WHERE site_id = ? AND seq < ? "
            "ORDER BY seq DESC LIMIT 1",
            (site_id, seq),
        ) as cur:
            raw = await cur.fetchone()
        return None if raw is None else _row(raw)

    async def checkpoint_rows(self, site_id: str | None = None) -> list[AuditRow]:
        where, args = "action = ?", [CHECKPOINT]
        if site_id is not None:
            where += " AND site_id = ?"
            args.append(site_id)
        async with self._r.execute(
            f"SELECT {COLUMNS} FROM consent_events WHERE {where} ORDER BY seq", args
        ) as cur:
            return [_row(raw) for raw in await cur.fetchall()]


def _row(raw: Sequence[Any]) -> AuditRow:
    return audit_row(raw, text_time=True)


def _token(raw: Sequence[Any]) -> AdminToken:
    return AdminToken(
        token_id=raw[0],
        token_hash=raw[1],
        role=raw[2],
        sites=tuple(json.loads(raw[3])),
        label=raw[4],
        created_at=parse_time(raw[5]),
        revoked_at=None if raw[6] is None else parse_time(raw[6]),
    )


def _access(raw: Sequence[Any]) -> AccessEntry:
    return AccessEntry(
        id=int(raw[0]),
        at=parse_time(raw[1]),
        token_id=raw[2],
        role=raw[3],
        site_id=raw[4],
        action=raw[5],
        detail=json.loads(raw[6]),
    )


def _json_path(category: str) -> str:
    """The SQLite JSON path of one key of ``choices`` (ids may hold ``-``)."""
    return '$."' + category.replace('"', "") + '"'
