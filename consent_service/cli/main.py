"""The command line: ``consent-service serve | migrate | verify | demo`` (+ :mod:`.admin_cli`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consent_service.audit.integrity import verify_log
from consent_service.cli import admin as admin_cli
from consent_service.cli import postgres as pg_cli
from consent_service.settings import DEMO_CONFIG, Settings, SettingsError, is_loopback
from consent_service.sites import ConfigError
from consent_service.store import StoreError, open_store


def _database_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        help="database URL, e.g. sqlite:///var/kakor.db or postgresql://user@host/db "
        "(default: $CONSENT_DATABASE_URL or sqlite:///var/kakor.db)",
    )


def _server_args(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=port, help=f"port to listen on (default {port})"
    )
    parser.add_argument(
        "--config", type=Path, help="site config TOML (default: $CONSENT_CONFIG or the demo site)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    _database_arg(parser)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="consent-service", description="kakor: cookie consent with proof."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the service", description="Run the consent service.")
    _server_args(serve, 8000)
    serve.set_defaults(func=cmd_serve)
    demo = sub.add_parser(
        "demo",
        help="run the service with the demo site at /",
        description="Run the service and the demo site (SQLite, generated signing key).",
    )
    _server_args(demo, 8000)
    demo.set_defaults(func=cmd_demo)
    migrate = sub.add_parser(
        "migrate", help="apply database migrations", description="Apply pending migrations."
    )
    _database_arg(migrate)
    migrate.set_defaults(func=cmd_migrate)
    verify = sub.add_parser(
        "verify",
        help="check the audit log's hash chain",
        description="Check every row of the audit log; exit 1 and name the first broken row.",
    )
    _database_arg(verify)
    verify.set_defaults(func=cmd_verify)
    _scan_parser(sub)
    admin_cli.add_commands(sub)
    pg_cli.add_commands(sub)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        database_url=getattr(args, "database", None), config_path=getattr(args, "config", None)
    )


def server_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """The uvicorn options `serve` and `demo` run with (benchmarks reuse them as they are)."""
    return {
        "host": host,
        "port": port,
        "proxy_headers": True,
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or None,
        "access_log": False,  # access logs would hold raw IP addresses
        "log_level": os.environ.get("CONSENT_LOG_LEVEL", "info"),
        "server_header": False,
        **_hardening(settings),
    }


def _run(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    options = server_options(settings, args.host, args.port)
    if args.workers > 1:
        os.environ["CONSENT_DATABASE_URL"] = settings.database_url
        os.environ["CONSENT_CONFIG"] = str(settings.config_path)
        os.environ["CONSENT_SECRET_KEYS"] = ",".join(k.reveal() for k in settings.secret_keys)
        if settings.public_url is not None:
            os.environ["CONSENT_PUBLIC_URL"] = settings.public_url
        if settings.demo:
            os.environ["CONSENT_DEMO"] = "1"
        uvicorn.run(
            "consent_service.web.app:create_app_from_env",
            factory=True,
            workers=args.workers,
            **options,
        )
        return 0
    from consent_service.web.app import create_app

    uvicorn.run(create_app(settings), **options)
    return 0


def _hardening(settings: Settings) -> dict[str, object]:
    """Server limits against abusive clients (see docs/security.md).

    The protocol class (:mod:`consent_service.web.protocols`) is uvicorn's parser of choice
    (``CONSENT_HTTP_PARSER``) with a bound on the request line and headers while they
    are incomplete (400) and on the time they take to arrive (408), and the JSON error
    shape for what the server answers itself; a complete request over the size limit
    gets 431 from :class:`~consent_service.web.limits.HeaderLimit`.
    """
    from consent_service.web.protocols import (
        protocol_class,  # the server's parsers: only for serving
    )

    return {
        "http": protocol_class(
            settings.http_parser,
            max_head_bytes=settings.max_header_bytes,
            head_timeout=settings.header_timeout,
        ),
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.max_connections or None,
    }


def cmd_serve(args: argparse.Namespace) -> int:
    """``serve``: the API with the configured sites."""
    settings = _settings(args)
    _check_public_url(settings, args.host)
    return _run(settings, args)


def _check_public_url(settings: Settings, host: str) -> None:
    """Without ``CONSENT_PUBLIC_URL``, listen on loopback only, and say what that costs.

    The widget names its endpoints under that URL. Reachable from other machines, the
    service has no trustworthy way to know it, so it refuses to start; on loopback
    (behind a local proxy, or for a local test) it starts, with the widget and
    ``/config`` answering only requests to http://localhost.
    """
    if settings.public_url is not None:
        return
    if not is_loopback(host):
        raise SettingsError(
            f"CONSENT_PUBLIC_URL is not set: `serve --host {host}` needs the URL browsers "
            "reach this service on, e.g. CONSENT_PUBLIC_URL=https://consent.example.se"
        )
    print(
        "warning: CONSENT_PUBLIC_URL is not set: the widget and /config answer only "
        "requests to http://localhost (500 public_url_not_configured for any other Host)",
        file=sys.stderr,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """``demo``: the API plus the demo page, with a local signing key if none is set."""
    settings = _settings(args)
    if args.config is None and "CONSENT_CONFIG" not in os.environ:
        settings = Settings.from_env(database_url=args.database, config_path=DEMO_CONFIG)
    settings = settings.with_demo_key()
    print(f"kakor demo: http://{args.host}:{args.port}/", file=sys.stderr)
    return _run(settings, args)


def cmd_migrate(args: argparse.Namespace) -> int:
    """``migrate``: apply pending migrations and list them."""

    async def go() -> list[str]:
        store = open_store(_settings(args).database_url)
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

    async def go() -> dict[str, object]:
        store = open_store(_settings(args).database_url)
        await store.open()
        try:
            await store.migrate()
            return await verify_log(store)
        finally:
            await store.close()

    result = asyncio.run(go())
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


def _scan_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    scan = sub.add_parser(
        "scan",
        help="check a page for cookies, storage and requests before consent",
        description="Load URL in headless Chromium (fresh profile per phase) before any "
        "choice, after reject all and after accept all; report undeclared cookies and "
        "anything that ran before consent or after refusal. Exit 0 clean, 1 leak, 2 error. "
        "Needs: pip install 'consent-service[scan]' and Debian's chromium.",
    )
    scan.add_argument("url", help="the page to scan, e.g. http://127.0.0.1:8000/")
    scan.add_argument(
        "--site",
        help="site id (default: the one the page's widget names, or the config's only one)",
    )
    scan.add_argument(
        "--config",
        type=Path,
        help="site config TOML to compare with (default: the public config of the consent "
        "service whose widget the page loads)",
    )
    scan.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    scan.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for a page (default 30)"
    )
    scan.add_argument(
        "--chromium",
        default=os.environ.get("CONSENT_CHROMIUM", "/usr/bin/chromium"),
        help="Chromium executable (default: $CONSENT_CHROMIUM or /usr/bin/chromium)",
    )
    scan.set_defaults(func=cmd_scan)


def cmd_scan(args: argparse.Namespace) -> int:
    """``scan``: exit 0 when the page is clean, 1 when it leaks, 2 when the scan cannot run."""
    from consent_service.gating.scan.errors import ScanError
    from consent_service.gating.scan.scanner import run_scan

    try:
        report = asyncio.run(
            run_scan(
                args.url,
                site=args.site,
                config_path=args.config,
                chromium=args.chromium,
                timeout=args.timeout,
            )
        )
    except ScanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.format == "json" else report.to_text())
    return 0 if report.clean else 1


def utc_now() -> datetime:
    """The current time, in UTC: the command line's clock unless :func:`main` is given one."""
    return datetime.now(UTC)


def main(argv: Sequence[str] | None = None, *, now: Callable[[], datetime] = utc_now) -> int:
    """Entry point of ``consent-service``.

    ``now`` is the clock every command that writes a time (a purge's checkpoint, a
    token's creation, an export's access-log entry) reads; tests fix it.
    """
    args = build_parser().parse_args(argv)
    args.now = now
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except (SettingsError, ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # A reader that stops early (`| head`) is normal in a pipe: stop without a word,
        # and point standard output at the null device so that the interpreter's last
        # flush at exit does not complain about the closed pipe either.
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
        return BROKEN_PIPE


#: The exit status a shell reports for a process ended by SIGPIPE (128 + 13).
BROKEN_PIPE = 141
