"""The period's decisions broken down: by language, policy version and browser family, and
the pages where they were made (C23). Read from the rollups' sums (:mod:`.stats`).

Each breakdown row gives the decisions with that value, the **consent rate** (share of
them that allowed at least one optional category), the refused share and the share
allowing each category. The browser family is the first part of the stored, already
minimised browser field (``Firefox`` of ``Firefox/Linux``).
"""

from __future__ import annotations

from typing import Any

from consent_service.sites import Site
from consent_service.store.records import Rollups
from consent_service.store.rollup_counts import Tally
from consent_service.store.rollups import BROWSER, LANGUAGE, POLICY

#: The answer's member for each breakdown dimension.
MEMBERS = {LANGUAGE: "by_language", POLICY: "by_policy_version", BROWSER: "by_browser"}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _value(dim: str, key: str) -> str:
    return key.split("/", 1)[0] if dim == BROWSER else key


def breakdowns(rollups: Rollups, site: Site, decisions: int) -> dict[str, Any]:
    """``by_language``, ``by_policy_version``, ``by_browser``, ``top_pages`` and
    ``other_pages`` (the decisions made on pages not listed)."""
    tallies: dict[str, dict[str, Tally]] = {dim: {} for dim in MEMBERS}
    for dim, key, choices, n in rollups.breakdowns:
        tallies[dim].setdefault(_value(dim, key), Tally()).add(choices, n)
    out: dict[str, Any] = {}
    for dim, member in MEMBERS.items():
        rows = []
        for value, tally in tallies[dim].items():
            n = tally.decisions
            refused = tally.refusals(site.optional_ids)
            rows.append(
                {
                    "value": value,
                    "decisions": n,
                    "consent_rate": _share(n - refused, n),
                    "refused_share": _share(refused, n),
                    "allowed": {
                        c: _share(k, n) for c, k in tally.allowed(site.category_ids).items()
                    },
                }
            )
        out[member] = sorted(rows, key=lambda r: (-r["decisions"], r["value"]))
    listed = sum(n for _, n in rollups.pages)
    out["top_pages"] = [
        {"page": page, "decisions": n, "share": _share(n, decisions)} for page, n in rollups.pages
    ]
    out["other_pages"] = max(decisions - listed, 0)
    return out
