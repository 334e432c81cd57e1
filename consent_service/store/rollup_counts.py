"""From rollup counts to the numbers the dashboard shows: decisions, allowed, refusals.

The rollups count decisions per distinct ``choices`` JSON (:mod:`.rollups`); which of
those allow a category, or refuse every optional one, is read here against the site's
categories of today, as the GROUP BY over the rows did.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from consent_service.store.base import DECISION_ACTIONS
from consent_service.store.records import DayCounts, Rollups
from consent_service.store.rollups import ACTION, CHOICES, GPC, WITHDRAW


@lru_cache(maxsize=1024)
def allowed_of(choices: str) -> frozenset[str]:
    """The categories a stored ``choices`` JSON allows (read once per distinct text)."""
    parsed = json.loads(choices)
    return frozenset(k for k, v in parsed.items() if v is True)


@dataclass
class Tally:
    """Decisions counted per ``choices`` text, with what can be derived from them."""

    by_choices: dict[str, int] = field(default_factory=dict)

    def add(self, choices: str, n: int) -> None:
        """Count ``n`` decisions with ``choices``."""
        self.by_choices[choices] = self.by_choices.get(choices, 0) + n

    @property
    def decisions(self) -> int:
        """All decisions counted."""
        return sum(self.by_choices.values())

    def allowed(self, categories: Sequence[str]) -> dict[str, int]:
        """Per category, the decisions that allowed it."""
        counts = dict.fromkeys(categories, 0)
        for choices, n in self.by_choices.items():
            for cat in allowed_of(choices):
                if cat in counts:
                    counts[cat] += n
        return counts

    def refusals(self, optional: Iterable[str]) -> int:
        """The decisions that allowed none of ``optional``."""
        wanted = frozenset(optional)
        return sum(n for c, n in self.by_choices.items() if not allowed_of(c) & wanted)


@dataclass
class DayTally:
    """One day (or week, or month) of the daily dimensions."""

    start: date
    actions: dict[str, int] = field(default_factory=dict)
    gpc: int = 0
    tally: Tally = field(default_factory=Tally)

    @property
    def decisions(self) -> int:
        """The decisions of the period (the actions that answer the banner)."""
        return sum(self.actions.get(a, 0) for a in DECISION_ACTIONS)

    def counts(self, categories: Sequence[str], optional: Sequence[str]) -> DayCounts:
        """As :class:`DayCounts` for ``categories`` and ``optional`` ones."""
        return DayCounts(
            day=self.start,
            decisions=self.decisions,
            allowed=self.tally.allowed(categories),
            refusals=self.tally.refusals(optional),
            gpc=self.gpc,
            withdrawals=self.actions.get(WITHDRAW, 0),
        )


def day_tallies(rollups: Rollups, bucket: Mapping[date, date] | None = None) -> list[DayTally]:
    """The daily dimensions of ``rollups`` per day, or per the period ``bucket`` maps a
    day to (its week's Monday, its month's first day); oldest first."""
    out: dict[date, DayTally] = {}
    for day, dim, key, choices, n in rollups.days:
        start = day if bucket is None else bucket[day]
        t = out.get(start)
        if t is None:
            t = out[start] = DayTally(start)
        if dim == ACTION:
            t.actions[key] = t.actions.get(key, 0) + n
        elif dim == GPC:
            t.gpc += n
        elif dim == CHOICES:
            t.tally.add(choices, n)
    return [out[d] for d in sorted(out)]


def daily_counts(
    rollups: Rollups, categories: Sequence[str], optional: Sequence[str]
) -> list[DayCounts]:
    """:meth:`Store.daily_stats` from the rollups: one :class:`DayCounts` a day."""
    cats = list(dict.fromkeys([*categories, *optional]))
    return [t.counts(cats, optional) for t in day_tallies(rollups)]
