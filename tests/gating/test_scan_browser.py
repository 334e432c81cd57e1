"""The leak scanner in Debian's Chromium against real pages over real HTTP (C1, C2, C14).

A small page server answers on 127.0.0.1; pages are loaded as ``http://localhost:PORT``
and the "tracker" is fetched from ``http://127.0.0.1:PORT``: another host, so another
origin, exactly like a third-party tracker.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from consent_service.cli.main import main
from consent_service.sites import TEXT_KEYS

from .conftest import CHROMIUM
from .conftest import need_browser as _need_browser
from .servers import free_port, http_get

pytestmark = pytest.mark.browser

TRACKER_JS = """
document.cookie = "_tr_id=abc123; Path=/; Max-Age=31536000; SameSite=Lax";
localStorage.setItem("tr_visitor", "abc123");
new Image().src = "http://127.0.0.1:" + location.port + "/pixel.gif?u=" + encodeURIComponent(location.href);
"""

BANNER = """<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Nyheter</title></head>
<body><h1>Nyheter</h1><p>Innehåll.</p>
<div role="dialog" aria-label="Kakor" id="banner" hidden>
  <button type="button" id="accept">Godkänn alla</button>
  <button type="button" id="reject">Neka alla</button>
</div>
<script>
function track() {
  var s = document.createElement("script");
  s.src = "http://127.0.0.1:" + location.port + "/tracker.js";
  document.head.append(s);
}
var banner = document.getElementById("banner");
function decide(value) {
  document.cookie = "consent=" + value + "; Path=/; Max-Age=3600; SameSite=Lax";
  banner.hidden = true;
  if (value === "yes" || IGNORE_REFUSAL) track();
}
if (document.cookie.indexOf("consent=yes") >= 0) track();
else if (document.cookie.indexOf("consent=no") >= 0) { if (IGNORE_REFUSAL) track(); }
else banner.hidden = false;
document.getElementById("accept").onclick = function () { decide("yes"); };
document.getElementById("reject").onclick = function () { decide("no"); };
</script></body></html>"""

PAGES = {
    "/clean.html": (
        "text/html",
        '<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Ren</title></head>'
        "<body><h1>Nyheter</h1><p>Ingen spårning här.</p></body></html>",
    ),
    "/dirty.html": (
        "text/html",
        '<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Smutsig</title>'
        "<script>document.write('<script src=\"http://127.0.0.1:' + location.port + "
        "'/tracker.js\"><\\/script>')</script></head><body><h1>Nyheter</h1></body></html>",
    ),
    "/banner.html": ("text/html", BANNER.replace("IGNORE_REFUSAL", "false")),
    "/ignores-refusal.html": ("text/html", BANNER.replace("IGNORE_REFUSAL", "true")),
    "/tracker.js": ("text/javascript", TRACKER_JS),
    "/pixel.gif": ("image/gif", "GIF89a"),
}


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/moved":
            port = self.server.server_address[1]  # type: ignore[index]
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{port}/clean.html")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        page = PAGES.get(self.path.split("?")[0])
        if page is None:
            self.send_error(404)
            return
        media_type, body = page
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", f"{media_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def pages() -> Iterator[int]:
    """The test page server's port (module-wide: it holds no state)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def site_config(tmp_path: Path, port: int, *, declare_tracker: bool = True) -> Path:
    """A one-site config: the tracker is a statistics service on the other origin."""
    texts = {
        "sv": {k: k for k in TEXT_KEYS} | {"accept_all": "Godkänn alla", "reject_all": "Neka alla"},
        "en": {k: k for k in TEXT_KEYS} | {"accept_all": "Accept all", "reject_all": "Reject all"},
    }
    lines = ["[sites.test]", 'origins = ["self"]', 'policy_version = "1"']
    for lang, entries in texts.items():
        lines.append(f"[sites.test.texts.{lang}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in entries.items()]
    cookie = (
        "[[sites.test.categories.services.cookies]]\n"
        'name = "_tr_id"\nprovider = "Tracker AB"\nlifetime = "1y"\npurpose = "Spårar."\n'
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
[[sites.test.categories.services.cookies]]
name = "consent"
provider = "Test"
lifetime = "1h"
purpose = "Sparar valet."
[[sites.test.categories]]
id = "statistics"
texts.sv = {{ title = "Statistik", description = "Statistik." }}
texts.en = {{ title = "Statistics", description = "Statistics." }}
[[sites.test.categories.services]]
id = "tracker"
name = "Tracker"
provider = "Tracker AB"
origins = ["http://127.0.0.1:{port}"]
{cookie if declare_tracker else ""}"""
    )
    path = tmp_path / "test-site.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """Run ``consent-service scan … --format json`` in process; its exit code and report."""
    code = main(["scan", *args, "--format", "json", "--chromium", CHROMIUM, "--timeout", "15"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def findings(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["phase"], f["kind"], f["subject"]) for f in report["findings"]]


def test_an_ungated_tracker_is_reported_and_fails_c1(
    pages: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_browser()
    config = site_config(tmp_path, pages)
    code, report = scan(capsys, f"http://localhost:{pages}/dirty.html", "--config", str(config))
    assert code == 1
    assert report["clean"] is False
    tracker = f"http://127.0.0.1:{pages}"
    assert ("before", "cookie", "cookie _tr_id (localhost)") in findings(report)
    assert (
        "before",
        "storage",
        f"localStorage 'tr_visitor' (http://localhost:{pages})",
    ) in findings(report)
    assert ("before", "request", f"requests to {tracker}") in findings(report)
    urls = [r["url"] for r in report["phases"]["before"]["requests"]]
    assert f"{tracker}/tracker.js" in urls
    assert any(u.startswith(f"{tracker}/pixel.gif") for u in urls)
    # No banner on that page: the two click phases say so instead of passing silently.
    assert report["phases"]["reject"]["ran"] is False
    assert "Neka alla" in report["phases"]["reject"]["note"]


def test_text_report_names_the_tracker(pages: int, capsys: pytest.CaptureFixture[str]) -> None:
    _need_browser()
    code = main(["scan", f"http://localhost:{pages}/dirty.html", "--chromium", CHROMIUM])
    out = capsys.readouterr().out
    assert code == 1
    assert "LEAKS (3):" in out
    assert "[before any choice] cookie _tr_id (localhost): set before consent" in out
    assert f"requests to http://127.0.0.1:{pages}" in out


def test_a_clean_page_is_clean(
    pages: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_browser()
    config = site_config(tmp_path, pages)
    code, report = scan(capsys, f"http://localhost:{pages}/clean.html", "--config", str(config))
    assert code == 0, report["findings"]
    assert report["clean"] is True
    assert report["phases"]["before"]["cookies"] == []


def test_a_redirect_to_another_origin_counts_both_as_the_page(
    pages: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_browser()
    config = site_config(tmp_path, pages)
    code, report = scan(capsys, f"http://localhost:{pages}/moved", "--config", str(config))
    assert code == 0, report["findings"]
    assert report["page_origin"] == f"http://127.0.0.1:{pages}"
    assert any("redirected to" in note for note in report["notes"])


def test_a_gating_banner_is_clean_and_accept_really_loads_the_tracker_c11(
    pages: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_browser()
    config = site_config(tmp_path, pages)
    code, report = scan(capsys, f"http://localhost:{pages}/banner.html", "--config", str(config))
    assert code == 0, report["findings"]
    phases = report["phases"]
    assert all(phases[p]["ran"] for p in ("before", "reject", "accept"))
    assert {c["name"] for c in phases["reject"]["cookies"]} == {"consent"}
    accepted = {c["name"] for c in phases["accept"]["cookies"]}
    assert accepted == {"consent", "_tr_id"}
    assert f"http://127.0.0.1:{pages}" in {r["origin"] for r in phases["accept"]["requests"]}


def test_a_banner_that_ignores_refusal_fails_c14(
    pages: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_browser()
    config = site_config(tmp_path, pages)
    code, report = scan(
        capsys, f"http://localhost:{pages}/ignores-refusal.html", "--config", str(config)
    )
    assert code == 1
    found = findings(report)
    assert ("reject", "cookie", "cookie _tr_id (localhost)") in found
    assert ("reject", "request", f"requests to http://127.0.0.1:{pages}") in found
    assert all(phase == "reject" for phase, _, _ in found), found


def test_an_undeclared_cookie_after_accept_fails_c2(
    pages: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_browser()
    config = site_config(tmp_path, pages, declare_tracker=False)
    code, report = scan(capsys, f"http://localhost:{pages}/banner.html", "--config", str(config))
    assert code == 1
    assert findings(report) == [("accept", "cookie", "cookie _tr_id (localhost)")]
    assert report["findings"][0]["detail"] == "not declared by any service"


def test_errors_exit_2_with_a_message(
    pages: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _need_browser()
    assert (
        main(["scan", f"http://localhost:{pages}/clean.html", "--chromium", str(tmp_path / "nope")])
        == 2
    )
    assert "no Chromium at" in capsys.readouterr().err
    closed = free_port()
    assert (
        main(["scan", f"http://127.0.0.1:{closed}/", "--chromium", CHROMIUM, "--timeout", "5"]) == 2
    )
    assert f"could not load http://127.0.0.1:{closed}/" in capsys.readouterr().err
    assert main(["scan", "ftp://example.se/"]) == 2
    config = site_config(tmp_path, pages)
    assert main(["scan", "http://localhost:1/", "--config", str(config), "--site", "other"]) == 2
    assert "has no site 'other'" in capsys.readouterr().err


def test_without_playwright_the_message_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)
    assert main(["scan", "http://localhost:1/"]) == 2
    assert "pip install 'consent-service[scan]'" in capsys.readouterr().err


def test_the_demo_site_is_clean_c1_c2(
    demo_server: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The acceptance check of issue 6: the scanner finds the shipped demo clean.

    It needs the widget (branch ``widget``); before that is merged the demo has no banner
    and this test is skipped, so it can never pass vacuously.
    """
    _need_browser()
    base = demo_server()
    status, _, _ = http_get(int(base.rsplit(":", 1)[1]), "/v1/sites/demo/widget.js")
    if status == 404:
        pytest.skip("needs the widget: GET /v1/sites/demo/widget.js is 404 on this branch")
    assert status == 200
    code, report = scan(capsys, f"{base}/")
    assert report["site"] == "demo"
    assert report["findings"] == []
    assert code == 0
    phases = report["phases"]
    assert all(phases[p]["ran"] for p in ("before", "reject", "accept")), phases
    assert phases["before"]["cookies"] == []
    assert {c["name"] for c in phases["reject"]["cookies"]} == {"consent"}
    # Accepting really runs the gated statistics script, so the clean result means something.
    assert {"_pk_id", "_pk_ses", "consent"} <= {c["name"] for c in phases["accept"]["cookies"]}
