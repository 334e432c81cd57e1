"""``scan-record``: keep a scan's JSON report as proof in the site's audit log.

``consent-service scan URL --format json > report.json`` writes a report;
``consent-service scan-record report.json --site SITE`` stores it whole, signs it
with the log key and appends its summary to the site's chain
(:mod:`consent_service.gating.scan.record`). ``serve`` does the same on a schedule
for sites with a ``[sites.<id>.scan]`` table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from consent_service.cli.common import config_arg, database_arg, settings_of, with_store
from consent_service.gating.scan.record import is_report, record_scan
from consent_service.sites import load_sites
from consent_service.store import Store


def add_commands(sub: Any) -> None:
    """Register ``scan-record``."""
    record = sub.add_parser(
        "scan-record",
        help="store a scan report, signed, in the site's audit log",
        description="Store REPORT (the JSON of `consent-service scan --format json`, or - "
        "for stdin) for SITE: kept whole, signed with the log key, and recorded by a row "
        "of action 'scan' in the site's chain. Prints the stored record's id, seq and SHA-256.",
    )
    record.add_argument("report", help="the report file, or - to read it from stdin")
    record.add_argument("--site", required=True, help="the site the scan was of")
    database_arg(record)
    config_arg(record)
    record.set_defaults(func=cmd_scan_record)


def cmd_scan_record(args: argparse.Namespace) -> int:
    """``scan-record``: exit 0 once recorded, 2 on a bad report, site or missing key."""
    try:
        text = sys.stdin.read() if args.report == "-" else Path(args.report).read_text("utf-8")
        report = json.loads(text)
    except (OSError, ValueError) as exc:
        print(f"error: {args.report}: not a readable JSON report: {exc}", file=sys.stderr)
        return 2
    if not is_report(report):
        print(
            f"error: {args.report}: not a scan report (no clean, pages or findings)",
            file=sys.stderr,
        )
        return 2
    settings = settings_of(args)
    if args.site not in load_sites(settings.config_path):
        print(f"error: --site: no site {args.site!r} in {settings.config_path}", file=sys.stderr)
        return 2

    async def go(store: Store) -> dict[str, Any]:
        if store.signer is None:
            raise SystemExit("error: the log key is needed to sign the report (log-key create)")
        record = await record_scan(store, store.signer, args.site, report, args.now())
        return {"id": record.id, "seq": record.seq, "sha256": record.sha256, **record.summary}

    print(json.dumps(with_store(args, go), indent=2))
    return 0
