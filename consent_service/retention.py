"""Retention: purge a site's old rows and keep its chain verifiable (C21, C18).

A purge deletes the oldest rows of one site (a prefix of its chain) and appends a
``checkpoint`` row recording how many rows went, their ``seq`` range, the cut-off and
``continued_from``: the hash the first remaining row still names as its ``prev_hash``.
``verify`` accepts that hash as the start of the site's chain.

Purging is the site owner's decision (Swedish authorities: consent logs may be
official records under arkivlagen). It never happens by itself, unless a site sets
``retention_days`` **and** the operator starts the service with
``CONSENT_AUTO_PURGE=true``; then :func:`auto_purge` runs once a day.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from . import accesslog
from .sites import SiteRegistry
from .store import PurgeResult, Store

AUTO_PURGE_ENV = "CONSENT_AUTO_PURGE"
_log = logging.getLogger("consent_service.retention")


async def purge(store: Store, site_id: str, before: datetime, now: datetime) -> PurgeResult:
    """Delete ``site_id``'s rows older than ``before``, append a checkpoint, log the purge."""
    result = await store.purge(site_id, before, now)
    await accesslog.record(
        store, None, site_id, "purge", {"before": before.isoformat(), **result.to_dict()}, now
    )
    return result


def auto_purge_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """True only when the operator set ``CONSENT_AUTO_PURGE`` to true/1/yes."""
    env = os.environ if environ is None else environ
    return env.get(AUTO_PURGE_ENV, "").strip().lower() in ("1", "true", "yes")


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
