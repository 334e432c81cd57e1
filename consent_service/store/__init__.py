"""Where consent events live: one small interface, one implementation per database.

:func:`open_store` picks the implementation from the URL scheme (``sqlite:///…`` or
``postgresql://…``) and imports it lazily, so the embedded default needs no driver
for PostgreSQL.
"""

from __future__ import annotations

from consent_service.store.base import (
    DECISION_ACTIONS,
    Store,
    StoreDataError,
    StoreError,
    TextsSnapshot,
)
from consent_service.store.records import AccessEntry, AdminToken, DayCounts, PurgeResult

__all__ = [
    "DECISION_ACTIONS",
    "AccessEntry",
    "AdminToken",
    "DayCounts",
    "PurgeResult",
    "Store",
    "StoreDataError",
    "StoreError",
    "TextsSnapshot",
    "open_store",
]


def open_store(url: str) -> Store:
    """A store for ``url``; call ``await store.open()`` before use."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from consent_service.store.sqlite import SqliteStore

        return SqliteStore(url)
    if scheme in ("postgresql", "postgres"):
        try:
            from consent_service.store.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:  # pragma: no cover - depends on installed extras
            raise StoreError(
                f"PostgreSQL needs asyncpg: pip install 'consent-service[postgres]' ({exc})"
            ) from exc
        store: Store = PostgresStore(url)
        return store
    raise StoreError(f"unsupported database URL scheme {scheme!r}: use sqlite:/// or postgresql://")
