"""What the commands share: their common arguments, their settings, a store to work on."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from consent_service.admin.period import parse_moment
from consent_service.audit.signing import LogSigner, key_path, load_signer
from consent_service.settings import Settings, SettingsError
from consent_service.store import Store, open_store
from consent_service.web.errors import InvalidField

T = TypeVar("T")


def database_arg(parser: argparse.ArgumentParser, help_text: str | None = None) -> None:
    """``--database URL`` (default ``$CONSENT_DATABASE_URL``)."""
    parser.add_argument(
        "--database",
        metavar="URL",
        help=help_text
        or "database URL, e.g. sqlite:///var/kakor.db or postgresql://user@host/db "
        "(default: $CONSENT_DATABASE_URL or sqlite:///var/kakor.db)",
    )


def config_arg(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``: the site file (default ``$CONSENT_CONFIG`` or the demo site)."""
    parser.add_argument(
        "--config", type=Path, help="site config TOML (default: $CONSENT_CONFIG or the demo site)"
    )


def workers_arg(parser: argparse.ArgumentParser, what: str, setting: str) -> None:
    """``--workers N``: how many processes do ``what`` (default: the ``setting``)."""
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"{what} in N processes (default: {setting}, else one per CPU; 0: in this "
        "process only)",
    )


def workers_of(args: argparse.Namespace, configured: int | None) -> int | None:
    """``--workers`` if given, else ``configured``; a negative count is refused (exit 2)."""
    workers = args.workers if args.workers is not None else configured
    if workers is not None and workers < 0:
        raise SettingsError("--workers must be 0 or more")
    return workers


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings from the environment, with ``--database`` and ``--config`` applied."""
    return Settings.from_env(
        database_url=getattr(args, "database", None), config_path=getattr(args, "config", None)
    )


def with_store(args: argparse.Namespace, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the command's store, migrate it, run ``work`` on it, close it."""

    async def go() -> T:
        settings = settings_of(args)
        store = open_store(settings.database_url)
        store.signer = existing_signer(settings)
        await store.open()
        try:
            await store.migrate()
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


def existing_signer(settings: Settings) -> LogSigner | None:
    """The log's signer if its key exists (a command never generates one); else None."""
    if settings.log_key_file is None and not key_path(settings).is_file():
        return None
    return load_signer(settings)


def moment_arg(name: str, raw: str | None, *, end: bool = False) -> datetime | None:
    """A ``--since``/``--until``/``--before`` value, read as the admin API reads it."""
    try:
        return parse_moment(name, raw, end=end)
    except InvalidField as exc:
        raise SystemExit(f"error: --{exc.message}") from None
