"""The scheduled scan's child process: a real ``consent-service scan`` in Chromium (issue 20)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from consent_service.gating.scan.schedule import scan_in_child
from consent_service.sites import load_sites
from consent_service.sites.model import ScanSchedule

from .conftest import need_browser as _need_browser
from .servers import free_port
from .test_scan_browser import pages, site_config  # noqa: F401

pytestmark = pytest.mark.browser


def test_the_child_scan_returns_the_report_of_a_real_scan(
    pages: int,  # noqa: F811
    tmp_path: Path,
) -> None:
    _need_browser()
    config = site_config(tmp_path, pages)
    site = load_sites(config).get("test")
    clean = ScanSchedule(start=f"http://localhost:{pages}/banner.html", every_days=30)
    report = asyncio.run(scan_in_child(site, clean, config))
    assert report is not None
    assert report["clean"] is True and report["url"] == clean.start
    leaky = ScanSchedule(start=f"http://localhost:{pages}/dirty.html", every_days=30)
    report = asyncio.run(scan_in_child(site, leaky, config))
    assert report is not None and report["clean"] is False  # exit 1 is a report too
    assert any(f["phase"] == "before" for f in report["findings"])


def test_a_scan_that_cannot_run_gives_no_report(tmp_path: Path) -> None:
    config = site_config(tmp_path, 1)
    site = load_sites(config).get("test")
    nowhere = ScanSchedule(start=f"http://127.0.0.1:{free_port()}/", every_days=30)
    assert asyncio.run(scan_in_child(site, nowhere, config)) is None
