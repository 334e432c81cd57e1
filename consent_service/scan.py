"""The leak scanner: prove a site sets nothing and calls no one before consent (C1, C2, C14).

``consent-service scan URL`` loads the page in headless Chromium, each phase in a fresh
browser context (an empty profile): **before** any choice, after **reject** all and after
**accept** all, clicking the banner's own buttons. It records every cookie, every
storage write (``localStorage``, ``sessionStorage``, ``document.cookie``, IndexedDB) and
every request to another origin, then compares them with what the site declares:

- before any choice, only cookies and storage of the *necessary* category may appear,
  and only the page's origin, the consent service's and the necessary services' origins
  may be contacted;
- after reject, the same;
- in every phase, every cookie must be declared by some service.

:func:`analyse` is a pure function of the observations and the declaration, so the
rules are tested without a browser. Playwright is an optional extra
(``pip install 'consent-service[scan]'``) and drives Debian's Chromium; nothing is
downloaded.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .sites import load_sites

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Request

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PHASES = ("before", "reject", "accept")
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


@dataclass(frozen=True)
class Declared:
    """What a site declares: its cookies and service origins by category, and its button labels."""

    site: str | None
    cookies: Mapping[str, str]
    origins: Mapping[str, str]
    required: frozenset[str]
    accept_labels: tuple[str, ...]
    reject_labels: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Declared:
        """From a site's public config (``GET /v1/sites/{site}/config`` or ``Site.public_config``)."""
        cookies: dict[str, str] = {}
        origins: dict[str, str] = {}
        required = set()
        for category in config["categories"]:
            if category["required"]:
                required.add(category["id"])
            for service in category["services"]:
                for name in service.get("origins", []):
                    origins.setdefault(name, category["id"])
                script_origin = _origin(service.get("script") or "")
                if script_origin:
                    origins.setdefault(script_origin, category["id"])
                for k in service.get("cookies", []):
                    cookies.setdefault(k["name"], category["id"])
        languages = [config.get("default_language"), *config.get("languages", [])]
        texts = config.get("texts", {})
        ordered = [lang for lang in dict.fromkeys(languages) if lang in texts]
        return cls(
            site=config.get("site"),
            cookies=cookies,
            origins=origins,
            required=frozenset(required),
            accept_labels=tuple(dict.fromkeys(texts[lang]["accept_all"] for lang in ordered)),
            reject_labels=tuple(dict.fromkeys(texts[lang]["reject_all"] for lang in ordered)),
        )

    @classmethod
    def nothing(cls) -> Declared:
        """No declaration at all: every cookie and every other origin is a finding."""
        return cls(None, {}, {}, frozenset(), (), ())

    def cookie_category(self, name: str) -> str | None:
        """The category of the declared cookie ``name`` matches (``*`` is a wildcard), or None."""
        if name in self.cookies:
            return self.cookies[name]
        for pattern, category in self.cookies.items():
            if "*" in pattern and fnmatch.fnmatchcase(name, pattern):
                return category
        return None

    def necessary_cookie(self, name: str) -> bool:
        """Whether ``name`` is declared in a required category."""
        return self.cookie_category(name) in self.required

    def necessary_origin(self, origin: str) -> bool:
        """Whether a required category's service loads from ``origin``."""
        return self.origins.get(origin) in self.required


@dataclass(frozen=True)
class CookieSeen:
    """A cookie present in the browser, or written through ``document.cookie``."""

    name: str
    domain: str
    source: str


@dataclass(frozen=True)
class StorageWrite:
    """A write to ``localStorage``, ``sessionStorage`` or an IndexedDB open, by origin."""

    kind: str
    key: str
    origin: str


@dataclass(frozen=True)
class RequestSeen:
    """A request the page made, with the origin it went to."""

    url: str
    origin: str
    resource_type: str


@dataclass
class Observation:
    """Everything one phase saw; ``ran`` is False when the phase could not be run."""

    phase: str
    ran: bool = True
    note: str | None = None
    cookies: list[CookieSeen] = field(default_factory=list)
    storage: list[StorageWrite] = field(default_factory=list)
    requests: list[RequestSeen] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    """One leak: what, in which phase, and why it is one."""

    phase: str
    kind: str
    subject: str
    detail: str


