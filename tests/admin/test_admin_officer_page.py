"""The admin page as officers use it, in Debian's Chromium, in Swedish and in English (C23).

Titles and action names in the page's language, a lookup that says what holds now with
a printable proof, the access log as a view, the period's scope stated, the page usable
at 320 px, and the focus moved on after sign-in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from consent_service.gating.chromium import CHROMIUM_ARGS
from consent_service.settings import DEMO_CONFIG

from ..conftest import ON_CI
from .conftest import Service
from .test_admin_page import CHROMIUM, _seed_earlier_days

pytestmark = pytest.mark.browser

WORDS: dict[str, dict[str, Any]] = {
    "sv": {
        "locale": "sv-SE",
        "legend": ["Tillåter Statistik", "Tillåter Tredjepartstjänster"],
        "caption": "under 4 dagar",
        "row": "Rad {seq}: Neka alla",
        "now": "Samtycke nu: Statistik nej, Tredjepartstjänster nej. Sedan {date} (Neka alla)",
        "withdrawn": "Återkallat {date}",
        "hint": "Tomma fält betyder all tid",
        "lookup": "Uppslag",
        "export": "Export",
        "rows": "21 rader, SHA-256 ",
    },
    "en": {
        "locale": "en-GB",
        "legend": ["Allows Statistics", "Allows Third-party services"],
        "caption": "over 4 days",
        "row": "Row {seq}: Reject all",
        "now": "Consent now: Statistics no, Third-party services no. Since {date} (Reject all)",
        "withdrawn": "Withdrawn on {date}",
        "hint": "Empty fields mean all time",
        "lookup": "Lookup",
        "export": "Export",
        "rows": "21 rows, SHA-256 ",
    },
}


def _token(service: Service) -> str:
    return subprocess.run(
        [
            *(sys.executable, "-m", "consent_service", "token", "create", "--site", "demo"),
            *("--database", service.database_url, "--config", str(DEMO_CONFIG)),
        ],
        env=service.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def seeded(service: Service) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The seeded service's two answers and a token, made before Playwright's loop starts."""
    return (*_seeded(service), _token(service))


