"""The store interface every database implementation fulfils.

The API and the CLI speak only to this interface; the contract tests in
``tests/store/`` run unchanged against every implementation.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..audit import AuditRow, ConsentEvent

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


class StoreError(RuntimeError):
    """The store failed or is misconfigured."""


@dataclass(frozen=True)
class TextsSnapshot:
    """The exact texts shown in one language, kept once per ``texts_hash``."""

    texts_hash: str
    site_id: str
    language: str
    policy_version: str
    texts: Mapping[str, Any]


class Store(abc.ABC):
    """An append-only home for consent events, chained per site."""

    #: Migration dialect: the folder under ``migrations/`` this store applies.
    dialect: str = ""

    def __init__(self, url: str) -> None:
        self.url = url

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect; must be called before anything else."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release every connection."""

    @abc.abstractmethod
    async def migrate(self) -> list[str]:
        """Apply the migrations not yet recorded in ``schema_migrations``; return their names."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise :class:`StoreError` unless the store answers."""

    @abc.abstractmethod
    async def append(
        self, events: Sequence[ConsentEvent], texts: Sequence[TextsSnapshot] = ()
    ) -> list[AuditRow]:
        """Chain and commit ``events`` in one transaction; return them as stored rows.

        When this returns, the rows are durable. Concurrent callers, in this process
        or another, never fork a site's chain.
        """

    @abc.abstractmethod
    def iter_rows(
        self,
        *,
        site_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int = 0,
        batch_size: int = 1000,
    ) -> AsyncIterator[AuditRow]:
        """Rows oldest first (by ``seq``), fetched in batches: constant memory."""

    @abc.abstractmethod
    async def consent_history(self, site_id: str, consent_id: str) -> list[AuditRow]:
        """Every row of one consent ID, oldest first."""

    @abc.abstractmethod
    async def texts(self, texts_hash: str) -> TextsSnapshot | None:
        """The texts kept for ``texts_hash``, if any."""

    @abc.abstractmethod
    async def row_count(self) -> int:
        """How many audit rows are stored (may be an estimate on very large stores)."""

    def migration_files(self) -> list[Path]:
        """This dialect's migration files, in the order they apply."""
        folder = MIGRATIONS_DIR / self.dialect
        return sorted(folder.glob("*.sql"))
