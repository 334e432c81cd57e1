"""Consent rates over time: banners answered, share allowing each category, refusals, GPC.

The counting is done by the store's daily rollups (:meth:`Store.rollups`, constant time
over any period); this module turns counts into shares, per day and per ``group``
(ISO week starting Monday, or calendar month). Definitions (C23):

- a **decision** is a row that answers the banner: ``accept-all``, ``reject-all``,
  ``save`` (a custom choice), ``placeholder`` (allowed from an embed's placeholder) or
  ``gpc`` (withdrawals are counted apart, purge
  checkpoints not at all); ``actions`` counts each;
- ``allowed[category]`` is the share of decisions whose choices allow that category;
- a **refusal** is a decision that allowed no optional category; ``refused_share``
  is their share, ``gpc_share`` the share of decisions recorded with the GPC signal;
- the **consent rate** (in the breakdowns, :mod:`.stats_breakdown`) is the share of
  decisions that allowed at least one optional category: ``1 - refused_share``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from consent_service.admin.stats_breakdown import breakdowns
from consent_service.audit.timefmt import format_time
from consent_service.sites import Site
from consent_service.store import DECISION_ACTIONS, DayCounts, Store
from consent_service.store.rollup_counts import DayTally, day_tallies
from consent_service.web.errors import InvalidField

#: What ``group`` may be: one point per UTC day, ISO week (from Monday) or month.
GROUPS = ("day", "week", "month")
#: Named pages the answer lists (the rest are summed as ``other_pages``).
TOP_PAGES = 20


def parse_group(raw: str | None) -> str:
    """The ``group`` query value (default ``day``); anything else is a 422."""
    if raw is None or raw == "":
        return "day"
    if raw not in GROUPS:
        raise InvalidField("group", f"must be one of {', '.join(GROUPS)}")
    return raw


def period_start(day: date, group: str) -> date:
    """The first day of the ``group`` period holding ``day``."""
    if group == "week":
        return day - timedelta(days=day.weekday())
    if group == "month":
        return day.replace(day=1)
    return day


def share(part: int, whole: int) -> float:
    """``part / whole`` rounded to 4 decimals; 0 when ``whole`` is 0."""
    return round(part / whole, 4) if whole else 0.0


def day_row(counts: DayCounts, actions: dict[str, int] | None = None) -> dict[str, Any]:
    """One day (or period) as the API returns it."""
    n = counts.decisions
    row = {
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
    if actions is not None:
        row["actions"] = {a: actions.get(a, 0) for a in DECISION_ACTIONS}
    return row


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


def _counts(tallies: Sequence[DayTally], site: Site) -> list[DayCounts]:
    cats = list(dict.fromkeys([*site.category_ids, *site.optional_ids]))
    return [t.counts(cats, site.optional_ids) for t in tallies]


def _rows(tallies: Sequence[DayTally], counts: Sequence[DayCounts]) -> list[dict[str, Any]]:
    return [day_row(c, t.actions) for t, c in zip(tallies, counts, strict=True)]


async def site_stats(
    store: Store,
    site: Site,
    since: datetime | None,
    until: datetime | None,
    group: str = "day",
) -> dict[str, Any]:
    """The ``GET …/stats`` answer for ``site`` over ``[since, until)``.

    ``days`` has one row per UTC day with rows, as always; ``series`` the same per
    ``group`` period (its ``date`` the period's first day), for the chart and its CSV.
    """
    rollups = await store.rollups(site.id, since, until, top_pages=TOP_PAGES)
    tallies = day_tallies(rollups)
    counts = _counts(tallies, site)
    days = _rows(tallies, counts)
    if group == "day":
        series = days
    else:
        buckets = {t.start: period_start(t.start, group) for t in tallies}
        grouped = day_tallies(rollups, buckets)
        series = _rows(grouped, _counts(grouped, site))
    decisions = sum(c.decisions for c in counts)
    return {
        "site": site.id,
        "since": None if since is None else format_time(since),
        "until": None if until is None else format_time(until),
        "categories": list(site.category_ids),
        "optional_categories": list(site.optional_ids),
        "days": days,
        "totals": {
            **totals(counts, site.category_ids),
            "actions": {a: sum(t.actions.get(a, 0) for t in tallies) for a in DECISION_ACTIONS},
        },
        "group": group,
        "series": series,
        **breakdowns(rollups, site, decisions),
    }
