"""Consent rates per UTC day: banners answered, share allowing each category, refusals, GPC.

The counting is done by the store in SQL (:meth:`Store.daily_stats`); this module
only turns counts into shares. Definitions (C23):

- a **decision** is a row that answers the banner: ``accept-all``, ``reject-all``,
  ``save`` or ``gpc`` (withdrawals are counted apart, purge checkpoints not at all);
- ``allowed[category]`` is the share of decisions whose choices allow that category;
- a **refusal** is a decision that allowed no optional category; ``refused_share``
  is their share, ``gpc_share`` the share of decisions recorded with the GPC signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from consent_service.audit.timefmt import format_time
from consent_service.sites import Site
from consent_service.store import DayCounts, Store


def share(part: int, whole: int) -> float:
    """``part / whole`` rounded to 4 decimals; 0 when ``whole`` is 0."""
    return round(part / whole, 4) if whole else 0.0


def day_row(counts: DayCounts) -> dict[str, Any]:
    """One day as the API returns it."""
    n = counts.decisions
    return {
        "date": counts.day.isoformat(),
        "decisions": n,
        "allowed": {cat: share(k, n) for cat, k in counts.allowed.items()},
        "refused_share": share(counts.refusals, n),
        "gpc_share": share(counts.gpc, n),
        "withdrawals": counts.withdrawals,
        "counts": {
            "allowed": dict(counts.allowed),
            "refusals": counts.refusals,
            "gpc": counts.gpc,
        },
    }


def totals(days: Sequence[DayCounts], categories: Sequence[str]) -> dict[str, Any]:
    """The whole period as one row (summed from the days, not from the rows)."""
    n = sum(d.decisions for d in days)
    allowed = {cat: sum(d.allowed.get(cat, 0) for d in days) for cat in categories}
    refusals = sum(d.refusals for d in days)
    gpc = sum(d.gpc for d in days)
    return {
        "decisions": n,
        "allowed": {cat: share(k, n) for cat, k in allowed.items()},
        "refused_share": share(refusals, n),
        "gpc_share": share(gpc, n),
        "withdrawals": sum(d.withdrawals for d in days),
        "counts": {"allowed": allowed, "refusals": refusals, "gpc": gpc},
    }


async def site_stats(
    store: Store, site: Site, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    """The ``GET …/stats`` answer for ``site`` over ``[since, until)``."""
    days = await store.daily_stats(site.id, since, until, site.category_ids, site.optional_ids)
    return {
        "site": site.id,
        "since": None if since is None else format_time(since),
        "until": None if until is None else format_time(until),
        "categories": list(site.category_ids),
        "optional_categories": list(site.optional_ids),
        "days": [day_row(d) for d in days],
        "totals": totals(days, site.category_ids),
    }
