"""Daily rollups: what the dashboard counts, per site and UTC day, kept beside the rows.

``GET …/stats`` over a year of ten million rows must not read those rows. Each append
therefore adds its batch's counts to ``consent_rollups`` in the same transaction (so
the counts never drift from the rows), each purge recomputes the days it touched, and
``consent-service stats rebuild`` recomputes everything. A rollup row is
``(site_id, day, dim, key, choices, n)``:

- ``action``: ``key`` is the action, for decisions and withdrawals (checkpoints are
  not counted anywhere);
- ``gpc``: decisions recorded with the GPC signal (``key`` ``""``);
- ``choices``: decisions per distinct ``choices`` JSON. The share allowing each
  category and the refusals are read from these at query time, so they follow the
  site's *current* optional categories exactly as a GROUP BY over the rows would;
- ``language``, ``policy``, ``browser``: decisions per language, policy version and
  (already minimised) browser field, each split by ``choices`` so that a consent rate
  can be given per value;
- ``page``: decisions per page (origin and path, C20), bounded.

Why the page dimension is bounded, and how: every other dimension has a handful of
values, but pages are as many as a site has URLs, and a crawler can invent more. So
a day counts its first :data:`PAGES_PER_DAY` distinct pages, in the order their first
decision arrived (``seq``), by name, and every later new page as :data:`OTHER_PAGE`.
A page with real traffic turns up early in the day, so it is counted exactly; the
rule needs no eviction (which would need every page's count, the unbounded thing) and
no read before the write (the admission is part of the one upsert statement); and a
rebuild over the same rows gives the same answer, because it ranks by the same ``seq``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from consent_service.audit.events import AuditRow
from consent_service.audit.timefmt import format_time
from consent_service.store.base import DECISION_ACTIONS
from consent_service.store.records import choices_json

#: The action of a withdrawal: counted under ``action``, in no other dimension.
WITHDRAW = "withdraw"
#: The dimensions, as stored in ``consent_rollups.dim``.
ACTION, GPC, CHOICES, LANGUAGE, POLICY, BROWSER, PAGE = (
    "action",
    "gpc",
    "choices",
    "language",
    "policy",
    "browser",
    "page",
)
#: The dimensions that split by ``choices`` (a consent rate per value).
BREAKDOWNS = (LANGUAGE, POLICY, BROWSER)
#: Distinct pages a day counts by name; the rest go to :data:`OTHER_PAGE`.
PAGES_PER_DAY = 50
#: The key of a day's pages beyond the first :data:`PAGES_PER_DAY`. A stored page is an
#: http(s) URL or empty (``clean_page``), so it can never be this.
OTHER_PAGE = "(other)"

_COUNTED = frozenset((*DECISION_ACTIONS, WITHDRAW))

#: One rollup increment: site, day (ISO date), dim, key, choices.
RollupKey = tuple[str, str, str, str, str]


def batch_counts(rows: Iterable[AuditRow]) -> dict[RollupKey, list[int]]:
    """The rollup increments of ``rows`` (in chain order): per key, ``[n, first seq]``.

    Aggregated here, in Python, so the store writes them with one statement per batch
    whatever the batch's size; the first ``seq`` orders a day's new pages. This runs for
    every consent: one loop, no call per increment, each distinct choice encoded once.
    """
    counts: dict[RollupKey, list[int]] = {}
    texts: dict[tuple[tuple[str, bool], ...], str] = {}
    for row in rows:
        action = row.action
        if action not in _COUNTED:
            continue
        site, seq = row.site_id, row.seq
        day = format_time(row.created_at)[:10]  # memoised: the row's hash wrote it
        keys: list[RollupKey] = [(site, day, ACTION, action, "")]
        if action != WITHDRAW:
            items = tuple(row.choices.items())
            choices = texts.get(items)
            if choices is None:
                choices = texts[items] = choices_json(row.choices)
            keys += (
                (site, day, CHOICES, "", choices),
                (site, day, LANGUAGE, row.language, choices),
                (site, day, POLICY, row.policy_version, choices),
                (site, day, BROWSER, row.browser, choices),
                (site, day, PAGE, row.page, ""),
            )
            if row.gpc:
                keys.append((site, day, GPC, "", ""))
        for key in keys:
            found = counts.get(key)
            if found is None:
                counts[key] = [1, seq]
            else:
                found[0] += 1
    return counts


def counts_values(counts: dict[RollupKey, list[int]]) -> list[Any]:
    """``counts`` as SQLite's upsert binds them: seven values an increment, in the order
    of their first ``seq`` (so a batch split over statements admits pages in order)."""
    ordered = sorted(counts.items(), key=lambda item: item[1][1])
    return [v for key, (n, first) in ordered for v in (*key, n, first)]


def counts_arrays(counts: dict[RollupKey, list[int]]) -> list[list[Any]]:
    """``counts`` as one list per column, for PostgreSQL's ``unnest``."""
    columns: list[list[Any]] = [[] for _ in range(7)]
    for key, (n, first) in counts.items():
        for column, value in zip(columns, (*key, n, first), strict=True):
            column.append(value)
    return columns
