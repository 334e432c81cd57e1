"""``serve`` and ``demo``: the service under uvicorn, with the server's limits."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from consent_service.cli.common import config_arg, database_arg, settings_of
from consent_service.settings import DEMO_CONFIG, Settings, SettingsError, is_loopback
from consent_service.sites import load_sites


def add_commands(sub: Any) -> None:
    """Register ``serve`` and ``demo``."""
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


def _server_args(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=port, help=f"port to listen on (default {port})"
    )
    config_arg(parser)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    database_arg(parser)


def server_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """The uvicorn options `serve` and `demo` run with (benchmarks reuse them as they are)."""
    return {
        "host": host,
        "port": port,
        "proxy_headers": True,
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or None,
        "access_log": False,  # access logs would hold raw IP addresses
        "log_level": settings.log_level,
        "server_header": False,
        **_hardening(settings),
    }


def _run(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    options = server_options(settings, args.host, args.port)
    if args.workers > 1:
        # Each worker builds its settings from the environment it inherits: the
        # command-line flags go there; keys come from CONSENT_SECRET_KEYS as they did
        # here, or from the demo's key file, and are never written back.
        os.environ["CONSENT_DATABASE_URL"] = settings.database_url
        os.environ["CONSENT_CONFIG"] = str(settings.config_path)
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
    gets 431 from :class:`~consent_service.web.edge.Edge`.
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
    settings = settings_of(args)
    check_public_url(settings, args.host)
    return _run(settings, args)


def check_public_url(settings: Settings, host: str) -> None:
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
    settings = settings_of(args)
    if args.config is None and "CONSENT_CONFIG" not in os.environ:
        settings = Settings.from_env(database_url=args.database, config_path=DEMO_CONFIG)
    settings = settings.with_demo_key()
    load_sites(settings.config_path)  # a broken site file: its error, not a URL that fails
    print(f"kakor demo: http://{args.host}:{args.port}/", file=sys.stderr)
    return _run(settings, args)
