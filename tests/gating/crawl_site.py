"""A small multi-page site for the crawl tests, served on a random port with a request log.

Pages are loaded as ``http://localhost:PORT``; ``http://127.0.0.1:PORT`` is another
origin (the "tracker", and an off-site page the crawl must not follow). Every page has
a fake banner that gates ``tracker.js`` on the ``consent`` cookie, like the one-URL
scanner's fixtures; what differs per page:

- ``/`` and ``/about.html``: clean, with a ``data-consent-open`` link;
- ``/no-control.html``: clean, but no withdrawal control (a ``<span>`` is not one);
- ``/late.html``: a tracker that fires 1.5 s after load, before any choice
  (``/later.html``, linked from nowhere: the same after 3.5 s);
- ``/undeclared.html``: after accept, an undeclared Hotjar cookie;
- ``/private/secret.html``: disallowed by robots.txt (must never be requested);
- ``/clean-broken.html``: clean, links to a 404;
- ``/sitemap.xml``: a sitemap index naming ``/sitemap-pages.xml``;
- ``/orphan.html``: no link leads to it; robots.txt's ``Sitemap:`` lines name the
  sitemap that lists it, one on another origin and one that is missing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from consent_service.sites import TEXT_KEYS

CONTROL = '<footer><a href="#" data-consent-open>Cookie-inställningar</a></footer>'
TRACKER_JS = """
document.cookie = "_tr_id=abc123; Path=/; Max-Age=31536000; SameSite=Lax";
new Image().src = "http://127.0.0.1:" + location.port + "/pixel.gif?u=" + encodeURIComponent(location.href);
"""
LATE_JS = """
document.cookie = "_late=1; Path=/; Max-Age=3600; SameSite=Lax";
new Image().src = "http://127.0.0.1:" + location.port + "/pixel.gif?late=1";
"""
BANNER = """<div role="dialog" aria-label="Kakor" id="banner" hidden>
  <button type="button" id="accept">Godkänn alla</button>
  <button type="button" id="reject">Neka alla</button>
