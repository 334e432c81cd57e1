"""``scan --crawl`` and ``scan --update-cookie-db``: a whole site, and the cookie knowledge it uses."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from consent_service.gating.cookiedb.database import BUNDLED, CookieDatabase, CookieDbError
from consent_service.gating.cookiedb.update import UPSTREAM, update_database
from consent_service.gating.scan.crawl_report import EXIT_ERROR
from consent_service.gating.scan.errors import ScanError


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def cmd_crawl(args: argparse.Namespace, chromium: str) -> int:
    """Crawl the site; print the summary (or JSON); write the reports asked for; exit 0–3."""
    from consent_service.gating.scan.crawl import crawl
    from consent_service.gating.scan.crawl_html import render_html
    from consent_service.gating.scan.declared import load_declared
    from consent_service.gating.scan.frontier import Bounds

    try:
        declared = load_declared(args.config, args.site) if args.config else None
        database = CookieDatabase.load(args.cookie_db or BUNDLED)
        report = asyncio.run(
            crawl(
                args.url,
                bounds=Bounds(
                    max_pages=args.max_pages,
                    max_depth=args.max_depth,
                    max_seconds=args.max_time,
                    settle=args.settle,
                    timeout=args.timeout,
                ),
                declared=declared,
                site=args.site,
                chromium=chromium,
                database=database,
                progress=None if args.quiet else _progress,
                now=args.now,
            )
        )
    except (ScanError, CookieDbError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        _write(args.json, report.to_json() + "\n")
    if args.html:
        _write(args.html, render_html(report))
    if args.propose and report.declaration and report.declaration.fragment:
        _write(args.propose, report.declaration.fragment)
    print(report.to_json() if args.format == "json" else report.to_text())
    return report.exit_code


def cmd_update_cookie_db(args: argparse.Namespace) -> int:
    """Replace the Open Cookie Database copy from a URL or a file; exit 0, or 2 on failure."""
    source = UPSTREAM if args.update_cookie_db == "upstream" else args.update_cookie_db
    dest = args.cookie_db or BUNDLED
    try:
        done = update_database(source, dest, now=args.now())
    except (CookieDbError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"wrote {done.path}: {done.rows} cookies, sha256 {done.sha256}")
    return 0
