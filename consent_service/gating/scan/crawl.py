"""The site-wide crawl: from a start page or a sitemap, every page in three phases, one report.

:func:`crawl` is the one entry point, for ``consent-service scan --crawl`` and for
anything that schedules scans: it takes a start URL, :class:`Bounds` and (optionally)
the site's declaration, and returns a :class:`CrawlReport` that serialises to JSON.

It reads ``robots.txt`` once (rules for ``kakor-scan``, else ``*``; from a start page,
the pages of the same-origin sitemaps its ``Sitemap:`` lines name join the start), then
visits pages breadth first on the start's origin only; each page runs its three phases at once
(:mod:`~consent_service.gating.scan.page_visit`). Without a declaration the first page's
kakor widget names the site and its public config is read, as in a one-URL scan.
Links into the consent service's own API (``…/v1/``) are not the site's pages and are
not visited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from consent_service.gating.chromium import DEFAULT_CHROMIUM
from consent_service.gating.cookiedb.database import CookieDatabase
from consent_service.gating.scan.browser import open_browser
from consent_service.gating.scan.crawl_report import CrawlReport
from consent_service.gating.scan.declaration_check import Sighting, check_declaration
from consent_service.gating.scan.declared import Declared, remote_declared
from consent_service.gating.scan.errors import ScanError
from consent_service.gating.scan.frontier import Bounds, Frontier, robots_from
from consent_service.gating.scan.observation import origin_of, unique_cookies
from consent_service.gating.scan.page_report import PageReport, judge_page
from consent_service.gating.scan.page_visit import PageVisit, visit
from consent_service.gating.scan.report import counted
from consent_service.gating.scan.sitemap import looks_like_sitemap, parse_sitemap

if TYPE_CHECKING:
    from urllib.robotparser import RobotFileParser

    from playwright.async_api import APIRequestContext, Browser, StorageState

#: Sitemaps read at most from one sitemap index (and its indexes, two levels deep).
MAX_SITEMAPS = 50
Progress = Callable[[str], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _fetch(request: APIRequestContext, url: str, timeout: float) -> tuple[int, bytes]:
    from playwright.async_api import Error as PlaywrightError

    try:
        answer = await request.get(url, timeout=timeout * 1000, max_redirects=5)
        return answer.status, await answer.body()
    except PlaywrightError as exc:
        raise ScanError(f"could not fetch {url}: {str(exc).splitlines()[0]}") from None


async def _sitemap_pages(
    request: APIRequestContext, url: str, origin: str, timeout: float, notes: list[str]
) -> list[str]:
    """The page URLs of the sitemap (or sitemap index) at ``url``; same-origin sitemaps only."""
    pages: list[str] = []
    queue, read = [(url, 0)], 0
    while queue and read < MAX_SITEMAPS:
        where, level = queue.pop(0)
        status, body = await _fetch(request, where, timeout)
        read += 1
        if status != 200:
            if where == url:
                raise ScanError(f"the sitemap {url} answered HTTP {status}")
            notes.append(f"sitemap {where} answered HTTP {status}; its pages were not read")
            continue
        sitemap = parse_sitemap(body, where)
        if not sitemap.index:
            pages += sitemap.locations
            continue
        for child in sitemap.locations:
            if origin_of(child) != origin:
                notes.append(f"sitemap {child} is on another origin; not read")
            elif level < 2:
                queue.append((child, level + 1))
    if queue:
        notes.append(f"more than {MAX_SITEMAPS} sitemaps; the rest were not read")
    return pages


async def _robots_sitemaps(
    request: APIRequestContext,
    robots: RobotFileParser | None,
    origin: str,
    bounds: Bounds,
    notes: list[str],
) -> list[str]:
    """The pages of the sitemaps robots.txt names (``Sitemap:``), on the site's origin:
    a crawl from a page then also reaches the pages no link leads to. One that cannot be
    read is a note, not the end of the crawl."""
    pages: list[str] = []
    for listed in (robots.site_maps() or []) if robots else []:
        if origin_of(listed) != origin:
            notes.append(f"robots.txt names the sitemap {listed} on another origin; not read")
            continue
        try:
            found = await _sitemap_pages(request, listed, origin, bounds.timeout, notes)
        except ScanError as exc:
            notes.append(f"robots.txt names the sitemap {listed}; not read: {exc}")
            continue
        notes.append(f"robots.txt names the sitemap {listed}: {counted(len(found), 'page')}")
        pages += found
    return pages


def _sightings(pages: list[PageReport]) -> list[Sighting]:
    found: dict[str, Sighting] = {}
    for page in pages:
        for o in page.observations:
            for c in unique_cookies(o.cookies):
                found.setdefault(c.name, Sighting(c.name)).saw(c.domain, page.url, o.phase)
    return list(found.values())


async def crawl(
    start: str,
    *,
    bounds: Bounds | None = None,
    declared: Declared | None = None,
    site: str | None = None,
    chromium: str = DEFAULT_CHROMIUM,
    database: CookieDatabase | None = None,
    progress: Progress | None = None,
    now: Callable[[], datetime] = _utc_now,
) -> CrawlReport:
    """Crawl the site from ``start`` (a page, or a sitemap ending in ``.xml``) within ``bounds``.

    ``declared`` is the site's declaration; without it the first page's widget names it.
    ``progress`` is called with a line per page as the crawl goes. ``now`` dates the
    report and the proposed site-file entries.
    """
    bounds = bounds or Bounds()
    origin = origin_of(start)
    if origin is None:
        raise ScanError(f"{start!r} is not an http(s) URL")
    if bounds.max_pages < 1 or bounds.max_depth < 0 or bounds.max_seconds <= 0:
        raise ScanError("bounds: --max-pages ≥ 1, --max-depth ≥ 0 and --max-time > 0")
    database = database or CookieDatabase.load()
    say = progress or (lambda _line: None)
    started_at, clock = now(), time.monotonic()
    notes: list[str] = []
    pages: list[PageReport] = []
    async with open_browser(chromium) as browser:
        api = await browser.new_context()
        try:
            status, body = await _fetch(api.request, f"{origin}/robots.txt", bounds.timeout)
            robots = robots_from(body.decode("utf-8", "replace")) if status == 200 else None
            if robots is None:
                notes.append(f"no robots.txt (HTTP {status}): every path may be visited")
            frontier = Frontier({origin}, robots, bounds.max_depth)
            if looks_like_sitemap(start):
                seeds = await _sitemap_pages(api.request, start, origin, bounds.timeout, notes)
                if not seeds:
                    notes.append(f"the sitemap {start} lists no pages")
            else:
                seeds = [start, *await _robots_sitemaps(api.request, robots, origin, bounds, notes)]
            for url in seeds:
                frontier.add(url, 0)
        finally:
            await api.close()
        decisions: dict[str, StorageState] = {}
        first_party = {origin}
        service_origin: str | None = None
        while True:
            if len(pages) >= bounds.max_pages:
                if frontier.pending():
                    notes.append(f"stopped at --max-pages {bounds.max_pages}")
                break
            if time.monotonic() - clock > bounds.max_seconds:
                notes.append(f"stopped at --max-time {bounds.max_seconds:g} s")
                break
            item = frontier.pop()
            if item is None:
                break
            url, depth, found_on = item
            say(f"[{len(pages) + 1}/{bounds.max_pages}] {url} (depth {depth})")
            if declared is None:
                page, declared = await _first_visit(browser, url, site, decisions, bounds, notes)
                if declared is None:
                    pages.append(
                        judge_page(page, depth, found_on, Declared.nothing(), None, first_party)
                    )
                    say(f"    not scanned: {page.error}")
                    continue
            else:
                page = await visit(
                    browser, url, declared, decisions, timeout=bounds.timeout, settle=bounds.settle
                )
            service_origin = _note_service(page, frontier, service_origin)
            before = page.recorders.get("before")
            if not pages and before is not None and before.page_origin != origin:
                # The start redirected (http → https, a www host): that origin is the site's too.
                first_party.add(before.page_origin)
                frontier.origins.add(before.page_origin)
                notes.append(f"{start} redirected to {before.page_origin}; both count as the site")
            not_a_page = _not_a_page(page)
            if not_a_page:
                frontier.skipped[url] = not_a_page
                say(f"    {not_a_page}")
                continue
            report = judge_page(page, depth, found_on, declared, service_origin, first_party)
            pages.append(report)
            if report.scanned and "before" in page.facts:
                for link in page.facts["before"].links:
                    frontier.add(link, depth + 1, url)
            say(f"    {_verdict(report)}")
    skipped = dict(frontier.skipped)
    for url in frontier.pending():
        skipped[url] = "not visited: a bound (--max-pages or --max-time) stopped the crawl"
    declared = declared or Declared.nothing()
    return CrawlReport(
        start=start,
        site=declared.site,
        started_at=started_at.isoformat(timespec="seconds"),
        seconds=time.monotonic() - clock,
        bounds=bounds,
        labels={
            "reject": declared.reject_labels[0] if declared.reject_labels else "Neka alla",
            "accept": declared.accept_labels[0] if declared.accept_labels else "Godkänn alla",
        },
        pages=pages,
        skipped=skipped,
        declaration=check_declaration(
            declared, _sightings(pages), database, today=started_at.date()
        ),
        cookie_database={"rows": len(database), **database.source},
        notes=notes,
    )


async def _first_visit(
    browser: Browser,
    url: str,
    site: str | None,
    decisions: dict[str, StorageState],
    bounds: Bounds,
    notes: list[str],
) -> tuple[PageVisit, Declared | None]:
    """The first page when no declaration was given: look first, read the one its widget names.

    The declaration is None when the page could not be loaded (the next page tries again).
    """
    page = await visit(
        browser, url, Declared.nothing(), decisions, phases=("before",),
        timeout=bounds.timeout, settle=bounds.settle,
    )  # fmt: skip
    recorder = page.recorders.get("before")
    if recorder is None:
        return page, None
    if recorder.widget:
        base, widget_site = recorder.widget
        declared = await remote_declared(browser, base, site or widget_site, bounds.timeout)
    else:
        declared = Declared.nothing()
        notes.append(
            "no kakor widget on the first page and no --config: nothing is declared, "
            "so every cookie and every other origin counts"
        )
    rest = await visit(
        browser, url, declared, decisions, phases=("reject", "accept"),
        timeout=bounds.timeout, settle=bounds.settle,
    )  # fmt: skip
    page.merge(rest)
    return page, declared


def _note_service(page: PageVisit, frontier: Frontier, known: str | None) -> str | None:
    """The consent service's origin once a page loads its widget; its API is never crawled."""
    if known is not None:
        return known
    for recorder in page.recorders.values():
        if recorder.widget:
            base = recorder.widget[0]
            frontier.excluded[f"{base}/v1/"] = "the consent service's own page, not the site's"
            return origin_of(base)
    return None


def _not_a_page(page: PageVisit) -> str | None:
    """Why what a link led to is not a page to judge (a JSON feed, a download), or None."""
    before = page.recorders.get("before")
    media_type = (before.media_type if before else "").split(";")[0].strip().lower()
    if media_type and "html" not in media_type:
        return f"not a page ({media_type})"
    if page.error and "Download is starting" in page.error:
        return "not a page (a download)"
    return None


def _verdict(report: PageReport) -> str:
    if not report.scanned:
        return f"not scanned: {report.error}"
    if report.clean:
        return "clean"
    return f"{len(report.findings)} problem(s): " + "; ".join(
        f.subject for f in report.findings[:3]
    )
