"""``scan``: a page, or a whole site (``--crawl``), checked in Chromium before and after consent."""

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
        help="check a page or a site for cookies, storage and requests before consent",
        description="Load URL in headless Chromium (fresh profile per phase) before any "
        "choice, after reject all and after accept all; report undeclared cookies and "
        "anything that ran before consent or after refusal. With --crawl, follow the "
        "site's links (or its sitemap) and check every page, its withdrawal control too. "
        "Exit 0 clean, 1 problems, 2 the scan could not run, 3 (crawl) no problems but "
        "some pages could not be scanned. Needs: pip install 'consent-service[scan]' and "
        "Debian's chromium.",
    )
    scan.add_argument("url", nargs="?", help="the page (or, with --crawl, a sitemap .xml) to scan")
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
        "--settle",
        type=float,
        default=2.0,
        help="seconds of network quiet to wait for late trackers before taking stock (default 2)",
    )
    scan.add_argument(
        "--chromium",
        default=None,
        help="Chromium executable (default: $CONSENT_CHROMIUM or /usr/bin/chromium)",
    )
    crawl = scan.add_argument_group("crawl (a whole site)")
    crawl.add_argument(
        "--crawl",
        action="store_true",
        help="follow same-origin links from URL, or read its sitemap",
    )
    crawl.add_argument("--max-pages", type=int, default=50, help="pages at most (default 50)")
    crawl.add_argument(
        "--max-depth", type=int, default=3, help="links followed from the start (default 3)"
    )
    crawl.add_argument(
        "--max-time", type=float, default=900.0, help="seconds for the crawl (default 900)"
    )
    crawl.add_argument("--json", type=Path, metavar="PATH", help="write the JSON report here")
    crawl.add_argument("--html", type=Path, metavar="PATH", help="write the HTML report here")
    crawl.add_argument(
        "--propose", type=Path, metavar="PATH", help="write the proposed site-file TOML here"
    )
    crawl.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    db = scan.add_argument_group("the Open Cookie Database")
    db.add_argument(
        "--cookie-db",
        type=Path,
        metavar="PATH",
        help="the copy to use, or to write with --update-cookie-db (default: the pinned one)",
    )
    db.add_argument(
        "--update-cookie-db",
        nargs="?",
        const="upstream",
        metavar="SOURCE",
        help="replace the copy from a URL or a file ('upstream' or nothing: the maintained "
        "file on GitHub), then exit",
    )
    scan.set_defaults(func=cmd_scan)


def cmd_scan(args: argparse.Namespace) -> int:
    """``scan``: exit 0 when clean, 1 on problems, 2 when the scan cannot run (3: see crawl)."""
    from consent_service.cli.crawl import cmd_crawl, cmd_update_cookie_db
    from consent_service.gating.scan.errors import ScanError
    from consent_service.gating.scan.scanner import run_scan

    if args.update_cookie_db is not None:
        return cmd_update_cookie_db(args)
    if not args.url:
        print("error: scan needs a URL (or --update-cookie-db)", file=sys.stderr)
        return 2
    chromium = args.chromium or Settings.from_env().chromium
    if args.crawl:
        return cmd_crawl(args, chromium)
    try:
        report = asyncio.run(
            run_scan(
                args.url,
                site=args.site,
                config_path=args.config,
                chromium=chromium,
                timeout=args.timeout,
                settle=args.settle,
            )
        )
    except ScanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.format == "json" else report.to_text())
    return 0 if report.clean else 1
