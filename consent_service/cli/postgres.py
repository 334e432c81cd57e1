"""PostgreSQL maintenance commands: ``partitions`` and ``import-log``.

``partitions`` is retention at scale for hosts with many sites: every month that ends by
``--drop-before`` is dropped whole, for every site at once, with one checkpoint row per
site so the log still verifies (per-site ``purge`` is the other way; docs/scaling.md).
``import-log`` moves a single node's SQLite log to PostgreSQL, row for row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from consent_service.audit.signing import load_signer
from consent_service.cli.common import existing_signer
from consent_service.settings import Settings
from consent_service.store import StoreError, open_store


def add_commands(sub: Any) -> None:
    """Register ``partitions`` and ``import-log`` on the CLI's subparsers."""
    parts = sub.add_parser(
        "partitions",
        help="list or drop the audit log's month partitions (PostgreSQL)",
        description="List the month partitions of the audit log (estimated rows, size); "
        "with --drop-before, drop every month that ends on or before DATE, for all sites, "
        "appending a checkpoint per site so verify still passes.",
    )
    parts.add_argument("--drop-before", metavar="DATE", help="YYYY-MM-DD (UTC midnight)")
    parts.add_argument(
        "--database",
        metavar="URL",
        help="postgresql://user@host/db (default: $CONSENT_DATABASE_URL)",
    )
    parts.set_defaults(func=cmd_partitions)
    copy = sub.add_parser(
        "import-log",
        help="copy an audit log (e.g. SQLite) into an empty PostgreSQL database",
        description="Copy every audit row (seq and hashes unchanged), the texts shown and "
        "the admin tokens from --from into the PostgreSQL database, then check the copy.",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="source")
    copy.add_argument(
        "--database",
        metavar="URL",
        help="postgresql://user@host/db to fill (default: $CONSENT_DATABASE_URL)",
    )
    copy.set_defaults(func=cmd_import_log)


def cmd_partitions(args: argparse.Namespace) -> int:
    """``partitions [--drop-before DATE]``: print partitions, or drop the old ones."""
    from consent_service.store.postgres import PostgresStore

    cutoff = None
    if args.drop_before:
        try:
            cutoff = datetime.fromisoformat(args.drop_before).replace(tzinfo=UTC)
        except ValueError:
            raise StoreError(f"--drop-before: not a date: {args.drop_before!r}") from None

    async def go() -> dict[str, Any]:
        settings = Settings.from_env(database_url=args.database)
        store = open_store(settings.database_url)
        store.signer = existing_signer(settings)
        if not isinstance(store, PostgresStore):
            raise StoreError("partitions exist only on PostgreSQL (use `purge` on SQLite)")
        await store.open()
        try:
            await store.migrate()
            if cutoff is None:
                sizes = await store.partition_sizes()
                return {"partitions": [{"name": n, "rows": r, "bytes": b} for n, r, b in sizes]}
            done = await store.drop_partitions_before(cutoff, args.now())
            return {
                "dropped": done.dropped,
                "sites": {site: r.to_dict() for site, r in done.sites.items()},
            }
        finally:
            await store.close()

    print(json.dumps(asyncio.run(go()), indent=2))
    return 0


def cmd_import_log(args: argparse.Namespace) -> int:
    """``import-log --from URL``: copy a log into PostgreSQL; exit 1 unless both verify alike."""
    from consent_service.audit.verify import anchors_from, verify_rows
    from consent_service.store.postgres import PostgresStore

    async def go() -> dict[str, Any]:
        settings = Settings.from_env(database_url=args.database)
        target = open_store(settings.database_url)
        target.signer = load_signer(settings)
        if not isinstance(target, PostgresStore):
            raise StoreError(
                "import-log fills a PostgreSQL database: give --database postgresql://…"
            )
        source = open_store(args.source)
        await source.open()
        await target.open()
        try:
            await source.migrate()
            await target.migrate()
            copied = await target.import_log(source)
            results = []
            for store in (source, target):
                anchors = anchors_from(await store.checkpoint_rows())
                results.append((await verify_rows(store.iter_rows(), anchors)).to_dict())
            return {"copied": copied, "source": results[0], "copy": results[1]}
        finally:
            await source.close()
            await target.close()

    report = asyncio.run(go())
    print(json.dumps(report, indent=2))
    same = report["source"] == report["copy"] and report["copy"]["ok"]
    return 0 if same else 1
