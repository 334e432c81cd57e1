"""``migrate`` and ``verify``: the audit log's schema and its integrity."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from consent_service.audit.integrity import verify_log
from consent_service.cli.common import database_arg, settings_of, with_store
from consent_service.store import open_store


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
    verify.set_defaults(func=cmd_verify)


def cmd_migrate(args: argparse.Namespace) -> int:
    """``migrate``: apply pending migrations and list them."""

    async def go() -> list[str]:
        store = open_store(settings_of(args).database_url)
        await store.open()
        try:
            return await store.migrate()
        finally:
            await store.close()

    applied = asyncio.run(go())
    print("applied: " + ", ".join(applied) if applied else "up to date")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """``verify``: walk the whole chain (purge checkpoints as anchors); exit 1 if broken."""

    result = with_store(args, verify_log)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1
