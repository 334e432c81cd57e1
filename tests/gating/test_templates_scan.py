"""Each service template on a page of its own, scanned in Debian's Chromium (C1, C2, C13, C14).

The site file says only ``service = "<template>"`` plus where the local stand-in for
the vendor's script lives (``template_pages/``: each sets the cookies the real vendor
sets, and records the consent calls it receives). The real service serves the real
widget; the crawl then shows that nothing is set or fetched before a choice or after
"Neka alla", and that after "Godkänn alla" every cookie the vendor sets is one the
template declares. A second test follows the vendor's consent calls through accept,
withdrawal and a reload.

The stand-ins are ours, not the vendors' code (no network here): what this shows is
that a template's declaration, categories and calls fit how the vendor behaves as
documented, and that the widget gates it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_service.cli.main import main
from consent_service.settings import DEMO_CONFIG

from ..browser.conftest import Service, start_service, stop_service
from ..browser.static_site import static_site
from .conftest import CHROMIUM
from .conftest import need_browser as _need_browser

pytestmark = pytest.mark.browser

STAND_INS = Path(__file__).parent / "template_pages"

#: Per template: its category on the fixture site, how the page embeds it, and the
#: cookies its stand-in sets (what the scan must find after "Godkänn alla").
TEMPLATES: dict[str, tuple[str, str, set[str]]] = {
    "matomo": ("statistics", "script", {"_pk_id.1.a1b2", "_pk_ses.1.a1b2", "_pk_ref.1.a1b2"}),
    "clarity": ("statistics", "script", {"_clck", "_clsk"}),
    "siteimprove": ("statistics", "script", {"nmstat", "siteimproveses"}),
    "hotjar": ("statistics", "script", {"_hjSessionUser_3141592", "_hjSession_3141592"}),
    "meta-pixel": ("marketing", "script", {"_fbp", "_fbc"}),
    "linkedin": ("marketing", "script", {"li_fat_id", "li_sugr", "_guid"}),
    "readspeaker": ("functional", "script", {"_rspkrLoadCore", "ReadSpeakerSettings"}),
    "youtube": ("third-party", "frame", set()),
    "vimeo": ("third-party", "frame", set()),
    "google-maps": ("third-party", "frame", set()),
}
CATEGORIES = {
    "statistics": ("Statistik", "Statistics"),
    "marketing": ("Marknadsföring", "Marketing"),
    "functional": ("Funktionella", "Functional"),
    "third-party": ("Tredjepartstjänster", "Third-party services"),
}
CALLS = ("matomo", "clarity", "meta-pixel")


def site_file(tmp: Path, origin: str, vendor: str) -> Path:
    """The demo's texts and necessary category, then one service per template."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    head = text[: text.index("[[sites.demo.categories]]", text.index('id = "necessary"') + 1)]
    head = head.replace('origins = ["self"]', f'origins = ["self", "{origin}"]')
    lines = [head]
    for category, (sv, en) in CATEGORIES.items():
        lines += [
            "[[sites.demo.categories]]",
            f'id = "{category}"',
            f'texts.sv = {{ title = "{sv}", description = "{sv}." }}',
            f'texts.en = {{ title = "{en}", description = "{en}." }}',
        ]
        for name, (where, kind, _) in TEMPLATES.items():
            if where != category:
                continue
            lines += ["[[sites.demo.categories.services]]", f'service = "{name}"']
            lines.append(f'origins = ["{vendor}"]')
            if kind == "script":
                lines.append(f'script = "{vendor}/{name}.js"')
    path = tmp / "templates.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def embed(name: str, vendor: str) -> str:
    """``name`` embedded the way its vendor documents, gated by the widget."""
    category, kind, _ = TEMPLATES[name]
    if kind == "frame":
        return (
            f'<iframe data-consent="{category}" data-src="{vendor}/{name}.html" '
            f'title="{name}" width="560" height="315"></iframe>'
        )
    return "".join(
        f'<script type="text/plain" data-consent="{category}" data-src="{vendor}/{src}"></script>'
        for src in ("_cookies.js", f"{name}.js")
    )


def fixture_page(title: str, body: str, service: str) -> str:
    """A page with the widget, ``body`` and a withdrawal control in the footer."""
    return (
        f'<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>{title}</title>'
        f'<script src="{service}/v1/sites/demo/widget.js" defer></script></head>'
        f"<body><main><h1>{title}</h1>{body}</main>"
        '<footer><a href="#" data-consent-open>Cookie-inställningar</a></footer></body></html>'
    )


@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Service]]:
    """The static site (pages on localhost, stand-ins on 127.0.0.1) and the service."""
    tmp = tmp_path_factory.mktemp("templates")
    stand_ins = {p.name: p.read_text(encoding="utf-8") for p in STAND_INS.iterdir()}
    with static_site(tmp / "www", stand_ins) as origin:
        vendor = origin.replace("localhost", "127.0.0.1")
        service = start_service(tmp, site_file(tmp, origin, vendor))
        try:
            pages = {f"{n}.html": fixture_page(n, embed(n, vendor), service.url) for n in TEMPLATES}
            links = "".join(f'<li><a href="/{n}.html">{n}</a></li>' for n in TEMPLATES)
            pages["index.html"] = fixture_page("Mallar", f"<ul>{links}</ul>", service.url)
            calls = "".join(embed(n, vendor) for n in CALLS)
            pages["calls.html"] = fixture_page("Anrop", calls, service.url)
            for path, body in pages.items():
                (tmp / "www" / path).write_text(body, encoding="utf-8")
            yield origin, vendor, service
        finally:
            stop_service(service)