</div>
<script>
function track() {
  var s = document.createElement("script");
  s.src = "http://127.0.0.1:" + location.port + "/tracker.js";
  document.head.append(s);
  ON_ACCEPT
}
var banner = document.getElementById("banner");
function decide(value) {
  document.cookie = "consent=" + value + "; Path=/; Max-Age=3600; SameSite=Lax";
  banner.hidden = true;
  if (value === "yes") track();
}
if (document.cookie.indexOf("consent=yes") >= 0) track();
else if (document.cookie.indexOf("consent=no") < 0) banner.hidden = false;
document.getElementById("accept").onclick = function () { decide("yes"); };
document.getElementById("reject").onclick = function () { decide("no"); };
document.addEventListener("click", function (e) {
  if (e.target.closest("[data-consent-open]")) { e.preventDefault(); banner.hidden = false; }
});
</script>"""
#: Fires 1.5 s after the load event: past the 0.6 s of quiet a scan without a settle
#: window waits, inside the default 2 s window.
LATE = """<script>addEventListener("load", function () { setTimeout(function () {
  var s = document.createElement("script");
  s.src = "http://127.0.0.1:" + location.port + "/late-tracker.js";
  document.head.append(s);
}, 1500); });</script>"""
#: The same 3.5 s after load, for the test of the window itself: seconds clear of both
#: a scan with no window (which takes stock ~0.6 s after load) and a 5 s window, so a
#: slow, busy host cannot tip either way.
LATER = LATE.replace("}, 1500);", "}, 3500);")
HOTJAR = 'document.cookie = "_hjSessionUser_123=x; Path=/; Max-Age=3600; SameSite=Lax";'


def page(
    title: str, links: list[str], *, control: bool = True, extra: str = "", on_accept: str = ""
) -> str:
    """A page of the fixture site: banner, links, and optionally the withdrawal control."""
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return (
        f'<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1><ul>{anchors}</ul>{BANNER.replace('ON_ACCEPT', on_accept)}"
        f"{extra}{CONTROL if control else ''}</body></html>"
    )


def pages(port: int) -> dict[str, tuple[str, str]]:
    """Every path the site answers, with its media type and body."""
    offsite = f"http://127.0.0.1:{port}/offsite.html"
    urlset = "".join(
        f"<url><loc>http://localhost:{port}{p}</loc></url>"
        for p in ("/", "/about.html", "/late.html", "/private/secret.html")
    )
    html = "text/html"
    return {
        "/": (
            html,
            page(
                "Start",
                [
                    "/about.html",
                    "/no-control.html",
                    "/late.html",
                    "/private/secret.html",
                    offsite,
                    "#top",
                    "mailto:info@example.se",
                ],
            ),
        ),
        "/about.html": (html, page("Om oss", ["/", "/undeclared.html", "/report.pdf", "/feed"])),
        "/feed": ("application/json", '{"items": []}'),
        # A control the Tab key never reaches is no control (C13).
        "/no-control.html": (
            html,
            page("Utan länk", ["/"], control=False, extra="<span data-consent-open>Kakor</span>"),
        ),
        "/late.html": (html, page("Sen spårare", ["/"], extra=LATE)),
        "/later.html": (html, page("Senare spårare", ["/"], extra=LATER)),
        "/undeclared.html": (html, page("Odeklarerad", ["/"], on_accept=HOTJAR)),
        "/private/secret.html": (html, page("Hemlig", [])),
        "/offsite.html": (html, page("Annan webbplats", [])),
        "/clean-broken.html": (html, page("Trasig länk", ["/missing.html"])),
        "/tracker.js": ("text/javascript", TRACKER_JS),
        "/late-tracker.js": ("text/javascript", LATE_JS),
        "/pixel.gif": ("image/gif", "GIF89a"),
        "/robots.txt": (
            "text/plain",
            "User-agent: *\nDisallow: /private/\n"
            f"Sitemap: http://localhost:{port}/sitemap-orphans.xml\n"
            f"Sitemap: {offsite.removesuffix('/offsite.html')}/sitemap-offsite.xml\n"
            f"Sitemap: http://localhost:{port}/sitemap-gone.xml\n",
        ),
        "/orphan.html": (html, page("Föräldralös", ["/"])),
        "/sitemap-orphans.xml": (
            "application/xml",
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>http://localhost:{port}/orphan.html</loc></url></urlset>",
        ),
        "/sitemap.xml": (
            "application/xml",
            '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>http://localhost:{port}/sitemap-pages.xml</loc></sitemap></sitemapindex>",
        ),
        "/sitemap-pages.xml": (
            "application/xml",
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{urlset}</urlset>",
        ),
    }


@dataclass
class Site:
    """The running site: its port and every path requested so far, by host."""

    port: int
    requested: list[tuple[str, str]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://localhost:{self.port}"

    def paths(self, host: str = "localhost") -> set[str]:
        """The paths (without query) requested on ``host``."""
        return {path.split("?")[0] for h, path in self.requested if h.split(":")[0] == host}


@contextmanager
def serve_site() -> Iterator[Site]:
    """The fixture site on a free port, for the duration of the block."""
    site = Site(0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.requested.append((self.headers.get("Host", ""), self.path))
            answer = pages(site.port).get(self.path.split("?")[0])
            if answer is None:
                self.send_error(404)
                return
            media_type, body = answer
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", f"{media_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def site_config(tmp_path: Path, port: int) -> Path:
    """The site file: the tracker and the late tracker as statistics, one stale cookie."""
    texts = {
        "sv": {k: k for k in TEXT_KEYS} | {"accept_all": "Godkänn alla", "reject_all": "Neka alla"},
        "en": {k: k for k in TEXT_KEYS} | {"accept_all": "Accept all", "reject_all": "Reject all"},
    }
    lines = ["[sites.test]", 'origins = ["self"]', 'policy_version = "2026-11-01"']
    for lang, entries in texts.items():
        lines.append(f"[sites.test.texts.{lang}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in entries.items()]

    def cookie(name: str) -> str:
        return (
            f'[[sites.test.categories.services.cookies]]\nname = "{name}"\nprovider = "Test"\n'
            'lifetime = "1y"\npurpose.sv = "Spårar."\npurpose.en = "Tracks."\n'
        )

    lines.append(
        f"""
[[sites.test.categories]]
id = "necessary"
required = true
texts.sv = {{ title = "Nödvändiga", description = "Behövs." }}
texts.en = {{ title = "Necessary", description = "Needed." }}
[[sites.test.categories.services]]
id = "kakor"
name = "Samtycke"
provider = "Test"
{cookie("consent")}
[[sites.test.categories]]
id = "statistics"
texts.sv = {{ title = "Statistik", description = "Statistik." }}
texts.en = {{ title = "Statistics", description = "Statistics." }}
[[sites.test.categories.services]]
id = "tracker"
name = "Tracker"
provider = "Tracker AB"
origins = ["http://127.0.0.1:{port}"]
{cookie("_tr_id")}
{cookie("_late")}
{cookie("_old_cookie")}"""
    )
    path = tmp_path / "crawl-site.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
