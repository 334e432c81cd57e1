"""``consent-service stats rebuild``: count the dashboard's daily rollups again from the rows.

The append and the purge keep the rollups (:mod:`consent_service.store.rollups`) in
their own transactions, and a migration builds them once for older rows, so this is
for repair: after rows were restored from a backup by hand, say, or to check that
nothing drifted (the command prints how many rollup rows it wrote). Appends wait for it.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from consent_service.cli.common import database_arg, with_store
from consent_service.store import Store


def add_commands(sub: Any) -> None:
    """Add ``stats rebuild`` to ``sub`` (the parser's subparsers)."""
    stats = sub.add_parser(
        "stats",
        help="the dashboard's daily rollups",
        description="The daily rollups GET /admin/v1/sites/{site}/stats reads.",
    )
    stats_sub = stats.add_subparsers(dest="stats_command", required=True, metavar="ACTION")
    rebuild = stats_sub.add_parser(
        "rebuild",
        help="recount the rollups from the audit rows, in one transaction",
        description="Forget the daily rollups (of one site, or all) and count them again "
        "from the audit rows; appends wait until it commits.",
    )
    rebuild.add_argument("--site", help="only this site (default: every site)")
    database_arg(rebuild)
    rebuild.set_defaults(func=cmd_rebuild)


def cmd_rebuild(args: argparse.Namespace) -> int:
    """``stats rebuild [--site S]``: prints the rollup rows written and the seconds taken."""

    async def work(store: Store) -> dict[str, Any]:
        started = time.perf_counter()
        written = await store.rebuild_rollups(args.site)
        seconds = round(time.perf_counter() - started, 3)
        return {"site": args.site, "rollup_rows": written, "seconds": seconds}

    print(json.dumps(with_store(args, work)))
    return 0
