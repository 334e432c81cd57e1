"""The declaration from the scan (C2, C15) and the crawl report's verdicts, no browser."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from consent_service.gating.cookiedb.database import CookieDatabase
from consent_service.gating.scan.crawl_html import render_html
from consent_service.gating.scan.crawl_report import CrawlReport
from consent_service.gating.scan.declaration_check import Sighting, check_declaration
from consent_service.gating.scan.declared import load_declared
from consent_service.gating.scan.frontier import Bounds
from consent_service.gating.scan.page_report import PageReport
from consent_service.gating.scan.report import Finding
from consent_service.sites import ConfigError, load_sites

from .crawl_site import site_config

YEAR_END = date(2026, 12, 31)
SV_TODO = '# purpose.sv = "…"  write it: the file does not load without it'


def seen(name: str, *phases: str) -> Sighting:
    s = Sighting(name)
    for phase in phases or ("accept",):
        s.saw("www.example.se", "https://www.example.se/", phase)
    return s


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return site_config(tmp_path, 8000)


def test_undeclared_cookies_are_named_with_what_the_database_knows_c2(config: Path) -> None:
    declared = load_declared(config, None)
    check = check_declaration(
        declared,
        [seen("_tr_id"), seen("consent", "reject", "accept"), seen("_ga_ABC"), seen("mystery")],
        CookieDatabase.load(),
        today=YEAR_END,
    )
    assert [u.sighting.name for u in check.undeclared] == ["_ga_ABC", "mystery"]
    ga = check.undeclared[0].to_dict()["open_cookie_database"]
    assert ga["platform"] == "Google Analytics" and ga["pattern"] == "_ga_*"
    assert check.undeclared[1].known is None
    # Declared, but no page set them: stale, or set where the crawl did not go.
    assert check.never_seen == ["_late", "_old_cookie"]
    assert check.bump is not None and "bump policy_version (now '2026-11-01')" in check.bump
    assert "# Proposed by `consent-service scan` on 2026-12-31 for site 'test'" in check.fragment
    assert "# --- under the category 'statistics' (Analytics in the database)" in check.fragment
    assert "# --- unknown to the Open Cookie Database" in check.fragment


def test_everything_declared_and_seen_needs_no_bump(config: Path) -> None:
    declared = load_declared(config, None)
    names = ["consent", "_tr_id", "_late", "_old_cookie"]
    check = check_declaration(
        declared, [seen(n) for n in names], CookieDatabase.load(), today=YEAR_END
    )
    assert (check.undeclared, check.never_seen, check.fragment, check.bump) == ([], [], "", None)


def test_the_proposal_loads_once_a_person_writes_the_swedish_purposes_c2(config: Path) -> None:
    declared = load_declared(config, None)
    sightings = [
        seen("_ga_ABC"),
        seen("_pk_id.1.a1"),
        seen("_pk_id.2.b2"),
        seen("_hjSessionUser_9"),
    ]
    fragment = check_declaration(
        declared, sightings, CookieDatabase.load(), today=YEAR_END
    ).fragment
    # One entry covers both Matomo visitor cookies (the database's "_pk_id." prefix).
    assert fragment.count('name = "_pk_id.*"') == 1
    assert 'lifetime = "13mo"' in fragment and 'purpose.en = "' in fragment
    # The database calls Hotjar's cookie Functional, but it appeared only after accepting.
    assert "under a category that needs consent: the database calls it Functional" in fragment
    pasted = config.read_text(encoding="utf-8") + "\n" + fragment
    config.write_text(pasted, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"purpose\.sv: missing"):
        load_sites(config)
    config.write_text(pasted.replace(SV_TODO, 'purpose.sv = "Svensk text."'), encoding="utf-8")
    load_sites(config)
    after = load_declared(config, None)
    assert all(after.cookie_category(s.name) == "statistics" for s in sightings)
    again = check_declaration(after, sightings, CookieDatabase.load(), today=YEAR_END)
    assert again.undeclared == [] and again.bump is None


def test_no_guessed_lifetime_and_no_necessary_category_for_an_accept_only_cookie(
    config: Path,
) -> None:
    declared = load_declared(config, None)
    fragment = check_declaration(
        declared, [seen("mtm_consent", "before")], CookieDatabase.load(), today=YEAR_END
    ).fragment
    assert '# lifetime = ?  the database says "forever": find out, write it' in fragment
    assert 'lifetime = "' not in fragment


def report_with(pages: list[PageReport]) -> CrawlReport:
    return CrawlReport(
        start="https://www.example.se/",
        site="test",
        started_at="2026-12-31T23:59:59+00:00",
        seconds=1.0,
        bounds=Bounds(),
        labels={"reject": "Neka alla", "accept": "Godkänn alla"},
        pages=pages,
        skipped={"https://www.example.se/private/": "disallowed by robots.txt"},
        declaration=None,
        cookie_database={"rows": 1},
    )


def test_exit_codes_clean_problems_incomplete() -> None:
    ok = PageReport("https://www.example.se/", 0, None, status=200)
    bad = PageReport("https://www.example.se/a", 1, "https://www.example.se/", status=200)
    bad.findings = [Finding("accept", "withdrawal", "no withdrawal control", "C13")]
    broken = PageReport("https://www.example.se/b", 1, None, error="the page answered HTTP 404")
    assert report_with([ok]).exit_code == 0
    assert report_with([ok, bad, broken]).exit_code == 1
    assert report_with([ok, broken]).exit_code == 3
    assert report_with([ok, broken]).to_dict()["summary"] == {
        "pages": 2, "clean_pages": 1, "failed_pages": 1, "problems": 0, "skipped": 1,
    }  # fmt: skip
    assert "INCOMPLETE: no problems, but 1 page failed." in report_with([ok, broken]).to_text()


def test_the_html_report_escapes_what_the_site_says_and_loads_nothing() -> None:
    evil = PageReport('https://www.example.se/"><script>alert(1)</script>', 0, None, status=200)
    evil.findings = [Finding("before", "cookie", "cookie <b>x</b> (h)", "set before consent")]
    evil.screenshot, evil.screenshot_phase = b"\xff\xd8jpeg", "before"
    page = render_html(report_with([evil]))
    assert "<script" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'src="data:image/jpeg;base64,/9hqcGVn"' in page
    # Self-contained: nothing to fetch, from the site or anywhere else.
    assert page.count("<img") == 1 and 'src="http' not in page
    assert "<link" not in page and "url(" not in page and "@import" not in page
