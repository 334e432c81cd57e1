"""The crawl against one-URL scans of the same pages, with and without the settle window.

    .venv/bin/python -m benchmarks.crawl_bench [--settle 0 2]

Serves the crawl tests' five-page fixture site (:mod:`tests.gating.crawl_site`, so the
numbers are about the pages the tests assert on), then for each settle window times
five one-URL scans (the baseline, measured in the same run) and one crawl of the same
pages, and says whether the late tracker (1.5 s after load, before any choice) was
seen. The crawl reuses one browser and the first page's decision, so it should cost
less than the scans; the window costs about its length per page and is what sees the
late tracker before any choice.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from consent_service.gating.scan.crawl import crawl
from consent_service.gating.scan.declared import load_declared
from consent_service.gating.scan.frontier import Bounds
from consent_service.gating.scan.scanner import run_scan
from tests.gating.crawl_site import serve_site, site_config

PAGES = ("/", "/about.html", "/no-control.html", "/late.html", "/undeclared.html")


def _late_before(findings: list[tuple[str, str]]) -> bool:
    return ("before", "cookie _late (localhost)") in findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, nargs="+", default=[0.0, 2.0])
    args = parser.parse_args()
    print(
        "| settle | 5 one-URL scans | crawl of the same 5 pages | crawl / scans | late tracker before any choice (scans, crawl) |"
    )
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp, serve_site() as site:
        config = site_config(Path(tmp), site.port)
        declared = load_declared(config, None)
        for settle in args.settle:
            t0 = time.monotonic()
            seen_scans = False
            for path in PAGES:
                report = asyncio.run(
                    run_scan(site.base + path, config_path=config, settle=settle, timeout=15)
                )
                seen_scans |= _late_before([(f.phase, f.subject) for f in report.findings])
            scans = time.monotonic() - t0
            t0 = time.monotonic()
            bounds = Bounds(settle=settle, timeout=15)
            result = asyncio.run(crawl(site.base + "/", bounds=bounds, declared=declared))
            crawled = time.monotonic() - t0
            seen_crawl = any(
                _late_before([(f.phase, f.subject) for f in p.findings]) for p in result.pages
            )
            print(
                f"| {settle:g} s | {scans:.1f} s | {crawled:.1f} s ({len(result.pages)} pages) | "
                f"{crawled / scans:.2f} | {seen_scans}, {seen_crawl} |"
            )


if __name__ == "__main__":
    main()
