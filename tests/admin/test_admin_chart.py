"""The admin page's chart in Debian's Chromium, in Swedish and English (C23).

Decisions on fixed days across a month's end, two of the actions equal on one day:
the stacked bars keep both visible, the month grouping sums them, the breakdown tables
name languages and pages, and the chart's CSV downloads through the page.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from consent_service.audit.events import ConsentEvent
from consent_service.gating.chromium import CHROMIUM_ARGS
from consent_service.settings import DEMO_CONFIG
from consent_service.sites import load_sites
from consent_service.store import open_store

from ..conftest import ON_CI, signed
from .conftest import Service
from .test_admin_page import CHROMIUM

pytestmark = pytest.mark.browser


def _seed_days(database_url: str, plan: dict[str, list[tuple[str, str, str]]]) -> None:
    """Rows on fixed days (``YYYY-MM-DD`` → ``(action, language, page)``), appended (and
    chained) through the store: the chart's periods never depend on today."""
    site = load_sites(DEMO_CONFIG).get("demo")

    async def go() -> None:
        store = signed(open_store(database_url))
        await store.open()
        try:
            for day, rows in plan.items():
                at = datetime.fromisoformat(day + "T10:00:00+00:00")
                await store.append(
                    [
                        ConsentEvent(
                            "demo",
                            f"c-{day}-{n}",
                            action,
                            {
                                "necessary": True,
                                "statistics": action == "accept-all",
                                "third-party": action == "accept-all",
                            },
                            site.policy_version,
                            site.texts_hash(lang),
                            lang,
                            "seed",
                            page,
                            "192.0.2.0/24",
                            "Firefox/Linux",
                            False,
                            at + timedelta(minutes=n),
                        )
                        for n, (action, lang, page) in enumerate(rows)
                    ]
                )
        finally:
            await store.close()

    asyncio.run(go())


_HOME, _SHOP = "https://example.se/", "https://example.se/shop"
#: Across a month's end; on 11-30 accept-all and reject-all are equal (two each).
_PLAN = {
    "2026-11-29": [("accept-all", "sv", _HOME), ("reject-all", "en", _SHOP)],
    "2026-11-30": [("accept-all", "sv", _HOME), ("accept-all", "sv", _HOME),
                   ("reject-all", "sv", _SHOP), ("reject-all", "en", _SHOP)],
    "2026-12-01": [("accept-all", "en", _HOME), ("save", "sv", _HOME)],
}  # fmt: skip
_WORDS = {
    "sv": {"accept": "Godkänner allt", "month": "Månad", "rate": "Samtyckesgrad per språk"},
    "en": {"accept": "Accept all", "month": "Month", "rate": "Consent rate by language"},
}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_c23_the_chart_stacks_equal_series_groups_by_month_and_downloads_its_csv(
    service: Service, tmp_path: Path, lang: str
) -> None:
    if not CHROMIUM.exists():
        if ON_CI:
            pytest.fail("Debian's Chromium is required at /usr/bin/chromium under CI")
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import expect, sync_playwright

    _seed_days(service.database_url, _PLAN)
    token = subprocess.run(
        [sys.executable, "-m", "consent_service", "token", "create", "--site", "demo",
         "--role", "viewer", "--database", service.database_url, "--config", str(DEMO_CONFIG)],
        env=service.env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    words = _WORDS[lang]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(
                accept_downloads=True, locale="sv-SE" if lang == "sv" else "en-GB"
            )
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(service.base + "/admin/")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            page.fill("#token", token)
            page.click("#signin-form button[type=submit]")
            expect(page.locator("#chart svg")).to_have_attribute("data-days", "3")
            # Equal counts stay apart: two segments of the same height, one on the other.
            equal = page.locator("#chart rect.bar[data-date='2026-11-30']")
            accept, reject = equal.nth(0), equal.nth(1)
            assert accept.get_attribute("data-value") == reject.get_attribute("data-value") == "2"
            assert float(accept.get_attribute("height") or 0) > 0
            assert accept.get_attribute("height") == reject.get_attribute("height")
            assert accept.get_attribute("y") != reject.get_attribute("y")
            expect(page.locator("#legend")).to_contain_text(words["accept"])
            expect(page.locator("#by_language caption")).to_have_text(words["rate"])
            expect(page.locator("#by_language tbody tr")).to_have_count(2)
            expect(page.locator("#top_pages tbody tr").first).to_contain_text(_HOME)

            page.fill("#since", "2026-11-01")
            page.fill("#until", "2026-12-31")
            page.select_option("#group", "month")
            expect(page.locator("#group option[value=month]")).to_have_text(words["month"])
            expect(page.locator("#chart svg")).to_have_attribute("data-days", "2")
            # Two periods × five actions (accept-all, reject-all, save, placeholder, gpc).
            expect(page.locator("#chart rect.bar")).to_have_count(10)
            expect(page.locator("#rates-table tbody tr")).to_have_count(2)
            november = page.locator("#chart rect.bar[data-date='2026-11-01']")
            assert [november.nth(i).get_attribute("data-value") for i in range(5)] == [
                "3", "3", "0", "0", "0",
            ]  # fmt: skip

            with page.expect_download() as info:
                page.click("#chart-csv")
            saved = tmp_path / info.value.suggested_filename
            info.value.save_as(saved)
            assert problems == []
        finally:
            browser.close()
    lines = saved.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("period_start,decisions,accept-all,reject-all,save,placeholder,gpc")
    assert [line.split(",")[:3] for line in lines[1:]] == [
        ["2026-11-01", "6", "3"],
        ["2026-12-01", "2", "1"],
    ]
