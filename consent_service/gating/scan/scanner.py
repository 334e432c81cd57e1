"""The leak scanner: prove a site sets nothing and calls no one before consent (C1, C2, C14).

``consent-service scan URL`` loads the page in headless Chromium, each phase in a fresh
browser context (an empty profile): **before** any choice, after **reject** all and after
**accept** all, clicking the banner's own buttons. It records every cookie, every
storage write (``localStorage``, ``sessionStorage``, ``document.cookie``, IndexedDB) and
every request to another origin, then compares them with what the site declares using
the rules of :mod:`consent_service.gating.scan.leaks`. Playwright is an optional extra
(``pip install 'consent-service[scan]'``) and drives Debian's Chromium; nothing is
downloaded.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from consent_service.gating.chromium import CHROMIUM_ARGS, DEFAULT_CHROMIUM
from consent_service.gating.scan.declared import Declared
from consent_service.gating.scan.leaks import analyse
from consent_service.gating.scan.observation import (
    CookieSeen,
    Observation,
    RequestSeen,
    StorageWrite,
    origin_of,
    parse_cookie_write,
)
from consent_service.gating.scan.report import Report
from consent_service.sites import load_sites

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Request

MISSING_PLAYWRIGHT = (
    "the scanner needs Playwright: pip install 'consent-service[scan]' and Debian's chromium "
    "(apt-get install chromium); it never downloads a browser"
)
_WIDGET = re.compile(
    r"^(?P<base>https?://[^/]+(?:/[^?#]*)?)/v1/sites/(?P<site>[a-z0-9-]+)/widget\.js"
)
#: How long the network must be quiet before a phase is considered settled, in seconds.
QUIET = 0.6

# Wraps every storage API a tracker could use before the page's own code runs, in
# every frame, and reports each write to the scanner through an exposed binding.
_INIT_SCRIPT = r"""
(() => {
  const record = (kind, key) => {
    try { window.__kakorScanRecord(kind, String(key), location.origin); } catch (e) {}
  };
  try {
    const setItem = Storage.prototype.setItem;
    Storage.prototype.setItem = function (key, value) {
      let kind = "storage";
      try { kind = this === window.sessionStorage ? "sessionStorage" : "localStorage"; } catch (e) {}
      record(kind, key);
      return setItem.call(this, key, value);
    };
  } catch (e) {}
  try {
    const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
    Object.defineProperty(Document.prototype, "cookie", {
      configurable: true,
      enumerable: cookie.enumerable,
      get() { return cookie.get.call(this); },
      set(value) { record("document.cookie", value); cookie.set.call(this, value); },
    });
  } catch (e) {}
  try {
    const open = IDBFactory.prototype.open;
    IDBFactory.prototype.open = function (name, ...rest) {
      record("indexedDB", name);
      return open.call(this, name, ...rest);
    };
  } catch (e) {}
})();
"""
_STORAGE_KEYS = """() => {
  const keys = (s) => { try { return Object.keys(window[s]); } catch (e) { return []; } };
  return {localStorage: keys("localStorage"), sessionStorage: keys("sessionStorage")};
}"""


class ScanError(Exception):
    """The scan could not run (no Playwright, no Chromium, page unreachable, bad arguments)."""


class _Recorder:
    """Collects one context's events, split at the moment the banner button is clicked."""

    def __init__(self, page_origin: str) -> None:
        self.page_origin = page_origin
        self.after_click = False
        self.observed = Observation("")
        self.in_flight = 0
        self.last_activity = 0.0
        self.widget: tuple[str, str] | None = None

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def on_request(self, request: Request) -> None:
        self.in_flight += 1
        self.last_activity = self._now()
        url = request.url
        match = _WIDGET.match(url)
        if match and self.widget is None:
            self.widget = (match["base"], match["site"])
        origin = origin_of(url)
        if origin is None or not self._counts():
            return
        self.observed.requests.append(RequestSeen(url, origin, request.resource_type))

    def on_done(self, request: Request) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.last_activity = self._now()

    def on_storage(self, kind: str, key: str, origin: str) -> None:
        if not self._counts():
            return
        if kind == "document.cookie":
            name = parse_cookie_write(key)
            if name is not None:
                host = urlsplit(origin).hostname or origin
                self.observed.cookies.append(CookieSeen(name, host, "document.cookie"))
            return
        self.observed.storage.append(StorageWrite(kind, key, origin))

    def _counts(self) -> bool:
        # In the reject and accept phases only what happens after the click counts; the
        # "before" phase is this same recorder with after_click set from the start.
        return self.after_click

    async def settle(self, limit: float) -> None:
        """Wait until no request has been in flight for :data:`QUIET` seconds (at most ``limit``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        self.last_activity = max(self.last_activity, loop.time())
        while loop.time() < deadline:
            if self.in_flight == 0 and loop.time() - self.last_activity >= QUIET:
                return
            await asyncio.sleep(0.05)


async def _jar(context: BrowserContext, recorder: _Recorder) -> None:
    for c in await context.cookies():
        recorder.observed.cookies.append(
            CookieSeen(c.get("name", ""), c.get("domain", "").lstrip("."), "browser")
        )


async def _storage_snapshot(page: Page, recorder: _Recorder) -> None:
    """Keys present in the main frame's storage (catches ``localStorage.x = …`` too)."""
    try:
        keys = await page.evaluate(_STORAGE_KEYS)
    except Exception:  # a page that navigated away has no storage to read
        return
    for kind in ("localStorage", "sessionStorage"):
        for key in keys.get(kind, []):
            write = StorageWrite(kind, str(key), recorder.page_origin)
            if write not in recorder.observed.storage:
                recorder.observed.storage.append(write)


