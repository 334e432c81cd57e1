"""``scan --crawl`` in Debian's Chromium over a real multi-page site (C1, C2, C13, C14).

The fixture site (:mod:`.crawl_site`) has a sitemap index, robots.txt, a page without
a withdrawal control, a late tracker, an undeclared cookie and an off-origin link; the
server logs every request, so "not followed" is checked where it happens.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from consent_service.cli.main import main
from consent_service.gating.scan.crawl import crawl
from consent_service.gating.scan.declared import load_declared
from consent_service.gating.scan.frontier import Bounds

from .conftest import CHROMIUM, need_browser
from .crawl_site import Site, serve_site, site_config
from .servers import free_port

pytestmark = pytest.mark.browser

#: The crawl's clock: a year end, so the report and the proposal carry that date.
YEAR_END = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_site() as running:
        yield running


def crawl_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    """``consent-service scan --crawl … --format json`` in process: exit code, report, stderr."""
    argv = ["scan", "--crawl", *args, "--format", "json", "--chromium", CHROMIUM, "--timeout", "15"]
    code = main(argv, now=lambda: YEAR_END)
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def by_url(report: dict[str, Any], base: str) -> dict[str, dict[str, Any]]:
    return {p["url"].removeprefix(base): p for p in report["pages"]}


def found(page: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["phase"], f["kind"], f["subject"]) for f in page["findings"]]


def test_a_crawl_reports_every_page_and_the_declaration_c1_c2_c13(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_browser()
    config = site_config(tmp_path, site.port)
    out = tmp_path / "out"
    json_path, html_path, toml_path = (
        out / "report.json",
        out / "report.html",
        out / "proposed.toml",
    )
    code, report, err = crawl_cli(
        capsys,
        f"{site.base}/",
        "--config",
        str(config),
        "--json",
        str(json_path),
        "--html",
        str(html_path),
        "--propose",
        str(toml_path),
    )
    assert code == 1
    assert report["exit_code"] == 1 and report["clean"] is False
    assert report["started_at"] == "2026-12-31T23:59:59+00:00"
    pages = by_url(report, site.base)
    assert set(pages) == {
        "/",
        "/about.html",
        "/no-control.html",
        "/late.html",
        "/undeclared.html",
        "/orphan.html",
    }
    # robots.txt's Sitemap: lines reach the page no link leads to; the sitemap on another
    # origin is never fetched, the missing one is said.
    assert pages["/orphan.html"]["depth"] == 0 and pages["/orphan.html"]["found_on"] is None
    assert pages["/orphan.html"]["clean"]
    notes = report["notes"]
    assert f"robots.txt names the sitemap {site.base}/sitemap-orphans.xml: 1 page" in notes
    tracker_sitemap = f"http://127.0.0.1:{site.port}/sitemap-offsite.xml"
    assert f"robots.txt names the sitemap {tracker_sitemap} on another origin; not read" in notes
    assert any(
        n.startswith(f"robots.txt names the sitemap {site.base}/sitemap-gone.xml; not read: ")
        and "HTTP 404" in n
        for n in notes
    )
    assert "/sitemap-offsite.xml" not in site.paths("127.0.0.1")
    assert pages["/undeclared.html"]["depth"] == 2
    assert pages["/undeclared.html"]["found_on"] == f"{site.base}/about.html"
    assert pages["/"]["clean"] and pages["/about.html"]["clean"]
    assert pages["/"]["withdrawal_control"] is True
    # Reject and accept on later pages start from the decision the first page's click left.
    accepted = {c["name"] for c in pages["/about.html"]["phases"]["accept"]["cookies"]}
    assert accepted == {"consent", "_tr_id"}
    assert pages["/about.html"]["phases"]["reject"]["cookies"][0]["name"] == "consent"
    tracker = f"http://127.0.0.1:{site.port}"
    assert {
        r["origin"] for r in pages["/about.html"]["phases"]["accept"]["other_origin_requests"]
    } == {tracker}
    # PTS: a way to withdraw on every page.
    assert pages["/no-control.html"]["withdrawal_control"] is False
    assert found(pages["/no-control.html"]) == [("accept", "withdrawal", "no withdrawal control")]
    detail = pages["/no-control.html"]["findings"][0]["detail"]
    assert "reachable by keyboard" in detail and "C13" in detail
    # The late tracker fires 1.5 s after load, before any choice: the settle window sees it.
    late = found(pages["/late.html"])
    assert ("before", "cookie", "cookie _late (localhost)") in late
    assert ("before", "request", f"requests to {tracker}") in late
    assert ("reject", "cookie", "cookie _late (localhost)") in late
    # Gated correctly, but not declared (C2).
    assert found(pages["/undeclared.html"]) == [
        ("accept", "cookie", "cookie _hjSessionUser_123 (localhost)")
    ]
    # Not followed: robots.txt, another origin, a file; and never even requested.
    skipped = {s["url"].removeprefix(site.base): s["reason"] for s in report["skipped"]}
    assert skipped["/private/secret.html"] == "disallowed by robots.txt"
    assert skipped[f"{tracker}/offsite.html"].startswith("another origin")
    assert skipped["/report.pdf"].startswith("not a page")
    assert skipped["/feed"] == "not a page (application/json)"  # loaded, then seen not to be one
    assert "/private/secret.html" not in site.paths()
    assert "/offsite.html" not in site.paths("127.0.0.1")
    # The declaration from the scan.
    check = report["declaration"]
    assert [u["name"] for u in check["undeclared"]] == ["_hjSessionUser_123"]
    assert check["undeclared"][0]["open_cookie_database"]["platform"] == "Hotjar"
    assert check["never_seen"] == ["_old_cookie"]
    assert "bump policy_version (now '2026-11-01')" in check["bump_policy_version"]
    assert 'name = "_hjSessionUser_*"' in check["proposed_toml"]
    assert "on 2026-12-31 for site 'test'" in check["proposed_toml"]
    assert toml_path.read_text(encoding="utf-8") == check["proposed_toml"]
    # Progress went to stderr, one line per page as it starts.
    assert f"[1/50] {site.base}/ (depth 0)" in err
    assert err.count("[") >= 5
    # The files: the same JSON, and an HTML page that needs nothing else.
    assert json.loads(json_path.read_text(encoding="utf-8")) == report
    html = html_path.read_text(encoding="utf-8")
    assert "6 problems on 3 pages." in html
    images = re.findall(r'<img [^>]*src="([^"]*)"', html)
    assert len(images) == 3 and all(src.startswith("data:image/jpeg;base64,") for src in images)
    assert "<script" not in html and "<link" not in html
    assert "_hjSessionUser_123" in html and "no withdrawal control" in html


def test_a_sitemap_index_seeds_the_crawl_and_robots_txt_still_holds(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_browser()
    config = site_config(tmp_path, site.port)
    code, report, err = crawl_cli(
        capsys, f"{site.base}/sitemap.xml", "--config", str(config), "--max-depth", "0", "--quiet"
    )
    assert code == 1  # the late tracker
    assert set(by_url(report, site.base)) == {"/", "/about.html", "/late.html"}
    skipped = {s["url"].removeprefix(site.base): s["reason"] for s in report["skipped"]}
    assert skipped["/private/secret.html"] == "disallowed by robots.txt"
    assert skipped["/no-control.html"] == "deeper than --max-depth 0"
    assert err == ""


def test_the_settle_window_is_what_catches_a_late_tracker(site: Site, tmp_path: Path) -> None:
    need_browser()
    declared = load_declared(site_config(tmp_path, site.port), None)

    def once(settle: float) -> list[tuple[str, str, str]]:
        bounds = Bounds(max_pages=1, max_depth=0, settle=settle, timeout=15)
        report = asyncio.run(
            crawl(
                f"{site.base}/later.html",
                bounds=bounds,
                declared=declared,
                chromium=CHROMIUM,
                now=lambda: YEAR_END,
            )
        )
        return [(f.phase, f.kind, f.subject) for f in report.pages[0].findings]

    assert ("before", "cookie", "cookie _late (localhost)") in once(5.0)
    # Without the window a phase takes stock after 0.6 s of quiet: the tracker is missed.
    assert ("before", "cookie", "cookie _late (localhost)") not in once(0.0)


def test_exit_3_when_a_page_cannot_be_scanned_but_nothing_leaks(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_browser()
    config = site_config(tmp_path, site.port)
    code, report, _ = crawl_cli(
        capsys, f"{site.base}/clean-broken.html", "--config", str(config), "--max-depth", "1"
    )
    assert code == 3
    pages = by_url(report, site.base)
    assert pages["/clean-broken.html"]["clean"] is True
    assert pages["/missing.html"]["error"] == "the page answered HTTP 404"
    assert report["summary"]["failed_pages"] == 1
    # The text summary, as a person reads it in a CI log.
    argv = ["scan", "--crawl", f"{site.base}/clean-broken.html", "--config", str(config), "--quiet"]
    assert main([*argv, "--max-depth", "1", "--chromium", CHROMIUM], now=lambda: YEAR_END) == 3
    text = capsys.readouterr().out
    assert f"  {site.base}/missing.html: not scanned: the page answered HTTP 404" in text
    assert "INCOMPLETE: no problems, but 1 page failed." in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-pages", "0"], "bounds: --max-pages ≥ 1"),
        (["--max-depth", "-1"], "bounds: --max-pages ≥ 1"),
    ],
)
def test_bad_bounds_exit_2_before_any_browser(
    site: Site, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, report, err = crawl_cli(capsys, f"{site.base}/", *args)
    assert (code, report) == (2, {})
    assert message in err


def test_an_unreachable_site_or_a_missing_sitemap_exits_2(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    need_browser()
    closed = free_port()
    code, _, err = crawl_cli(capsys, f"http://127.0.0.1:{closed}/")
    assert code == 2 and f"could not fetch http://127.0.0.1:{closed}/robots.txt" in err
    code, _, err = crawl_cli(capsys, f"{site.base}/nope.xml")
    assert code == 2 and f"the sitemap {site.base}/nope.xml answered HTTP 404" in err
    code, _, err = crawl_cli(capsys, "ftp://example.se/")
    assert code == 2 and "is not an http(s) URL" in err


def test_a_crawl_of_the_demo_site_is_clean_c1_c2_c13(
    demo_server: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped demo, its declaration read from the widget's service: clean, exit 0."""
    need_browser()
    base = demo_server()
    code, report, _ = crawl_cli(capsys, f"{base}/")
    assert report["site"] == "demo"
    assert [p["findings"] for p in report["pages"]] == [[]]
    assert code == 0 and report["clean"] is True
    page = report["pages"][0]
    assert page["widget"] is True and page["withdrawal_control"] is True
    assert all(page["phases"][p]["ran"] for p in ("before", "reject", "accept"))
    assert {"_pk_id", "_pk_ses", "consent"} <= {
        c["name"] for c in page["phases"]["accept"]["cookies"]
    }
    # The declaration page is the consent service's, not the site's: listed, not crawled.
    skipped = {s["url"]: s["reason"] for s in report["skipped"]}
    assert skipped[f"{base}/v1/sites/demo/declaration?lang=sv"].startswith(
        "the consent service's own"
    )
    assert report["declaration"]["undeclared"] == []
