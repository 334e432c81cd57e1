"""The store interface every database implementation fulfils.

The API and the CLI speak only to this interface; the contract tests in
``tests/store/`` run unchanged against every implementation.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from consent_service.audit.events import AuditRow, ConsentEvent
from consent_service.audit.signing import LogSigner
from consent_service.audit.tiles import Frontier, TileKey
from consent_service.store.records import AccessEntry, AdminToken, DayCounts, PurgeResult, Rollups
from consent_service.store.scans import ScanReports

#: Shipped inside the package so a plain wheel install has them; ``migrations/`` at the
#: repository root is a link to this folder.
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


#: Actions that answer the banner: what the stats count as decisions.
DECISION_ACTIONS = ("accept-all", "reject-all", "save", "placeholder", "gpc")


class StoreError(RuntimeError):
    """The store failed or is misconfigured."""


class StoreDataError(StoreError):
    """The store cannot keep what it was given: a fault of the rows, not of the store.

    Raised by :meth:`Store.append` when a value cannot be encoded or the database
    refuses it (a lone surrogate, a NUL on PostgreSQL). Retrying the same rows fails the
    same way; the other rows of the batch can still be written without them.
    """


@dataclass(frozen=True)
class TreeHead:
    """A site's Merkle tree as the store holds it: size, frontier, newest signed note."""

    site_id: str
    size: int
    frontier: bytes
    #: The C2SP signed note of the head at ``size``; None when no log key signed it.
    note: str | None

    @property
    def root(self) -> bytes:
        """The root hash the frontier gives."""
        return Frontier.decode(self.size, self.frontier).root()


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
        #: Signs each site's tree head at every append and purge; None leaves heads
        #: unsigned (verify then says so). Set before the first append.
        self.signer: LogSigner | None = None

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

    @functools.cached_property
    def scans(self) -> ScanReports:
        """The stored scan reports (``consent-service scan --record``, scheduled scans)."""
        return ScanReports(self)

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
    def export_pages(
        self,
        *,
        site_id: str,
        since: datetime | None = None,
        until: datetime | None = None,
        upto_seq: int,
        page_size: int = 2000,
    ) -> AsyncIterator[Sequence[Sequence[Any]]]:
        """An export's rows, oldest first, a page at a time, as the database holds them.

        ``site_id``'s rows with ``seq <= upto_seq`` in ``[since, until)``, in one snapshot.
        Each row is a sequence of :data:`~consent_service.audit.events.ROW_FIELDS` values
        as stored: ``choices`` and ``detail`` as JSON text, ``gpc`` true or false (an int
        on SQLite), and ``created_at`` as text on both stores, in the shape
        :func:`~consent_service.audit.timefmt.format_time` writes. Pages are never empty.
        """

    @abc.abstractmethod
    async def consent_history(self, site_id: str, consent_id: str) -> list[AuditRow]:
        """Every row of one consent ID, oldest first."""

    @abc.abstractmethod
    async def texts(self, texts_hash: str) -> TextsSnapshot | None:
        """The texts kept for ``texts_hash``, if any."""

    @abc.abstractmethod
    async def row_count(self) -> int:
        """How many audit rows are stored (may be an estimate on very large stores)."""

    # -- the privacy officer's side (admin API, CLI) -------------------------------------
    #
    # The SQL both implementations share, for porting: see ``store/sql.py`` and
    # ``migrations/*/0002_admin.sql`` (tables ``admin_tokens``, ``admin_access_log``,
    # column ``consent_events.detail``).

    @abc.abstractmethod
    async def create_admin_token(self, token: AdminToken) -> None:
        """Store a new admin token (its hash, role, sites); ``token_id`` is unique."""

    @abc.abstractmethod
    async def find_admin_token(self, token_id: str) -> AdminToken | None:
        """The token with ``token_id``, revoked or not; None if there is none."""

    @abc.abstractmethod
    async def list_admin_tokens(self) -> list[AdminToken]:
        """Every token, oldest first (hashes included; never print them)."""

    @abc.abstractmethod
    async def revoke_admin_token(self, token_id: str, at: datetime) -> bool:
        """Mark a token revoked at ``at``; False if no such unrevoked token exists."""

    @abc.abstractmethod
    async def log_access(self, entry: AccessEntry) -> int:
        """Append one line to the admin access log; durable on return. Its ``id``."""

    @abc.abstractmethod
    async def complete_access(self, entry_id: int, detail: Mapping[str, Any]) -> None:
        """Replace the ``detail`` of access-log line ``entry_id`` (an export, once it ended)."""

    @abc.abstractmethod
    def iter_access_log(
        self, *, site_id: str | None = None, limit: int | None = None
    ) -> AsyncIterator[AccessEntry]:
        """Access-log lines, oldest first (the newest ``limit`` of them when given)."""

    @abc.abstractmethod
    async def daily_stats(
        self,
        site_id: str,
        since: datetime | None,
        until: datetime | None,
        categories: Sequence[str],
        optional_categories: Sequence[str],
    ) -> list[DayCounts]:
        """One :class:`DayCounts` per UTC day with rows in ``[since, until)``, oldest first.

        Read from the daily rollups (:meth:`rollups`), never by a loop over rows. A decision is a row whose action is one of
        :data:`DECISION_ACTIONS`; ``allowed`` counts, for each of ``categories``, the
        decisions whose ``choices`` has it true; a refusal is a decision that allowed none
        of ``optional_categories``. Days without rows are left out.
        """

    @abc.abstractmethod
    async def rollups(
        self, site_id: str, since: datetime | None, until: datetime | None, top_pages: int = 20
    ) -> Rollups:
        """The site's daily rollups over ``[since, until)`` (:mod:`.rollup_read`): read from
        ``consent_rollups`` for whole UTC days, counted from the rows for partial ones."""

    @abc.abstractmethod
    async def rebuild_rollups(self, site_id: str | None = None) -> int:
        """Recount the rollups (of ``site_id``, or of every site) from the rows, in one
        transaction that appends wait for; the rollup rows written."""

    @abc.abstractmethod
    async def purge(self, site_id: str, before: datetime, now: datetime) -> PurgeResult:
        """Delete ``site_id``'s oldest rows, up to the first created at or after ``before``.

        In one transaction: delete the site's rows with ``seq`` below the first row whose
        ``created_at >= before`` (all of the site's rows if there is none: a prefix of the
        chain, so what remains is contiguous), then append, through the normal chaining,
        :func:`~consent_service.audit.events.checkpoint_event` with ``purged_rows``, ``first_seq``,
        ``last_seq``, ``before`` and ``continued_from`` (the hash of the last deleted row).
        Nothing to delete: no checkpoint, ``purged_rows == 0``.
        """

    @abc.abstractmethod
    async def last_seq(self) -> int:
        """The highest ``seq`` stored (0 when empty): pins an export to what existed at its start."""

    @abc.abstractmethod
    async def chain_heads(self) -> dict[str, tuple[int, str]]:
        """Per site, the ``(seq, hash)`` its appends chain after (``chain_heads``)."""

    @abc.abstractmethod
    async def tree_heads(self, site_id: str | None = None) -> dict[str, TreeHead]:
        """Per site (every one, or only ``site_id``), the newest head of its Merkle tree
        (``chain_heads``)."""

    @abc.abstractmethod
    async def read_tiles(self, site_id: str, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        """The stored tiles of ``site_id``'s tree that ``keys`` name (missing ones left out)."""

    @abc.abstractmethod
    async def row_before(self, site_id: str, seq: int) -> AuditRow | None:
        """The row of ``site_id`` just before ``seq`` in its chain (highest lower ``seq``)."""

    @abc.abstractmethod
    async def checkpoint_rows(self, site_id: str | None = None) -> list[AuditRow]:
        """Every ``checkpoint`` row (of ``site_id`` if given), oldest first: verify anchors."""

    def migration_files(self) -> list[Path]:
        """This dialect's migration files, in the order they apply."""
        folder = MIGRATIONS_DIR / self.dialect
        return sorted(folder.glob("*.sql"))
