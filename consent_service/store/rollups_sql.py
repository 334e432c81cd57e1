"""The rollup statements of both dialects: the append's upsert, the rebuild, the reads.

Written once with dialect holes (how a batch arrives, how a day is cut from
``created_at``); :mod:`.rollups` says what is counted. The upsert admits a day's new
pages in the order of their first ``seq`` while the day has fewer than
:data:`~.rollups.PAGES_PER_DAY` named ones, and the rebuild ranks pages by the same
``seq``, so the two agree on the same rows (tests/properties/test_rollup_props.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

from consent_service.audit.timefmt import format_time
from consent_service.store.base import DECISION_ACTIONS
from consent_service.store.rollups import (
    ACTION,
    BROWSER,
    CHOICES,
    GPC,
    LANGUAGE,
    OTHER_PAGE,
    PAGE,
    PAGES_PER_DAY,
    POLICY,
    WITHDRAW,
)

#: The ``schema_migrations`` version of the one count of the rows already there, run by
#: the store right after the rollups' migration (like the tree build).
ROLLUPS_BUILD = "rollups_build"
_ACTIONS = ", ".join(f"'{a}'" for a in (*DECISION_ACTIONS, WITHDRAW))
_COLUMNS = "site_id, day, dim, key, choices, n"
#: Rollup increments per SQLite upsert: seven parameters each, under SQLite's 32,766.
SQLITE_ROWS_PER_UPSERT = 4000


@lru_cache(maxsize=512)
def sqlite_upsert(rows: int) -> str:
    """SQLite's upsert of ``rows`` increments bound as plain parameters (seven a row,
    in :func:`.rollups.counts_values`' order): one statement, prepared once per size."""
    batch = "VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    return f"WITH {upsert_ctes(batch)} {UPSERT_INSERT}"


#: SQLite's day of a row: the date part of the stored text.
SQLITE_DAY = "substr(created_at, 1, 10)"
#: PostgreSQL's day of a row: its UTC date.
POSTGRES_DAY = "(created_at AT TIME ZONE 'UTC')::date"


def postgres_batch(first: int) -> str:
    """A batch of increments from seven arrays (:func:`.rollups.counts_arrays`) at ``$first``."""
    types = ("text", "text", "text", "text", "text", "bigint", "bigint")
    arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, first))
    return f"SELECT s, d::date, m, k, c, n, f FROM unnest({arrays}) AS u(s, d, m, k, c, n, f)"


def upsert_ctes(batch: str) -> str:
    """The common table expression of the upsert: ``b``, the batch ``batch`` selects."""
    return f"b(site_id, day, dim, key, choices, n, first) AS ({batch})"


def _named(alias: str) -> str:
    """Whether the page of batch row ``alias`` is one its day already names."""
    return (
        f"EXISTS (SELECT 1 FROM consent_rollups r WHERE r.site_id = {alias}.site_id"
        f" AND r.dim = '{PAGE}' AND r.day = {alias}.day AND r.key = {alias}.key"
        " AND r.choices = '')"
    )


#: Add the batch ``b`` of :func:`upsert_ctes` to ``consent_rollups``. A page its day does
#: not name yet is ranked among the batch's other such pages by first ``seq``; when the
#: pages the day names already plus that rank pass :data:`PAGES_PER_DAY`, it is counted
#: as :data:`OTHER_PAGE`. Scalar subqueries, not a window over a join: a tenth of the
#: cost for a batch of a few rows. The increments are summed per target row first,
#: since one statement may not update a row twice.
UPSERT_INSERT = (
    f"INSERT INTO consent_rollups ({_COLUMNS})"
    " SELECT b.site_id, b.day, b.dim,"
    f" CASE WHEN b.dim = '{PAGE}' AND NOT {_named('b')}"
    " AND (SELECT count(*) FROM consent_rollups r WHERE r.site_id = b.site_id"
    f" AND r.dim = '{PAGE}' AND r.day = b.day AND r.key <> '{OTHER_PAGE}')"
    f" + (SELECT count(*) FROM b AS o WHERE o.dim = '{PAGE}' AND o.site_id = b.site_id"
    f" AND o.day = b.day AND o.first <= b.first AND NOT {_named('o')}) > {PAGES_PER_DAY}"
    f" THEN '{OTHER_PAGE}' ELSE b.key END AS k,"
    " b.choices, CAST(sum(b.n) AS bigint) FROM b"
    " GROUP BY b.site_id, b.day, b.dim, k, b.choices"
    " ON CONFLICT (site_id, dim, day, key, choices)"
    " DO UPDATE SET n = consent_rollups.n + excluded.n"
)


