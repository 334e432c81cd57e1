"""C17 with Google's standard gtag snippet after the widget: the denied defaults come
first in ``dataLayer`` because the site pastes the service's published inline snippet,
which a strict CSP admits by the hash the service publishes with it."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Service, free_port
from .helpers import CONSENT_PATH, button, consent_calls, dialog
from .static_site import service_for, static_site

pytestmark = pytest.mark.browser

#: Google's own gtag.js snippet, as its documentation gives it (the loader is a local
#: stand-in: nothing goes to a third party).
GTAG = (
    "window.dataLayer = window.dataLayer || [];\n"
    "function gtag(){dataLayer.push(arguments);}\n"
    "gtag('js', new Date());\n"
    "gtag('config', 'G-TEST123');\n"
)
PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>Consent Mode</title>
{snippet}
<script src="{service}/v1/sites/demo/widget.js" defer></script>
<script async src="/gtag.js"></script>
<script>{gtag}</script>
</head><body><main><h1>Consent Mode</h1></main></body></html>
"""


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.fixture(scope="module")
def gtag_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Service]]:
    workdir = tmp_path_factory.mktemp("consent-mode")
    port = free_port()
    origin = f"http://localhost:{port}"
    with service_for(workdir, origin) as service:
        with urllib.request.urlopen(service.url + "/v1/consent-mode-snippet") as answer:  # noqa: S310
            published = json.loads(answer.read())
        pages = {
            f"{lang}.html": PAGE.format(
                lang=lang, snippet=published["html"], service=service.url, gtag=GTAG
            )
            for lang in ("sv", "en")
        }
        pages["gtag.js"] = "window.gtagLoadedAfter = window.dataLayer.length;\n"
        # A strict policy: only the published hash (and the gtag snippet's) run inline.
        csp = f"script-src 'self' {service.url} {published['csp']} {_hash(GTAG)}"
        headers = {"Content-Security-Policy": csp}
        with static_site(workdir / "www", pages, headers, port) as site:
            yield site, service


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_c17_denied_defaults_precede_gtag_config(
    context: Any, gtag_site: tuple[str, Service], lang: str
) -> None:
    site, _ = gtag_site
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    page.goto(f"{site}/{lang}.html")
    dialog(page).wait_for()
    page.wait_for_function("window.gtagLoadedAfter !== undefined")
    entries = page.evaluate("dataLayer.map(a => Array.from(a))")
    assert entries[0] == [
        "consent",
        "default",
        {
            "analytics_storage": "denied",
            "ad_storage": "denied",
            "ad_user_data": "denied",
            "ad_personalization": "denied",
        },
    ]
    assert [e[0] for e in entries[1:3]] == ["js", "config"]
    assert [c[1] for c in consent_calls(page)] == ["default"]  # the widget adds no second
    assert violations == []
    # The page's language is the banner's (English texts fetched from the service).
    with page.expect_response(lambda r: CONSENT_PATH in r.url):
        button(page, lang, "accept").click()
    page.wait_for_function("dataLayer.filter(a => a[1] === 'update').length === 1")
    calls = consent_calls(page)
    assert [c[1] for c in calls] == ["default", "update"]
    assert set(calls[1][2].values()) == {"granted"}
