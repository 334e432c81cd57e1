"""Helpers for the core suites: a plain consent event; the audit log read as an auditor would."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from consent_service.audit.events import AuditRow, ConsentEvent
from consent_service.store import open_store

from ..conftest import signed


def event(site: str = "demo", n: int = 0) -> ConsentEvent:
    """A consent event of ``site``, numbered ``n`` in its consent ID."""
    return ConsentEvent(
        site_id=site,
        consent_id=f"c{n}",
        action="save",
        choices={"necessary": True},
        policy_version="v1",
        texts_hash="t" * 64,
        language="sv",
        widget_version="",
        page="",
        ip="",
        browser="Other/Other",
        gpc=False,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def stored_rows(database_url: str) -> list[AuditRow]:
    """Every audit row, read through a fresh connection (so only committed rows count)."""

    async def read() -> list[AuditRow]:
        store = signed(open_store(database_url))
        await store.open()
        try:
            return [row async for row in store.iter_rows()]
        finally:
            await store.close()

    return asyncio.run(read())


def cookie_attributes(set_cookie: str) -> dict[str, Any]:
    """``Set-Cookie`` split into its name/value and attributes (lower-case keys)."""
    first, *rest = [part.strip() for part in set_cookie.split(";")]
    name, value = first.split("=", 1)
    attributes: dict[str, Any] = {"name": name, "value": value}
    for part in rest:
        key, _, val = part.partition("=")
        attributes[key.lower()] = val or True
    return attributes
