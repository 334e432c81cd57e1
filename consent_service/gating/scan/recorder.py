"""Records what a page does in one browser context, as an :class:`Observation`.

An init script wraps every storage API a tracker could use, in every frame, before the
page's own code runs, and reports each write through an exposed binding; the context's
request events give every request. At the end of a phase the cookie jar and the main
frame's storage keys are added, which also catches writes no wrapper sees
(``localStorage.x = …``).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from consent_service.gating.scan.observation import (
    CookieSeen,
    Observation,
    RequestSeen,
    StorageWrite,
    origin_of,
    parse_cookie_write,
)

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page, Request

#: How long the network must be quiet before a phase is considered settled, in seconds.
QUIET = 0.6
#: The name the init script reports storage writes to; it must match the script.
BINDING = "__kakorScanRecord"
_WIDGET = re.compile(
    r"^(?P<base>https?://[^/]+(?:/[^?#]*)?)/v1/sites/(?P<site>[a-z0-9-]+)/widget\.js"
)

# Storage.setItem, the document.cookie setter and indexedDB.open, each wrapped to report
# to BINDING first; every wrapper is in a try so that a page never breaks because of it.
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
# The keys in the main frame's storage, read when a phase ends.
_STORAGE_KEYS = """() => {
  const keys = (s) => { try { return Object.keys(window[s]); } catch (e) { return []; } };
  return {localStorage: keys("localStorage"), sessionStorage: keys("sessionStorage")};
}"""


class Recorder:
    """Collects one context's events, split at the moment the banner button is clicked.

    In the reject and accept phases only what happens after the click counts; in the
    "before" phase everything does, from the start.
    """

    def __init__(self, page_origin: str, phase: str, *, decided: bool = False) -> None:
        self.page_origin = page_origin
        #: A phase that starts with the decision already in place counts from the start.
        self.after_click = phase == "before" or decided
        self.observed = Observation(phase)
        self.in_flight = 0
        self.last_activity = 0.0
        #: The consent service's base URL and the site id of the kakor widget the page loads.
        self.widget: tuple[str, str] | None = None
        #: The main document's HTTP status and media type, as the last load answered.
        self.status: int | None = None
        self.media_type = ""
        #: Set once the phase has taken stock: what the page does later (while the crawl
        #: takes its screenshot) is not part of the phase.
        self.stopped = False

    async def attach(self, context: BrowserContext) -> None:
        """Start recording ``context``: call before the context opens a page."""
        await context.expose_binding(
            BINDING, lambda _source, kind, key, origin: self.on_storage(kind, key, origin)
        )
        await context.add_init_script(script=_INIT_SCRIPT)
        context.on("request", self.on_request)
        context.on("requestfinished", self.on_done)
        context.on("requestfailed", self.on_done)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def on_request(self, request: Request) -> None:
        """A request started: note the widget if it is one, and the request if it counts."""
        self.in_flight += 1
        self.last_activity = self._now()
        url = request.url
        match = _WIDGET.match(url)
        if match and self.widget is None:
            self.widget = (match["base"], match["site"])
        origin = origin_of(url)
        if origin is None or not self.after_click or self.stopped:
            return
        self.observed.requests.append(RequestSeen(url, origin, request.resource_type))

    def on_done(self, request: Request) -> None:
        """A request finished or failed."""
        self.in_flight = max(0, self.in_flight - 1)
        self.last_activity = self._now()

    def on_storage(self, kind: str, key: str, origin: str) -> None:
        """The init script saw a write (for ``document.cookie``, ``key`` is the assignment)."""
        if not self.after_click or self.stopped:
            return
        if kind == "document.cookie":
            name = parse_cookie_write(key)
            if name is not None:
                host = urlsplit(origin).hostname or origin
                self.observed.cookies.append(CookieSeen(name, host, "document.cookie"))
            return
        self.observed.storage.append(StorageWrite(kind, key, origin))

    async def settle(self, limit: float, window: float = 0.0) -> None:
        """Wait for network quiet, then ``window`` more seconds without activity (at most ``limit``).

        Quiet is :data:`QUIET` seconds with no request in flight. Late trackers fire from a
        timer after the page has gone quiet; the settle window keeps watching for them, and
        any request in it starts the wait again, so a chain of late requests is followed to
        its end (but never past ``limit``).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        self.last_activity = max(self.last_activity, loop.time())
        needed = max(QUIET, window)
        while loop.time() < deadline:
            if self.in_flight == 0 and loop.time() - self.last_activity >= needed:
                return
            await asyncio.sleep(0.05)

    async def take_stock(self, context: BrowserContext, page: Page) -> None:
        """Add what the phase leaves behind: the cookie jar and the main frame's storage keys."""
        for c in await context.cookies():
            self.observed.cookies.append(
                CookieSeen(c.get("name", ""), c.get("domain", "").lstrip("."), "browser")
            )
        try:
            keys = await page.evaluate(_STORAGE_KEYS)
        except Exception:  # a page that navigated away has no storage to read
            keys = {}
        for kind in ("localStorage", "sessionStorage"):
            for key in keys.get(kind, []):
                write = StorageWrite(kind, str(key), self.page_origin)
                if write not in self.observed.storage:
                    self.observed.storage.append(write)
        self.stopped = True