@pytest.fixture(scope="module")
def crawl_report(fixture_site: tuple[str, str, Service]) -> dict[str, Any]:
    """One crawl of the index and every template page."""
    _need_browser()
    origin, _, _ = fixture_site
    out = fixture_site[2].log.parent / "templates-report.json"
    code = main(
        [
            "scan",
            "--crawl",
            f"{origin}/index.html",
            *("--json", str(out), "--quiet"),
            *("--chromium", CHROMIUM, "--timeout", "15"),
        ]
    )
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    report["exit_code"] = code
    return report


def _page(report: dict[str, Any], origin: str, name: str) -> dict[str, Any]:
    pages = {p["url"]: p for p in report["pages"]}
    page: dict[str, Any] = pages[f"{origin}/{name}.html"]
    return page


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_c1_c2_the_template_page_is_clean_and_its_cookies_are_declared(
    name: str, fixture_site: tuple[str, str, Service], crawl_report: dict[str, Any]
) -> None:
    origin, vendor, _ = fixture_site
    page = _page(crawl_report, origin, name)
    assert page["findings"] == [] and page["clean"] is True
    assert page["widget"] is True and page["withdrawal_control"] is True
    phases = page["phases"]
    assert all(phases[p]["ran"] for p in ("before", "reject", "accept"))
    for strict in ("before", "reject"):
        # C1: nothing of the vendor's before a choice or after "Neka alla".
        assert {c["name"] for c in phases[strict]["cookies"]} <= {"consent"}
        assert not [r for r in phases[strict]["other_origin_requests"] if r["origin"] == vendor]
    accepted = {c["name"] for c in phases["accept"]["cookies"]}
    # C2: the stand-in's cookies appear after "Godkänn alla", each one declared.
    assert TEMPLATES[name][2] <= accepted
    requested = {r["url"].split("?")[0] for r in phases["accept"]["other_origin_requests"]}
    suffix = ".js" if TEMPLATES[name][1] == "script" else ".html"
    assert f"{vendor}/{name}{suffix}" in requested


def test_the_crawl_of_the_template_pages_is_clean_with_nothing_undeclared(
    crawl_report: dict[str, Any],
) -> None:
    assert crawl_report["exit_code"] == 0 and crawl_report["clean"] is True
    assert len(crawl_report["pages"]) == len(TEMPLATES) + 1
    check = crawl_report["declaration"]
    assert check["undeclared"] == [] and check["bump_policy_version"] is None
    # What no stand-in sets stays listed as declared but never seen, as on a real site.
    assert "_pk_cvar.*" in check["never_seen"] and "_clck" not in check["never_seen"]


def _calls(page: Any) -> list[list[Any]]:
    calls: list[list[Any]] = page.evaluate("window.vendorLog || []")
    return calls


def test_vendor_calls_grant_after_the_record_and_deny_on_withdrawal(
    fixture_site: tuple[str, str, Service],
) -> None:
    """Matomo's queue, Clarity's stub and fbq hear each decision once, in order."""
    _need_browser()
    from playwright.sync_api import sync_playwright

    origin, _, _ = fixture_site
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"],
        )
        try:
            page = browser.new_context().new_page()
            posts: list[str] = []
            page.on("request", lambda r: posts.append(r.method) if "/consent" in r.url else None)
            page.goto(f"{origin}/calls.html")
            page.get_by_role("button", name="Godkänn alla").click()
            page.wait_for_function(
                "(window.vendorLog || []).filter(c => c[0] === 'fbq' || c[0] === 'clarity'"
                " || c[1] === 'rememberConsentGiven').length >= 2"
            )
            assert posts == ["POST"]
            calls = _calls(page)
            assert ["_paq", "rememberConsentGiven"] in calls
            assert ["clarity", "consent"] in calls
            # fbq was not on the page when consent came: skipped, not stubbed.
            assert not [c for c in calls if c[0] == "fbq"]
            assert page.evaluate("document.cookie").count("mtm_consent=") == 1
            # Withdrawal through the widget's own API, then "Neka alla".
            page.evaluate("window.kakor.show()")
            page.get_by_role("button", name="Neka alla").click()
            page.wait_for_function(
                "(window.vendorLog || []).some(c => c[1] === 'forgetConsentGiven')"
            )
            page.wait_for_function(
                "(window.vendorLog || []).some(c => c[0] === 'fbq' && c[2] === 'revoke')"
            )
            calls = _calls(page)
            assert ["clarity", "consent", False] in calls
            assert calls.count(["_paq", "rememberConsentGiven"]) == 1
            cookies = page.evaluate("document.cookie")
            assert "_pk_id" not in cookies and "_clck" not in cookies and "_fbp" not in cookies
            # After a reload the refusal is restored: the stand-ins never load, and the
            # queue Matomo would read holds the refusal, nothing else.
            page.reload()
            page.wait_for_function("window.kakor && window.kakor.vendorCalls === 3")
            assert page.evaluate("window.vendorLog") is None
            assert page.evaluate("JSON.stringify(window._paq)") == '[["forgetConsentGiven"]]'
            assert page.evaluate("JSON.stringify(window.clarity.q.map(a => Array.from(a)))") == (
                '[["consent",false]]'
            )
            assert page.evaluate("typeof window.fbq") == "undefined"
        finally:
            browser.close()
