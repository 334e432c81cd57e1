"""Which pages a crawl visits (same origin, robots.txt, depth, no repeats) and sitemaps, no browser."""

from __future__ import annotations

import pytest

from consent_service.gating.scan.errors import ScanError
from consent_service.gating.scan.frontier import Frontier, normalise, robots_from
from consent_service.gating.scan.sitemap import looks_like_sitemap, parse_sitemap

SITE = "https://www.example.se"
ROBOTS = "User-agent: *\nDisallow: /private/\n"


def frontier(depth: int = 2, robots: str | None = ROBOTS) -> Frontier:
    return Frontier({SITE}, robots_from(robots) if robots is not None else None, depth)


def test_normalise_drops_the_fragment_and_keeps_the_query() -> None:
    assert normalise("https://WWW.Example.se/a?b=1#top") == "https://www.example.se/a?b=1"
    assert normalise("https://www.example.se") == "https://www.example.se/"
    assert normalise("mailto:info@example.se") is None
    assert normalise("javascript:void(0)") is None


def test_the_crawl_stays_on_the_site_and_visits_each_page_once() -> None:
    f = frontier()
    assert f.add(f"{SITE}/", 0)
    assert not f.add(f"{SITE}/#innehall", 1)  # the same page
    assert not f.add("https://tracker.example.com/page", 1)
    assert not f.add("http://www.example.se/", 1)  # another scheme is another origin
    assert f.skipped["https://tracker.example.com/page"].startswith("another origin")
    assert f.pop() == (f"{SITE}/", 0, None)
    assert f.pop() is None


def test_robots_txt_is_honoured_for_everyone_and_for_kakor_scan() -> None:
    f = frontier()
    assert not f.add(f"{SITE}/private/x.html", 1)
    assert f.add(f"{SITE}/public.html", 1)
    assert f.skipped[f"{SITE}/private/x.html"] == "disallowed by robots.txt"
    assert frontier(robots=None).add(f"{SITE}/private/x.html", 1)
    # A group that names kakor-scan is the one it follows (RFC 9309: the most specific group).
    own = frontier(robots=ROBOTS + "\nUser-agent: kakor-scan\nDisallow: /no-scanners/\n")
    assert not own.add(f"{SITE}/no-scanners/", 1)
    assert own.add(f"{SITE}/private/x.html", 1)


def test_depth_files_and_excluded_prefixes_are_not_visited_breadth_first() -> None:
    f = frontier(depth=1)
    f.excluded[f"{SITE}/v1/"] = "the consent service's own page"
    assert f.add(f"{SITE}/a", 1, f"{SITE}/")
    assert not f.add(f"{SITE}/b", 2, f"{SITE}/a")
    assert not f.add(f"{SITE}/report.PDF", 1)
    assert not f.add(f"{SITE}/v1/sites/demo/declaration?lang=sv", 1)
    assert f.add(f"{SITE}/c", 1, f"{SITE}/")
    assert f.skipped == {
        f"{SITE}/b": "deeper than --max-depth 1",
        f"{SITE}/report.PDF": "not a page (a file by its extension)",
        f"{SITE}/v1/sites/demo/declaration?lang=sv": "the consent service's own page",
    }
    assert [f.pop(), f.pop()] == [(f"{SITE}/a", 1, f"{SITE}/"), (f"{SITE}/c", 1, f"{SITE}/")]


def test_a_sitemap_and_a_sitemap_index_are_read() -> None:
    urlset = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc> https://www.example.se/ </loc><lastmod>2026-11-30</lastmod></url>"
        b"<url><loc>https://www.example.se/a</loc></url><url><loc>https://www.example.se/a</loc></url>"
        b"</urlset>"
    )
    parsed = parse_sitemap(urlset, "sitemap.xml")
    assert parsed.index is False
    assert parsed.locations == ("https://www.example.se/", "https://www.example.se/a")
    index = (
        b"<sitemapindex><sitemap><loc>https://www.example.se/s1.xml</loc></sitemap></sitemapindex>"
    )
    assert parse_sitemap(index, "i.xml").index is True
    assert parse_sitemap(index, "i.xml").locations == ("https://www.example.se/s1.xml",)
    assert looks_like_sitemap("https://www.example.se/sitemap_index.xml?x=1")
    assert not looks_like_sitemap("https://www.example.se/")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body>no</body></html>", "not a sitemap (<html>"),
        (b"<urlset><url>", "not XML"),
        (b"", "not XML"),
    ],
)
def test_what_is_not_a_sitemap_is_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ScanError, match=message.replace("(", r"\(")):
        parse_sitemap(data, "https://www.example.se/sitemap.xml")