@dataclass
class Report:
    """The scan's result: observations per phase, findings, and notes."""

    url: str
    site: str | None
    page_origin: str
    service_origin: str | None
    labels: dict[str, str]
    observations: list[Observation]
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when nothing leaked."""
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``--format json``)."""
        return {
            "url": self.url,
            "site": self.site,
            "clean": self.clean,
            "page_origin": self.page_origin,
            "service_origin": self.service_origin,
            "phases": {
                o.phase: {
                    "ran": o.ran,
                    "note": o.note,
                    "cookies": [asdict(c) for c in o.cookies],
                    "storage": [asdict(s) for s in o.storage],
                    "requests": [asdict(r) for r in o.requests],
                }
                for o in self.observations
            },
            "findings": [asdict(f) for f in self.findings],
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        """The report for a person (the default output)."""
        lines = [f"kakor scan of {self.url}" + (f" (site {self.site})" if self.site else "")]
        for o in self.observations:
            title = phase_title(o.phase, self.labels)
            if not o.ran:
                lines.append(f"  {title}: not run ({o.note})")
                continue
            third = [r for r in o.requests if r.origin != self.page_origin]
            origins = sorted({r.origin for r in third})
            elsewhere = (
                f"{len(third)} to {_count(len(origins), 'other origin')}{_names(origins)}"
                if third
                else "none to other origins"
            )
            cookies = _unique_cookies(o.cookies)
            lines.append(
                f"  {title}: {_count(len(cookies), 'cookie')}{_names(c.name for c in cookies)}, "
                f"{_count(len(o.storage), 'storage write')}, "
                f"{_count(len(o.requests), 'request')}, {elsewhere}"
            )
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.clean:
            lines.append("CLEAN: nothing was stored or sent before consent or after refusal, ")
            lines[-1] += "and every cookie is declared."
        else:
            lines.append(f"LEAKS ({len(self.findings)}):")
            for f in self.findings:
                lines.append(f"  [{phase_title(f.phase, self.labels)}] {f.subject}: {f.detail}")
        return "\n".join(lines)


def phase_title(phase: str, labels: Mapping[str, str]) -> str:
    """``before any choice`` / ``after "Neka alla"`` / ``after "Godkänn alla"``."""
    if phase == "before":
        return "before any choice"
    return f'after "{labels.get(phase, phase)}"'


def analyse(
    declared: Declared,
    page_origin: str,
    service_origin: str | None,
    observations: Iterable[Observation],
) -> list[Finding]:
    """The leaks in ``observations`` given what the site declares (pure; see module docs)."""
    findings: list[Finding] = []
    allowed_origins = {page_origin, *([service_origin] if service_origin else [])}
    for o in observations:
        if not o.ran:
            continue
        strict = o.phase in ("before", "reject")
        when = "before consent" if o.phase == "before" else "after refusal"
        for c in _unique_cookies(o.cookies):
            category = declared.cookie_category(c.name)
            subject = f"cookie {c.name} ({c.domain})"
            if category is None:
                reason = "not declared by any service"
                if strict:
                    reason = f"set {when}, and {reason}"
                findings.append(Finding(o.phase, "cookie", subject, reason))
            elif strict and category not in declared.required:
                findings.append(
                    Finding(o.phase, "cookie", subject, f"set {when}; declared as {category}")
                )
        if not strict:
            continue
        for s in _unique_storage(o.storage):
            if not declared.necessary_cookie(s.key):
                findings.append(
                    Finding(
                        o.phase,
                        "storage",
                        f"{s.kind} {s.key!r} ({s.origin})",
                        f"written {when}; not declared as necessary",
                    )
                )
        by_origin: dict[str, list[RequestSeen]] = {}
        for r in o.requests:
            if r.origin in allowed_origins or declared.necessary_origin(r.origin):
                continue
            by_origin.setdefault(r.origin, []).append(r)
        for origin, requests in by_origin.items():
            category = declared.origins.get(origin)
            why = f"declared for {category}" if category else "not declared by any service"
            findings.append(
                Finding(
                    o.phase,
                    "request",
                    f"requests to {origin}",
                    f"{_count(len(requests), 'request')} {when} ({why}), "
                    f"first {requests[0].url[:200]}",
                )
            )
    return findings


def _unique_cookies(cookies: Iterable[CookieSeen]) -> list[CookieSeen]:
    seen: dict[tuple[str, str], CookieSeen] = {}
    for c in cookies:
        seen.setdefault((c.name, c.domain), c)
    return list(seen.values())


def _unique_storage(writes: Iterable[StorageWrite]) -> list[StorageWrite]:
    return list(dict.fromkeys(writes))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _names(names: Iterable[str]) -> str:
    listed = list(names)
    return f" ({', '.join(listed)})" if listed else ""


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def parse_cookie_write(value: str) -> str | None:
    """The cookie name a ``document.cookie = …`` assignment sets, or None for a deletion."""
    first, _, attributes = value.partition(";")
    name, eq, _value = first.partition("=")
    name = name.strip()
    if not eq or not name:
        return None
    attrs = attributes.lower().replace(" ", "")
    if re.search(r"(^|;)max-age=(0|-\d+)(;|$)", attrs) or "expires=thu,01jan1970" in attrs:
        return None
    return name


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
        origin = _origin(url)
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

    page_origin = _origin(url) or url
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
    if _origin(url) is None:
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
    page_origin = _origin(url) or url
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
            service_origin = _origin(recorder.widget[0]) if recorder.widget else None
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
        findings=analyse(declared, page_origin, service_origin, observations),
        notes=notes,
    )


def report_json(report: Report) -> str:
    """The report as indented JSON."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
