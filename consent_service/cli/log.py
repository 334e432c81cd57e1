"""``migrate`` and ``verify``: the audit log's schema and its integrity."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from consent_service.audit.integrity import verify_log
from consent_service.audit.signing import load_signer
from consent_service.audit.witness import WitnessError, read_heads
from consent_service.cli.common import (
    database_arg,
    settings_of,
    with_store,
    workers_arg,
    workers_of,
)
from consent_service.store import Store, open_store


def add_commands(sub: Any) -> None:
    """Register ``migrate`` and ``verify``."""
    migrate = sub.add_parser(
        "migrate", help="apply database migrations", description="Apply pending migrations."
    )
    database_arg(migrate)
    migrate.set_defaults(func=cmd_migrate)
    verify = sub.add_parser(
        "verify",
        help="check the audit log's hash chain",
        description="Check every row of the audit log; exit 1 and name the first broken row.",
    )
    database_arg(verify)
    verify.add_argument(
        "--heads",
        type=Path,
        metavar="FILE",
        help="a witness's heads file (consent-service witness): the log must still match "
        "every head in it",
    )
    workers_arg(verify, "check the rows", "CONSENT_VERIFY_WORKERS")
    verify.set_defaults(func=cmd_verify)


def cmd_migrate(args: argparse.Namespace) -> int:
    """``migrate``: apply pending migrations and list them."""

    async def go() -> list[str]:
        settings = settings_of(args)
        store = open_store(settings.database_url)
        # As serve does: the tree of an older log is built and its head signed here.
        store.signer = load_signer(settings)
        await store.open()
        try:
            return await store.migrate()
        finally:
            await store.close()

    applied = asyncio.run(go())
    print("applied: " + ", ".join(applied) if applied else "up to date")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """``verify``: walk the whole chain and tree (against a witness's heads with
    ``--heads``); exit 1 if broken."""

    witnessed = []
    if args.heads is not None:
        try:
            witnessed = read_heads(args.heads)
        except (OSError, WitnessError) as exc:
            print(f"error: --heads: {exc}", file=sys.stderr)
            return 2

    workers = workers_of(args, settings_of(args).verify_workers)

    async def check(store: Store) -> dict[str, Any]:
        return await verify_log(store, witnessed=witnessed, workers=workers)

    result = with_store(args, check)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1
