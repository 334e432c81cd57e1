"""The admin-side records a store keeps besides audit rows: tokens, access log, stats, purges.

Small frozen dataclasses, so every store implementation returns the same shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from consent_service.audit.canonical import compact_json
from consent_service.audit.timefmt import format_time


@dataclass(frozen=True)
class AdminToken:
    """A stored admin token: never the token itself, only its SHA-256 (``token_hash``)."""

    token_id: str
    token_hash: str
    role: str
    sites: tuple[str, ...]
    created_at: datetime
    label: str = ""
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class AccessEntry:
    """One line of the admin access log: who (token), what (action, detail), when (at)."""

    at: datetime
    token_id: str
    role: str
    site_id: str | None
    action: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "at": format_time(self.at),
            "token_id": self.token_id,
            "role": self.role,
            "site_id": self.site_id,
            "action": self.action,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class DayCounts:
    """Counts of one UTC day's decisions for one site, as :meth:`Store.daily_stats` returns.

    ``decisions`` counts rows whose action answers the banner (``accept-all``,
    ``reject-all``, ``save``, ``placeholder``, ``gpc``); ``allowed`` counts, per category, the decisions
    that allowed it; ``refusals`` the decisions that allowed no optional category;
    ``gpc`` the decisions recorded with the GPC signal; ``withdrawals`` the ``withdraw`` rows.
    """

    day: date
    decisions: int
    allowed: Mapping[str, int]
    refusals: int
    gpc: int
    withdrawals: int


@dataclass(frozen=True)
class Rollups:
    """One site's counts over a period, as :meth:`Store.rollups` reads them (:mod:`.rollup_read`).

    ``days``: ``(day, dim, key, choices, n)`` of the daily dimensions, oldest first;
    ``breakdowns``: ``(dim, key, choices, n)`` of language, policy and browser, summed
    over the period; ``pages``: ``(page, n)``, the most-used named pages first (at most
    the limit asked for; the rest of the decisions were on other pages).
    """

    days: list[tuple[date, str, str, str, int]]
    breakdowns: list[tuple[str, str, str, int]]
    pages: list[tuple[str, int]]


@dataclass(frozen=True)
class PurgeResult:
    """What :meth:`Store.purge` removed, and the checkpoint row it appended (if any)."""

    site_id: str
    purged_rows: int
    first_seq: int | None = None
    last_seq: int | None = None
    continued_from: str | None = None
    checkpoint_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "site_id": self.site_id,
            "purged_rows": self.purged_rows,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "continued_from": self.continued_from,
            "checkpoint_seq": self.checkpoint_seq,
        }


def choices_json(choices: Mapping[str, bool]) -> str:
    """How ``choices`` is stored: compact JSON in config order (category ids are ASCII)."""
    return compact_json(dict(choices))