async def _phase(
    browser: Browser,
    url: str,
    phase: str,
    labels: tuple[str, ...],
    timeout: float,
) -> tuple[Observation, _Recorder]:
    """Run one phase in a fresh context; for reject/accept, click the first button in ``labels``."""
    from playwright.async_api import Error as PlaywrightError

    page_origin = origin_of(url) or url
    recorder = _Recorder(page_origin)
    recorder.observed.phase = phase
    recorder.after_click = phase == "before"
    context = await browser.new_context(service_workers="block")
    try:
        await context.expose_binding(
            "__kakorScanRecord",
            lambda _source, kind, key, origin: recorder.on_storage(kind, key, origin),
        )
        await context.add_init_script(script=_INIT_SCRIPT)
        context.on("request", recorder.on_request)
        context.on("requestfinished", recorder.on_done)
        context.on("requestfailed", recorder.on_done)
        page = await context.new_page()
        page.set_default_timeout(timeout * 1000)
        try:
            await page.goto(url, wait_until="load", timeout=timeout * 1000)
        except PlaywrightError as exc:
            raise ScanError(f"could not load {url}: {str(exc).splitlines()[0]}") from None
        recorder.page_origin = origin_of(page.url) or page_origin
        await recorder.settle(timeout)
        if phase != "before":
            if not labels:
                recorder.observed.ran = False
                recorder.observed.note = "no banner labels known (no site declaration)"
                return recorder.observed, recorder
            pattern = re.compile("^(" + "|".join(re.escape(x) for x in labels) + ")$")
            button = page.get_by_role("button", name=pattern).first
            try:
                await button.wait_for(state="visible", timeout=min(timeout, 2.5) * 1000)
            except PlaywrightError:
                recorder.observed.ran = False
                recorder.observed.note = f'no visible "{labels[0]}" button: the banner did not show'
                return recorder.observed, recorder
            recorder.after_click = True
            await button.click()
            await recorder.settle(timeout)
            # A repeat visit with the decision in place: gated scripts must stay off (C14).
            await page.reload(wait_until="load")
            await recorder.settle(timeout)
        await _jar(context, recorder)
        await _storage_snapshot(page, recorder)
        return recorder.observed, recorder
    finally:
        await context.close()


