"""The widget served by kakor on one host, embedded in a site on another.

The page is on ``http://localhost:P`` and the service on ``http://127.0.0.1:S``: two
different sites to the browser, so the service's own ``Set-Cookie`` (SameSite=Lax, in
a cross-site fetch) does not stick, and the widget must store the token first-party.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from consent_service.settings import DEMO_CONFIG

from .conftest import Service, free_port, start_service, stop_service
from .helpers import CONSENT_PATH, button, dialog, stats_events

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Annan webbplats</title>
<script src="{service}/v1/sites/demo/widget.js" defer></script>
<script type="text/plain" data-consent="statistics" data-src="{service}/demo/assets/stats.js"></script>
</head><body><main><h1>En sida på en annan värd</h1></main>
<footer><a href="#" data-consent-open>Cookie-inställningar</a></footer></body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def cross_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Service]]:
    """A static site on localhost that embeds a kakor on 127.0.0.1 listing it as an origin."""
    workdir = tmp_path_factory.mktemp("cross-site")
    page_port = free_port()
    site_origin = f"http://localhost:{page_port}"
    config = workdir / "site.toml"
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    config.write_text(text.replace('origins = ["self"]', f'origins = ["self", "{site_origin}"]'))
    service = start_service(workdir, config)
    root = workdir / "www"
    root.mkdir()
    (root / "index.html").write_text(PAGE.format(service=service.url), encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", page_port), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site_origin, service
    server.shutdown()
    server.server_close()
    stop_service(service)


def _cookies(context: Any, host: str) -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies() if c["domain"] == host}


def test_widget_on_another_host_stores_the_token_first_party(
    context: Any, cross_site: tuple[str, Service]
) -> None:
    """C13/C14 across origins: accept and withdraw with one consent ID, the token kept
    on the site's own host, no preflight for the POST, and no banner on the next page."""
    site, service = cross_site
    methods: list[str] = []
    context.on("request", lambda r: methods.append(r.method) if CONSENT_PATH in r.url else None)
    page = context.new_page()
    page.goto(site + "/")
    dialog(page).wait_for()
    with page.expect_response(lambda r: CONSENT_PATH in r.url) as answer:
        button(page, "sv", "accept").click()
    given = answer.value.json()
    assert answer.value.headers["access-control-allow-origin"] == site
    assert methods == ["POST"], "a text/plain POST needs no preflight"
    page.wait_for_function("() => window.demoStats !== undefined")
    assert _cookies(context, "localhost")["consent"] == given["token"]
    page.reload()
    page.wait_for_function("() => window.demoStats !== undefined")
    assert dialog(page).count() == 0
    assert page.evaluate("kakor.get().consent_id") == given["consent_id"]
    page.locator("[data-consent-open]").click()
    with page.expect_response(
        lambda r: CONSENT_PATH in r.url and r.request.method == "DELETE"
    ) as answer:
        button(page, "sv", "reject").click()
    withdrawn = answer.value.json()
    assert withdrawn["consent_id"] == given["consent_id"]
    assert withdrawn["choices"]["statistics"] is False
    assert _cookies(context, "localhost")["consent"] == withdrawn["token"]
    rows = service.events_for(given["consent_id"], 2)
    assert [r["action"] for r in rows] == ["accept-all", "withdraw"]
    assert {json.loads(r["choices"])["statistics"] for r in rows} == {True, False}
    assert stats_events(page) is not None  # what ran before withdrawal cannot be un-run
    page.reload()
    page.wait_for_load_state("load")
    assert stats_events(page) is None


def test_an_origin_the_site_does_not_list_records_nothing(
    context: Any, service: Service, tmp_path: Path
) -> None:
    """The demo site lists only itself: a page elsewhere gets 403 and no cookie."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text(PAGE.format(service=service.url), encoding="utf-8")
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        before = len(service.events())
        page = context.new_page()
        page.goto(f"http://localhost:{port}/")
        dialog(page).wait_for()
        # The 403 carries CORS headers for the refused origin (issue 18): the widget
        # reads it and says why (tests/browser/test_misconfigured.py).
        with page.expect_response(lambda r: CONSENT_PATH in r.url) as answer:
            button(page, "sv", "accept").click()
        assert answer.value.status == 403
        assert "consent" not in _cookies(context, "localhost")
        assert len(service.events()) == before
        page.reload()
        dialog(page).wait_for()  # nothing was stored: asked again
    finally:
        server.shutdown()
        server.server_close()
