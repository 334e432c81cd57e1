"""The chart's data as CSV: one line per period of ``GET …/stats``'s ``series``.

Counts, not shares, so a spreadsheet can sum weeks into months and compute any share;
every cell goes through :func:`~.export.cells.neutralise` like the exports' cells, so
no category id or date can ever be read as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from consent_service.admin.export.cells import neutralise
from consent_service.store import DECISION_ACTIONS


def stats_csv(answer: Mapping[str, Any]) -> str:
    """The CSV text of ``answer`` (a :func:`~.stats.site_stats` result)."""
    cats = list(answer["categories"])
    for cat in answer["optional_categories"]:
        if cat not in cats:
            cats.append(cat)
    header = [
        "period_start",
        "decisions",
        *DECISION_ACTIONS,
        "withdrawals",
        "refusals",
        "gpc_signal",
        *(f"allowed:{cat}" for cat in cats),
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in answer["series"]:
        counts = row["counts"]
        cells = [
            row["date"],
            row["decisions"],
            *(row["actions"][a] for a in DECISION_ACTIONS),
            row["withdrawals"],
            counts["refusals"],
            counts["gpc"],
            *(counts["allowed"].get(cat, 0) for cat in cats),
        ]
        writer.writerow([neutralise(str(c)) for c in cells])
    return out.getvalue()
