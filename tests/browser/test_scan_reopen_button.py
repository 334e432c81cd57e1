"""C13 in the crawl: the widget's floating reopen button counts as a withdrawal control.

A site that sets ``reopen_button = true`` needs no ``data-consent-open`` link in its
pages; the crawl must see the button the widget draws (in its shadow root) after a
choice, and must still report the same page as lacking a control when the setting is off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_service.cli.main import main

from .conftest import CHROMIUM, free_port
from .static_site import service_for, static_site

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Utan länk</title>
<script src="{service}/v1/sites/demo/widget.js" defer></script>
</head><body><main><h1>En sida utan länk till inställningarna</h1></main></body></html>
"""


def _crawl(capsys: pytest.CaptureFixture[str], url: str) -> dict[str, Any]:
    argv = ["scan", "--crawl", url, "--max-pages", "1", "--format", "json"]
    main([*argv, "--chromium", CHROMIUM, "--timeout", "15"])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


@pytest.fixture(params=[True, False], ids=["reopen-button", "no-reopen-button"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, bool]]:
    port = free_port()
    origin = f"http://localhost:{port}"
    extra = "reopen_button = true" if request.param else ""
    with service_for(tmp_path, origin, extra) as service:
        pages = {"page.html": PAGE.format(service=service.url)}
        with static_site(tmp_path / "www", pages, port=port):
            yield origin, request.param


def test_c13_the_crawl_counts_the_widgets_reopen_button(
    site: tuple[str, bool], capsys: pytest.CaptureFixture[str]
) -> None:
    origin, reopen = site
    report = _crawl(capsys, f"{origin}/page.html")
    [page] = report["pages"]
    assert page["widget"] is True
    assert page["withdrawal_control"] is reopen
    kinds = [f["kind"] for f in page["findings"]]
    assert ("withdrawal" in kinds) is not reopen
