"""The admin page in Debian's Chromium: sign in, the rates chart, a lookup, an export (C23).

The real service runs as a subprocess (``python -m consent_service serve``), seeded by
real HTTP POSTs plus rows from earlier days appended through the store; the token is
made by the real CLI.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from consent_service.admin.export.rows import parse_csv
from consent_service.audit.events import ConsentEvent
from consent_service.gating.chromium import CHROMIUM_ARGS, DEFAULT_CHROMIUM
from consent_service.settings import DEMO_CONFIG
from consent_service.sites import load_sites
from consent_service.store import open_store

from ..conftest import ON_CI, signed
from .conftest import Service

CHROMIUM = Path(DEFAULT_CHROMIUM)
pytestmark = pytest.mark.browser


def _seed_earlier_days(database_url: str, days: int) -> None:
    """Decisions on earlier days, appended (and chained) through the store."""
    site = load_sites(DEMO_CONFIG).get("demo")
    now = datetime.now(UTC)

    def event(day: int, n: int) -> ConsentEvent:
        allow = n % (day + 2) == 0
        return ConsentEvent(
            site_id="demo",
            consent_id=f"seed-{day}-{n}",
            action="accept-all" if allow else "reject-all",
            choices={"necessary": True, "statistics": allow, "third-party": allow},
            policy_version=site.policy_version,
            texts_hash=site.texts_hash("sv"),
            language="sv",
            widget_version="seed",
            page="https://example.se/",
            ip="192.0.2.0/24",
            browser="Firefox/Linux",
            gpc=False,
            created_at=now - timedelta(days=day),
        )

    async def go() -> None:
        store = signed(open_store(database_url))
        await store.open()
        try:
            for day in range(days, 0, -1):
                await store.append([event(day, n) for n in range(6)])
        finally:
            await store.close()

    asyncio.run(go())


def test_c23_admin_page_signs_in_charts_looks_up_and_exports(
    service: Service, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        if ON_CI:
            pytest.fail("Debian's Chromium is required at /usr/bin/chromium under CI")
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    _seed_earlier_days(service.database_url, 3)
    answers = []
    for action in ("accept-all", "reject-all", "accept-all"):  # three visitors, no shared cookie
        with httpx.Client(base_url=service.base) as http:
            answers.append(http.post("/v1/sites/demo/consent", json={"action": action}).json())
    looked_up = answers[1]["consent_id"]
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "consent_service",
            "token",
            "create",
            "--site",
            "demo",
            "--database",
            service.database_url,
            "--config",
            str(DEMO_CONFIG),
        ],
        env=service.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(accept_downloads=True, locale="en-GB")
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(service.base + "/admin/")
            expect(page.locator("h1")).to_have_text("Consents – administration")

            page.fill("#token", token)
            page.click("#signin-form button[type=submit]")
            expect(page.locator("#app")).to_be_visible()
            expect(page.locator("#chart svg")).to_have_attribute("data-days", "4")
            # a stacked bar per day: five actions (accept-all, reject-all, save, placeholder,
            # GPC) × four days
            expect(page.locator("#chart svg rect.bar")).to_have_count(20)
            expect(page.locator("#rates-table tbody tr")).to_have_count(4)

            page.click("#lang")
            expect(page.locator("h1")).to_have_text("Samtycken – administration")
            expect(page.locator("html")).to_have_attribute("lang", "sv")

            page.fill("#consent-id", looked_up)
            page.click("#lookup-form button[type=submit]")
            expect(page.locator("#lookup-status")).to_have_class("ok")
            expect(page.locator("#lookup-result article.row-card")).to_have_count(1)
            expect(page.locator("#lookup-result")).to_contain_text(": Neka alla")

            with page.expect_download() as info:
                page.click("#export-csv")
            download = info.value
            saved = tmp_path / download.suggested_filename
            download.save_as(saved)
            expect(page.locator("#export-summary")).to_contain_text("21")
            expect(page.locator("#export-result .ok")).to_be_visible()

            page.click("#verify")
            expect(page.locator("#integrity-status")).to_have_class("ok")
            assert problems == []
        finally:
            browser.close()

    assert saved.name.endswith(".csv")
    rows = list(parse_csv(io.StringIO(saved.read_text(encoding="utf-8"), newline="")))
    assert len(rows) == 21
    assert looked_up in {r.consent_id for r in rows}
