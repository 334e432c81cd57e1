"""What both SQL stores do the same way: reads, admin tokens, the access log, stats.

The statements are written once, with ``?`` placeholders; PostgreSQL numbers them
(:func:`numbered`). A dialect supplies its connections (:meth:`SqlStore._fetch`,
:meth:`SqlStore._execute`, :meth:`SqlStore._reading`), whether it keeps times as text
(:attr:`SqlStore.text_time`) and its stats query; appends, purges and migrations stay
with the dialect, because there the two databases work differently.
"""

from __future__ import annotations

import abc
import functools
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from consent_service.audit.events import CHECKPOINT, AuditRow
from consent_service.audit.tiles import TileKey
from consent_service.store.base import Store, TextsSnapshot, TreeHead
from consent_service.store.columns import (
    COLUMNS,
    EXPORT_COLUMNS,
    EXPORT_COLUMNS_TIMESTAMPTZ,
    audit_row,
    detail_json,
    read_time,
    stored_time,
)
from consent_service.store.paging import Fetch as Fetch
from consent_service.store.paging import pages
from consent_service.store.records import AccessEntry, AdminToken
from consent_service.store.rollup_read import RollupReads
from consent_service.store.tree import TILES_SQL, tiles_where

_TOKEN_COLUMNS = "token_id, token_hash, role, sites, label, created_at, revoked_at"  # noqa: S105 - column names
_ACCESS_COLUMNS = "id, at, token_id, role, site_id, action, detail"
#: Insert one admin token (``import-log`` copies tokens with it too).
INSERT_TOKEN = f"INSERT INTO admin_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
#: Access-log lines per page of :meth:`SqlStore.iter_access_log`.
_ACCESS_PAGE = 500
#: Rows per page of :meth:`SqlStore.export_pages`: about 1 MB of CSV. Fewer rows per
#: page cost more round trips; more hold more memory, for no gain measurable here.
EXPORT_PAGE = 2000


@functools.lru_cache(maxsize=256)
def numbered(sql: str) -> str:
    """``sql`` with its ``?`` placeholders numbered ``$1, $2, …`` (PostgreSQL's style).

    Every ``?`` is a placeholder: the shared statements use no ``?`` operator or literal.
    """
    first, *rest = sql.split("?")
    return first + "".join(f"${n}{part}" for n, part in enumerate(rest, 1))


def texts_values(snapshot: TextsSnapshot) -> tuple[str, str, str, str, str]:
    """A snapshot's ``consent_texts`` values but the time it was first seen."""
    return (
        snapshot.texts_hash,
        snapshot.site_id,
        snapshot.language,
        snapshot.policy_version,
        json.dumps(snapshot.texts, ensure_ascii=False),
    )


def token_values(token: AdminToken, *, text_time: bool) -> tuple[Any, ...]:
    """``token`` in the column order of :data:`INSERT_TOKEN`, as the store binds it."""
    revoked = None if token.revoked_at is None else stored_time(token.revoked_at, text_time)
    created = stored_time(token.created_at, text_time)
    sites = json.dumps(list(token.sites))
    return (token.token_id, token.token_hash, token.role, sites, token.label, created, revoked)


