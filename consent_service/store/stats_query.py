"""The daily stats query in each dialect, and the counts it returns.

:meth:`~consent_service.store.base.Store.daily_stats` aggregates in the database. Both
queries return, per UTC day, the day, the decisions, the refusals, the decisions with
GPC, the withdrawals, then one count per category; only how a day is cut from
``created_at`` and a category read from ``choices`` differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from consent_service.audit.timefmt import format_time
from consent_service.store.base import DECISION_ACTIONS
from consent_service.store.records import DayCounts

#: A stats query: its SQL and its arguments. Each builder takes the site, the time
#: range, the categories counted (every one once) and the optional ones (a decision
#: that allows none of those is a refusal).
StatsQuery = tuple[str, list[Any]]

_DECISION = "action IN (" + ", ".join(f"'{a}'" for a in DECISION_ACTIONS) + ")"


def sqlite_daily_stats(
    site_id: str,
    since: datetime | None,
    until: datetime | None,
    cats: Sequence[str],
    optional_categories: Sequence[str],
) -> StatsQuery:
    """SQLite: the day is the date part of the stored text; ``json_extract`` reads choices."""
    any_optional = (
        " + ".join("COALESCE(json_extract(choices, ?), 0)" for _ in optional_categories) or "0"
    )
    select = [
        "substr(created_at, 1, 10) AS day",
        f"SUM({_DECISION})",
        f"SUM({_DECISION} AND ({any_optional}) = 0)",
        f"SUM({_DECISION} AND gpc = 1)",
        "SUM(action = 'withdraw')",
        *(f"SUM({_DECISION} AND json_extract(choices, ?) = 1)" for _ in cats),
    ]
    args: list[Any] = [_json_path(c) for c in optional_categories]
    args += [_json_path(c) for c in cats]
    where = ["site_id = ?", f"({_DECISION} OR action = 'withdraw')"]
    args.append(site_id)
    if since is not None:
        where.append("created_at >= ?")
        args.append(format_time(since))
    if until is not None:
        where.append("created_at < ?")
        args.append(format_time(until))
    sql = (
        f"SELECT {', '.join(select)} FROM consent_events WHERE {' AND '.join(where)} "
        "GROUP BY day ORDER BY day"
    )
    return sql, args


def postgres_daily_stats(
    site_id: str,
    since: datetime | None,
    until: datetime | None,
    cats: Sequence[str],
    optional_categories: Sequence[str],
) -> StatsQuery:
    """PostgreSQL: the UTC date of ``created_at``; ``choices`` read as ``jsonb``."""
    args: list[Any] = [site_id, list(DECISION_ACTIONS)]

    def allowed(category: str) -> str:
        args.append(category)
        return f"COALESCE((c ->> ${len(args)})::boolean, false)"

    any_optional = " OR ".join(allowed(c) for c in optional_categories) or "false"
    per_category = [f"count(*) FILTER (WHERE decision AND {allowed(c)})" for c in cats]
    where = ["site_id = $1", "(action = ANY($2::text[]) OR action = 'withdraw')"]
    for clause, value in (("created_at >= ", since), ("created_at < ", until)):
        if value is not None:
            args.append(value)
            where.append(f"{clause}${len(args)}")
    sql = (
        "SELECT day, count(*) FILTER (WHERE decision), "
        f"count(*) FILTER (WHERE decision AND NOT ({any_optional})), "
        "count(*) FILTER (WHERE decision AND gpc), count(*) FILTER (WHERE NOT decision), "
        + ", ".join([*per_category, "0"])
        + " FROM (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, "
        "action = ANY($2::text[]) AS decision, gpc, choices::jsonb AS c "
        f"FROM consent_events WHERE {' AND '.join(where)}) t GROUP BY day ORDER BY day"
    )
    return sql, args


def day_counts(raw: Sequence[Any], cats: Sequence[str]) -> DayCounts:
    """One row of either query as :class:`DayCounts` (SQLite's day is text)."""
    day = raw[0] if isinstance(raw[0], date) else date.fromisoformat(raw[0])
    return DayCounts(
        day=day,
        decisions=int(raw[1] or 0),
        refusals=int(raw[2] or 0),
        gpc=int(raw[3] or 0),
        withdrawals=int(raw[4] or 0),
        allowed={cat: int(raw[5 + i] or 0) for i, cat in enumerate(cats)},
    )


def _json_path(category: str) -> str:
    """The SQLite JSON path of one key of ``choices`` (ids may hold ``-``)."""
    return '$."' + category.replace('"', "") + '"'