def _scan_record(service: Service, tmp_path: Path, report: dict[str, Any]) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    subprocess.run(
        [
            *(sys.executable, "-m", "consent_service", "scan-record", str(path)),
            *("--site", "demo", "--database", service.database_url, "--config", str(DEMO_CONFIG)),
        ],
        env=service.env,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def scanned(
    service: Service, tmp_path: Path, seeded: tuple[dict[str, Any], dict[str, Any], str]
) -> str:
    """Two recorded crawls of the site, the second with a new cookie before consent; a token."""
    page: dict[str, Any] = {
        "url": "https://www.example.se/",
        "clean": True,
        "phases": {"before": {"cookies": []}, "accept": {"cookies": [{"name": "_pk_id"}]}},
        "findings": [],
    }
    first = {"start": "https://www.example.se/sitemap.xml", "clean": True, "pages": [page]}
    leak = {"phase": "before", "kind": "cookie", "subject": "cookie _ga (example.se)"}
    bad_page = {
        **page,
        "clean": False,
        "phases": {**page["phases"], "before": {"cookies": [{"name": "_ga"}]}},
        "findings": [{**leak, "detail": "set before any choice"}],
    }
    second = {**first, "clean": False, "pages": [bad_page]}
    _scan_record(service, tmp_path, first)
    _scan_record(service, tmp_path, second)
    return seeded[2]


@pytest.fixture
def browser(seeded: tuple[dict[str, Any], dict[str, Any], str]) -> Iterator[Any]:
    if not CHROMIUM.exists():
        if ON_CI:
            pytest.fail("Debian's Chromium is required at /usr/bin/chromium under CI")
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            yield chromium
        finally:
            chromium.close()


def _seeded(service: Service) -> tuple[dict[str, Any], dict[str, Any]]:
    """Three earlier days, a refusal and a withdrawn consent today; the two answers."""
    _seed_earlier_days(service.database_url, 3)
    with httpx.Client(base_url=service.base) as http:
        refused = http.post("/v1/sites/demo/consent", json={"action": "reject-all"}).json()
    with httpx.Client(base_url=service.base) as http:
        given = http.post("/v1/sites/demo/consent", json={"action": "accept-all"}).json()
        gone = http.request(
            "DELETE", "/v1/sites/demo/consent", json={}, headers={"Kakor-Token": given["token"]}
        )
        assert gone.status_code in (200, 201), gone.text
    return refused, given


def _sign_in(page: Any, service: Service, token: str) -> None:
    page.goto(service.base + "/admin/")
    page.fill("#token", token)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#chart svg")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_page_speaks_the_officers_language_and_says_what_holds_now(
    service: Service, seeded: tuple[dict[str, Any], dict[str, Any], str], browser: Any, lang: str
) -> None:
    from playwright.sync_api import expect

    words = WORDS[lang]
    refused, given, token = seeded
    context = browser.new_context(accept_downloads=True, locale=words["locale"])
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    _sign_in(page, service, token)
    expect(page.locator("html")).to_have_attribute("lang", lang)

    # Focus continues in the app, not on a hidden form or <body>.
    assert page.evaluate("document.activeElement.id") == "site"

    # Category titles, not ids; days counted in words.
    headers = page.locator("#rates-table thead th").all_inner_texts()
    assert set(words["legend"]) <= set(headers), headers
    expect(page.locator("#chart-caption")).to_contain_text(words["caption"])
    hint = page.evaluate(
        "document.getElementById(document.getElementById('since')"
        ".getAttribute('aria-describedby')).textContent"
    )
    assert words["hint"] in hint

    # A refusal: what holds now, in plain words above the hashes; the action by its name.
    page.fill("#consent-id", refused["consent_id"])
    page.click("#lookup-form button[type=submit]")
    today = refused["given_at"][:10]
    summary = page.locator("#lookup-summary")
    expect(summary).to_contain_text(words["now"].format(date=today))
    seq = page.locator("#lookup-result article.row-card").get_attribute("data-seq")
    expect(page.locator("#lookup-result article.row-card h3")).to_have_text(
        words["row"].format(seq=seq)
    )
    first = page.evaluate("document.getElementById('lookup-result').firstElementChild.id")
    assert first == "lookup-summary"

    # Printed, the proof stands alone.
    page.emulate_media(media="print")
    expect(page.locator("#lookup-summary")).to_be_visible()
    expect(page.locator("#lookup-result article.row-card")).to_be_visible()
    for hidden in ("#rates", "#export", "#print-proof", "header.bar"):
        expect(page.locator(hidden)).to_be_hidden()
    page.emulate_media(media="screen")

    # A withdrawn consent says so.
    page.fill("#consent-id", given["consent_id"])
    page.click("#lookup-form button[type=submit]")
    expect(page.locator("#lookup-summary")).to_contain_text(words["withdrawn"].format(date=today))

    # An export, then the access log as a view: who looked up and exported what.
    with page.expect_download():
        page.click("#export-csv")
    expect(page.locator("#export-summary")).to_be_visible()
    sha = page.locator("#export-summary").inner_text().rsplit(" ", 1)[-1].rstrip(".")
    page.click("#access-show")
    rows = page.locator("#access-table tbody tr")
    expect(rows.first).to_be_visible()
    lookups = page.locator('#access-table tr[data-action="lookup"]').all_inner_texts()
    assert any(refused["consent_id"] in r and words["lookup"] in r for r in lookups), lookups
    exports = page.locator('#access-table tr[data-action="export"]').all_inner_texts()
    assert any(words["rows"] + sha in r for r in exports), exports
    assert problems == []
    context.close()


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_page_works_at_320_px(
    service: Service, seeded: tuple[dict[str, Any], dict[str, Any], str], browser: Any, lang: str
) -> None:
    """WCAG 1.4.10 reflow: no sideways scroll at 320 px; a 22-character ID fits its field."""
    refused, _, token = seeded
    context = browser.new_context(
        viewport={"width": 320, "height": 640}, locale=WORDS[lang]["locale"]
    )
    page = context.new_page()
    _sign_in(page, service, token)
    page.fill("#consent-id", refused["consent_id"])
    assert len(refused["consent_id"]) == 22
    fits = page.evaluate(
        "(() => { const i = document.getElementById('consent-id');"
        " return i.scrollWidth <= i.clientWidth; })()"
    )
    assert fits, "the consent ID is cut off in its field"
    page.click("#lookup-form button[type=submit]")
    page.wait_for_selector("#lookup-summary")
    page.click("#access-show")
    page.wait_for_selector("#access-table")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"the page is {width} px wide at a 320 px viewport"
    context.close()


SCAN_WORDS = {
    "sv": ("1 sida, 1 problem", "Ny kaka före val: _ga", "Nytt problem: cookie _ga (example.se)"),
    "en": ("1 page, 1 problem", "New cookie before a choice: _ga", "New problem: cookie _ga"),
}


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_latest_scan_and_what_changed_since_the_previous(
    service: Service, scanned: str, browser: Any, lang: str
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(accept_downloads=True, locale=WORDS[lang]["locale"])
    page = context.new_page()
    _sign_in(page, service, scanned)
    page.click("#scans-show")
    latest, cookie, finding = SCAN_WORDS[lang]
    expect(page.locator("#scans-latest")).to_contain_text(latest)
    expect(page.locator("#scans-latest")).to_contain_text("https://www.example.se/sitemap.xml")
    expect(page.locator("#scans-latest")).to_have_class("bad")
    expect(page.locator("#scans-changes")).to_contain_text(cookie)
    expect(page.locator("#scans-changes")).to_contain_text(finding)
    with page.expect_download() as info:
        page.click("#scans-download")
    saved = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert saved["report"]["clean"] is False and saved["signature"].startswith("\u2014 ")
    assert saved["sha256"] in saved["statement"]
    context.close()