class SqlStore(RollupReads, Store):
    """A :class:`Store` over SQL: all but connections, appends, purges and migrations
    (the rollups' reads are :class:`~.rollup_read.RollupReads`')."""

    #: True where times are stored as text (SQLite), False where as ``timestamptz``.
    text_time: bool = True

    @abc.abstractmethod
    async def _fetch(self, sql: str, args: Sequence[Any] = ()) -> Sequence[Sequence[Any]]:
        """The rows of one read statement."""

    @abc.abstractmethod
    async def _execute(self, sql: str, args: Sequence[Any]) -> int:
        """Run one write statement in a transaction of its own; the rows it changed."""

    @abc.abstractmethod
    async def _insert(self, sql: str, args: Sequence[Any]) -> int:
        """Run one ``INSERT … RETURNING id`` in a transaction of its own; the id."""

    @abc.abstractmethod
    def _reading(self, snapshot: bool = False) -> AbstractAsyncContextManager[Fetch]:
        """A fetch on one connection, for a walk over pages (in one snapshot if asked)."""

    def _row(self, raw: Sequence[Any]) -> AuditRow:
        return audit_row(raw, text_time=self.text_time)

    def _walk(
        self, columns: str, site_id: str | None, since: datetime | None, until: datetime | None,
        upto_seq: int | None, size: int,
    ) -> tuple[str, list[Any]]:  # fmt: skip
        """A page of a walk by ``seq`` (its first parameter ``seq > ?``, as :func:`~.paging.pages` wants)."""
        filters = (
            ("site_id = ?", site_id),
            ("created_at >= ?", None if since is None else self._time(since)),
            ("created_at < ?", None if until is None else self._time(until)),
            ("seq <= ?", upto_seq),
        )
        where = " AND ".join(["seq > ?", *(clause for clause, v in filters if v is not None)])
        sql = f"SELECT {columns} FROM consent_events WHERE {where} ORDER BY seq LIMIT {int(size)}"
        return sql, [v for _, v in filters if v is not None]

    async def iter_rows(
        self,
        *,
        site_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        batch_size: int = 1000,
    ) -> AsyncIterator[AuditRow]:
        sql, args = self._walk(COLUMNS, site_id, since, until, None, batch_size)
        # One snapshot for the whole walk where the database has them: a row whose seq
        # was taken before a neighbour's but committed after it is either wholly in the
        # snapshot or wholly out, never skipped between two pages.
        async with self._reading(snapshot=True) as fetch:
            async for page in pages(fetch, sql, args, after_seq, batch_size):
                for raw in page:
                    yield self._row(raw)

    async def export_pages(
        self,
        *,
        site_id: str,
        since: datetime | None = None,
        until: datetime | None = None,
        upto_seq: int,
        page_size: int = EXPORT_PAGE,
    ) -> AsyncIterator[Sequence[Sequence[Any]]]:
        columns = EXPORT_COLUMNS if self.text_time else EXPORT_COLUMNS_TIMESTAMPTZ
        sql, args = self._walk(columns, site_id, since, until, upto_seq, page_size)
        async with self._reading(snapshot=True) as fetch:  # one snapshot: see iter_rows
            async for page in pages(fetch, sql, args, 0, page_size):
                if page:
                    yield page

    async def consent_history(self, site_id: str, consent_id: str) -> list[AuditRow]:
        found = await self._fetch(
            f"SELECT {COLUMNS} FROM consent_events WHERE site_id = ? AND consent_id = ? "
            "ORDER BY seq",
            (site_id, consent_id),
        )
        return [self._row(raw) for raw in found]

    async def texts(self, texts_hash: str) -> TextsSnapshot | None:
        found = await self._fetch(
            "SELECT texts_hash, site_id, language, policy_version, texts FROM consent_texts "
            "WHERE texts_hash = ?",
            (texts_hash,),
        )
        if not found:
            return None
        raw = found[0]
        return TextsSnapshot(raw[0], raw[1], raw[2], raw[3], json.loads(raw[4]))

    async def row_count(self) -> int:
        found = await self._fetch("SELECT count(*) FROM consent_events")
        return int(found[0][0])

    async def last_seq(self) -> int:
        found = await self._fetch("SELECT COALESCE(max(seq), 0) FROM consent_events")
        return int(found[0][0])

    async def chain_heads(self) -> dict[str, tuple[int, str]]:
        found = await self._fetch("SELECT site_id, seq, hash FROM chain_heads")
        return {str(site): (int(seq), str(hash_)) for site, seq, hash_ in found}

    async def tree_heads(self, site_id: str | None = None) -> dict[str, TreeHead]:
        sql, args = "SELECT site_id, size, frontier, note FROM chain_heads", []
        if site_id is not None:
            sql, args = sql + " WHERE site_id = ?", [site_id]
        found = await self._fetch(sql, args)
        return {
            str(site): TreeHead(str(site), int(size), bytes(frontier), note)
            for site, size, frontier, note in found
        }

    async def read_tiles(self, site_id: str, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        where, args = tiles_where([(site_id, key) for key in sorted(set(keys))])
        found = await self._fetch(TILES_SQL.format(where), args)
        return {(int(level), int(idx)): bytes(hashes) for _, level, idx, hashes in found}

    async def row_before(self, site_id: str, seq: int) -> AuditRow | None:
        found = await self._fetch(
            f"SELECT {COLUMNS} FROM consent_events WHERE site_id = ? AND seq < ? "
            "ORDER BY seq DESC LIMIT 1",
            (site_id, seq),
        )
        return self._row(found[0]) if found else None

    async def checkpoint_rows(self, site_id: str | None = None) -> list[AuditRow]:
        where, args = "action = ?", [CHECKPOINT]
        if site_id is not None:
            where += " AND site_id = ?"
            args.append(site_id)
        found = await self._fetch(
            f"SELECT {COLUMNS} FROM consent_events WHERE {where} ORDER BY seq", args
        )
        return [self._row(raw) for raw in found]

    # -- the privacy officer's side ------------------------------------------------------

    def _time(self, moment: datetime) -> Any:
        return stored_time(moment, self.text_time)

    def _token(self, raw: Sequence[Any]) -> AdminToken:
        return AdminToken(
            token_id=raw[0],
            token_hash=raw[1],
            role=raw[2],
            sites=tuple(json.loads(raw[3])),
            label=raw[4],
            created_at=read_time(raw[5], self.text_time),
            revoked_at=None if raw[6] is None else read_time(raw[6], self.text_time),
        )

    def _access(self, raw: Sequence[Any]) -> AccessEntry:
        return AccessEntry(
            id=int(raw[0]),
            at=read_time(raw[1], self.text_time),
            token_id=raw[2],
            role=raw[3],
            site_id=raw[4],
            action=raw[5],
            detail=json.loads(raw[6]),
        )

    async def create_admin_token(self, token: AdminToken) -> None:
        await self._execute(INSERT_TOKEN, token_values(token, text_time=self.text_time))

    async def find_admin_token(self, token_id: str) -> AdminToken | None:
        found = await self._fetch(
            f"SELECT {_TOKEN_COLUMNS} FROM admin_tokens WHERE token_id = ?", (token_id,)
        )
        return self._token(found[0]) if found else None

    async def list_admin_tokens(self) -> list[AdminToken]:
        found = await self._fetch(
            f"SELECT {_TOKEN_COLUMNS} FROM admin_tokens ORDER BY created_at, token_id"
        )
        return [self._token(raw) for raw in found]

    async def revoke_admin_token(self, token_id: str, at: datetime) -> bool:
        changed = await self._execute(
            "UPDATE admin_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
            (self._time(at), token_id),
        )
        return changed > 0

    async def log_access(self, entry: AccessEntry) -> int:
        return await self._insert(
            "INSERT INTO admin_access_log (at, token_id, role, site_id, action, detail) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (
                self._time(entry.at),
                entry.token_id,
                entry.role,
                entry.site_id,
                entry.action,
                detail_json(entry.detail),
            ),
        )

    async def complete_access(self, entry_id: int, detail: Mapping[str, Any]) -> None:
        await self._execute(
            "UPDATE admin_access_log SET detail = ? WHERE id = ?", (detail_json(detail), entry_id)
        )

    async def iter_access_log(
        self, *, site_id: str | None = None, limit: int | None = None
    ) -> AsyncIterator[AccessEntry]:
        where, args = ("site_id = ?", [site_id]) if site_id is not None else ("1 = 1", [])
        async with self._reading() as fetch:
            if limit is not None:
                newest = await fetch(
                    f"SELECT * FROM (SELECT {_ACCESS_COLUMNS} FROM admin_access_log "
                    f"WHERE {where} ORDER BY id DESC LIMIT {int(limit)}) t ORDER BY id",
                    args,
                )
                for raw in newest:
                    yield self._access(raw)
                return
            sql = (
                f"SELECT {_ACCESS_COLUMNS} FROM admin_access_log WHERE id > ? AND {where} "
                f"ORDER BY id LIMIT {_ACCESS_PAGE}"
            )
            async for page in pages(fetch, sql, args, 0, _ACCESS_PAGE):
                for raw in page:
                    yield self._access(raw)
