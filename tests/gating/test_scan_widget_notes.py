"""``consent-service scan`` reports what the widget itself says is wrong (issue 18): a
page on an origin its site does not list, and an ``<iframe data-consent>`` with ``src``.
Real service, real static site on another origin, Debian's Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from consent_service.cli.main import main

from ..browser.conftest import Service, start_service, stop_service
from ..browser.static_site import static_site
from .conftest import CHROMIUM
from .conftest import need_browser as _need_browser

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Felkonfigurerad</title>
<script src="{service}/v1/sites/demo/widget.js" defer></script>
</head><body><main><h1>Ej listad</h1>
<iframe src="about:blank#ungated" data-consent="third-party" title="Video"></iframe>
</main></body></html>
"""


@pytest.fixture(scope="module")
def demo_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = start_service(tmp_path_factory.mktemp("scan-notes"))
    yield running
    stop_service(running)


def test_scan_notes_an_unlisted_origin_and_an_ungated_iframe(
    tmp_path: Path, demo_service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_browser()
    pages = {"index.html": PAGE.format(service=demo_service.url)}
    with static_site(tmp_path / "www", pages) as origin:
        main(["scan", f"{origin}/", "--format", "json", "--chromium", CHROMIUM, "--timeout", "15"])
    report = json.loads(capsys.readouterr().out)
    notes = "\n".join(report["notes"])
    assert f"origin '{origin}' is not allowed for site 'demo'" in notes
    assert "add it to origins in [sites.demo]" in notes
    assert "no data-src loads ungated" in notes
