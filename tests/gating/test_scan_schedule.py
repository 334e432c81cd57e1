"""The scheduled scan's child process: a real ``consent-service scan`` in Chromium (issue 20)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from consent_service.gating.scan.record import summarise
from consent_service.gating.scan.schedule import scan_in_child
from consent_service.settings import DEMO_CONFIG
from consent_service.sites import load_sites
from consent_service.sites.model import ScanSchedule

from .conftest import need_browser as _need_browser
from .servers import free_port
from .test_scan_browser import pages, site_config  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_child_crawl_of_the_demo_is_a_clean_report(
    demo_server: Callable[[], str],
) -> None:
    _need_browser()
    base = demo_server()
    site = load_sites(DEMO_CONFIG).get("demo")
    clean = ScanSchedule(start=f"{base}/", every_days=30, max_pages=3)
    report = asyncio.run(scan_in_child(site, clean, DEMO_CONFIG))
    assert report is not None
    assert report["clean"] is True and report["start"] == clean.start
    assert report["pages"] and report["pages"][0]["url"] == clean.start
    assert summarise(report)["findings"] == 0


def test_the_child_crawl_of_a_leaking_page_is_a_report_too(
    pages: int,  # noqa: F811
    tmp_path: Path,
) -> None:
    _need_browser()
    config = site_config(tmp_path, pages)
    site = load_sites(config).get("test")
    leaky = ScanSchedule(start=f"http://localhost:{pages}/dirty.html", every_days=30)
    report = asyncio.run(scan_in_child(site, leaky, config))
    assert report is not None and report["clean"] is False  # exit 1 is a report too
    summary = summarise(report)
    assert summary["url"] == leaky.start and summary["pages"] == 1
    assert summary["findings"] >= 1 and summary["by_phase"].get("before", 0) >= 1


def test_a_scan_that_cannot_run_gives_no_report(tmp_path: Path) -> None:
    config = site_config(tmp_path, 1)
    site = load_sites(config).get("test")
    nowhere = ScanSchedule(start=f"http://127.0.0.1:{free_port()}/", every_days=30)
    assert asyncio.run(scan_in_child(site, nowhere, config)) is None