def rollup_select(day: str, where: str) -> str:
    """The rollup rows (``site_id, day, dim, key, choices, n``) of the rows ``where`` selects.

    Two passes over the rows: one GROUP BY into a small cube of every dimension but
    the page, from which each dimension is summed; one over the pages, ranked per day
    by their first ``seq`` as the upsert admits them.
    """
    dims = [
        (ACTION, "action", "''", ""),
        (GPC, "''", "''", f" AND action <> '{WITHDRAW}' AND gpc"),
        (CHOICES, "''", "choices", f" AND action <> '{WITHDRAW}'"),
        (LANGUAGE, "language", "choices", f" AND action <> '{WITHDRAW}'"),
        (POLICY, "policy_version", "choices", f" AND action <> '{WITHDRAW}'"),
        (BROWSER, "browser", "choices", f" AND action <> '{WITHDRAW}'"),
    ]
    parts = [
        f"SELECT site_id, day, '{dim}', {key}, {choices}, CAST(sum(n) AS bigint) FROM cube"
        f" WHERE true{only} GROUP BY "
        + ", ".join(["site_id", "day", *(c for c in (key, choices) if c != "''")])
        for dim, key, choices, only in dims
    ]
    parts.append(
        f"SELECT site_id, day, '{PAGE}', CASE WHEN rank <= {PAGES_PER_DAY} THEN page"
        f" ELSE '{OTHER_PAGE}' END AS k, '', CAST(sum(n) AS bigint) FROM pages"
        " GROUP BY site_id, day, k"
    )
    return (
        "WITH ev AS NOT MATERIALIZED (SELECT site_id, "
        f"{day} AS day, action, choices, gpc, language, policy_version, browser, page, seq"
        f" FROM consent_events WHERE action IN ({_ACTIONS}) AND {where}),"
        " cube AS MATERIALIZED (SELECT site_id, day, action, choices, gpc, language,"
        " policy_version, browser, count(*) AS n FROM ev GROUP BY site_id, day, action,"
        " choices, gpc, language, policy_version, browser),"
        " pages AS (SELECT site_id, day, page, count(*) AS n,"
        " row_number() OVER (PARTITION BY site_id, day ORDER BY min(seq)) AS rank"
        f" FROM ev WHERE action <> '{WITHDRAW}' GROUP BY site_id, day, page) "
        + " UNION ALL ".join(parts)
    )


def rebuild(day: str, where: str) -> str:
    """Insert the rollups of the rows ``where`` selects (their old rollups deleted first)."""
    return f"INSERT INTO consent_rollups ({_COLUMNS}) " + rollup_select(day, where)


#: After a purge: the site's rollups of the days its purged rows fell on go…
PURGE_FORGET = "DELETE FROM consent_rollups WHERE site_id = ? AND day >= ? AND day <= ?"
#: …and are counted again from what remains of those days (rows after the purged ``seq``).
PURGE_RECOUNT_WHERE = "site_id = ? AND created_at >= ? AND created_at <= ? AND seq > ?"


def day_bounds(low: Any, high: Any, text_time: bool) -> tuple[Any, Any, Any, Any]:
    """The days of ``low``..``high`` (two stored ``created_at``) and the moments that
    bound them, as the store binds them: for :data:`PURGE_FORGET` and the recount."""
    first = _day(low, text_time)
    last = _day(high, text_time)
    start = datetime.combine(first, time.min, UTC)
    end = datetime.combine(last, time.max, UTC)
    if text_time:
        return first.isoformat(), last.isoformat(), format_time(start), format_time(end)
    return first, last, start, end


def _day(stored: Any, text_time: bool) -> date:
    if text_time:
        return date.fromisoformat(str(stored)[:10])
    moment: datetime = stored
    return moment.astimezone(UTC).date()
