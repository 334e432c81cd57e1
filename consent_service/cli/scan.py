"""``scan``: a page checked in Chromium for what it sets before and after consent."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from consent_service.settings import Settings


def add_commands(sub: Any) -> None:
    """Register ``scan``."""
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
        default=None,
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
                chromium=args.chromium or Settings.from_env().chromium,
                timeout=args.timeout,
            )
        )
    except ScanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.format == "json" else report.to_text())
    return 0 if report.clean else 1
