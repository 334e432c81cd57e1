"""Retention: purge a site's old rows and keep its chain verifiable (C21, C18).

A purge deletes the oldest rows of one site (a prefix of its chain) and appends a
``checkpoint`` row recording how many rows went, their ``seq`` range, the cut-off and
``continued_from``: the hash the first remaining row still names as its ``prev_hash``.
``verify`` accepts that hash as the start of the site's chain.

Purging is the site owner's decision (Swedish authorities: consent logs may be
official records under arkivlagen). It never happens by itself, unless a site sets
``retention_days`` **and** the operator starts the service with
``CONSENT_AUTO_PURGE=true`` (``Settings.auto_purge``); then :func:`auto_purge_loop`
runs at start and once a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from consent_service.admin import accesslog
from consent_service.sites import SiteRegistry
from consent_service.store import PurgeResult, Store
from consent_service.web.state import AppState

_log = logging.getLogger("consent_service.admin.retention")


async def purge(store: Store, site_id: str, before: datetime, now: datetime) -> PurgeResult:
    """Delete ``site_id``'s rows older than ``before``, append a checkpoint, log the purge."""
    result = await store.purge(site_id, before, now)
    await accesslog.record(
        store, None, site_id, "purge", {"before": before.isoformat(), **result.to_dict()}, now
    )
    return result


async def auto_purge(store: Store, sites: SiteRegistry, now: datetime) -> list[PurgeResult]:
    """Purge every site that sets ``retention_days`` down to that many days before ``now``."""
    results = []
    for site in sites:
        if site.retention_days is None:
            continue
        before = now - timedelta(days=site.retention_days)
        results.append(await purge(store, site.id, before, now))
    return results


async def auto_purge_loop(
    store: Store,
    sites: SiteRegistry,
    now: Callable[[], datetime],
    interval: float = 86400.0,
) -> None:
    """Run :func:`auto_purge` now and then every ``interval`` seconds until cancelled."""
    while True:
        try:
            for result in await auto_purge(store, sites, now()):
                if result.purged_rows:
                    _log.info("purged %s rows of %s", result.purged_rows, result.site_id)
        except Exception:  # a failed purge is retried tomorrow; the service keeps serving
            _log.exception("automatic purge failed")
        await asyncio.sleep(interval)


def start_auto_purge(state: AppState) -> asyncio.Task[None] | None:
    """Start :func:`auto_purge_loop` when ``CONSENT_AUTO_PURGE`` is on; else do nothing."""
    if not state.settings.auto_purge:
        return None
    if not any(site.retention_days for site in state.sites):
        _log.warning("CONSENT_AUTO_PURGE is on but no site sets retention_days")
        return None
    return asyncio.get_running_loop().create_task(
        auto_purge_loop(state.store, state.sites, state.now), name="kakor-auto-purge"
    )


async def stop_auto_purge(task: asyncio.Task[None] | None) -> None:
    """Cancel the loop started by :func:`start_auto_purge` (if any) and wait for it."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