def load_declared(config_path: Path, site_id: str | None) -> Declared:
    """The declaration of ``site_id`` (or the file's only site) from a local config file."""
    registry = load_sites(config_path)
    if site_id is None:
        sites = list(registry)
        if len(sites) != 1:
            raise ScanError(f"{config_path} has {len(sites)} sites; name one with --site")
        site_id = sites[0].id
    if site_id not in registry:
        raise ScanError(f"{config_path} has no site {site_id!r}")
    return Declared.from_config(registry.get(site_id).public_config(""))


async def _remote_declared(browser: Browser, base: str, site_id: str, timeout: float) -> Declared:
    from playwright.async_api import Error as PlaywrightError

    context = await browser.new_context()
    try:
        answer = await context.request.get(
            f"{base}/v1/sites/{site_id}/config", timeout=timeout * 1000
        )
        if not answer.ok:
            raise ScanError(f"the consent service answered {answer.status} for site {site_id!r}")
        return Declared.from_config(await answer.json())
    except PlaywrightError as exc:
        raise ScanError(f"could not read the site config: {str(exc).splitlines()[0]}") from None
    finally:
        await context.close()


async def run_scan(
    url: str,
    *,
    site: str | None = None,
    config_path: Path | None = None,
    chromium: str = DEFAULT_CHROMIUM,
    timeout: float = 30.0,
) -> Report:
    """Scan ``url`` in the three phases and analyse what it did.

    The declaration comes from ``config_path`` when given; otherwise from the consent
    service whose ``…/v1/sites/{site}/widget.js`` the page loads (its public config).
    """
    if origin_of(url) is None:
        raise ScanError(f"{url!r} is not an http(s) URL")
    declared = load_declared(config_path, site) if config_path else None
    try:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import async_playwright
    except ImportError:
        raise ScanError(MISSING_PLAYWRIGHT) from None
    if not Path(chromium).exists():
        raise ScanError(
            f"no Chromium at {chromium}; install Debian's chromium or pass --chromium PATH "
            "(or set CONSENT_CHROMIUM)"
        )
    start_origin = origin_of(url) or url
    async with async_playwright() as pw:
        try:
            browser = await pw.chromium.launch(
                executable_path=chromium, args=list(CHROMIUM_ARGS), headless=True
            )
        except PlaywrightError as exc:
            raise ScanError(f"could not start Chromium: {str(exc).splitlines()[0]}") from None
        try:
            notes: list[str] = []
            if declared is not None:
                # The declaration is known: the three phases are independent, run them at once.
                (before, recorder), reject, accept = await asyncio.gather(
                    _phase(browser, url, "before", (), timeout),
                    _phase(browser, url, "reject", declared.reject_labels, timeout),
                    _phase(browser, url, "accept", declared.accept_labels, timeout),
                )
            else:
                # The declaration comes from the widget the page loads: look first.
                before, recorder = await _phase(browser, url, "before", (), timeout)
                if recorder.widget:
                    base, widget_site = recorder.widget
                    declared = await _remote_declared(browser, base, site or widget_site, timeout)
                else:
                    declared = Declared.nothing()
                    notes.append(
                        "no kakor widget on the page and no --config: nothing is declared, so "
                        "every cookie and every other origin counts"
                    )
                reject, accept = await asyncio.gather(
                    _phase(browser, url, "reject", declared.reject_labels, timeout),
                    _phase(browser, url, "accept", declared.accept_labels, timeout),
                )
            service_origin = origin_of(recorder.widget[0]) if recorder.widget else None
            page_origin = recorder.page_origin
            if page_origin != start_origin:
                notes.append(f"{url} redirected to {page_origin}; both count as the page's origin")
            if recorder.widget is None and declared.site is not None:
                notes.append(f"the page does not load a kakor widget for site {declared.site!r}")
        finally:
            await browser.close()
    observations = [before, reject[0], accept[0]]
    labels = {
        "reject": declared.reject_labels[0] if declared.reject_labels else "Neka alla",
        "accept": declared.accept_labels[0] if declared.accept_labels else "Godkänn alla",
    }
    return Report(
        url=url,
        site=declared.site,
        page_origin=page_origin,
        service_origin=service_origin,
        labels=labels,
        observations=observations,
        findings=analyse(
            declared, page_origin, service_origin, observations, first_party=[start_origin]
        ),
        notes=notes,
    )
