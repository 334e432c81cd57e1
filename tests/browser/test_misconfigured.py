"""A misconfigured site fails loudly, never silently (issue 18; C1 and C19: nothing gated
runs that the log did not record).

Embedded on an origin the site does not list, the banner still works but nothing
gated runs (the service recorded nothing), the widget's ``console.error`` names the
origin and the setting to change, and the 403 is readable by the page (CORS headers on
the refusal). An ``<iframe src=… data-consent>`` without ``data-src`` loads ungated: the
widget warns in the console.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Service
from .helpers import CONSENT_PATH, button, dialog, stats_events
from .static_site import static_site

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>Felkonfigurerad</title>
<script src="{service}/v1/sites/demo/widget.js" defer></script>
<script type="text/plain" data-consent="statistics" data-src="{service}/demo/assets/stats.js"></script>
</head><body><main><h1>Ej listad</h1>
<iframe src="about:blank#ungated" data-consent="third-party" title="Video"></iframe>
</main></body></html>
"""


@pytest.fixture(scope="module")
def unlisted(tmp_path_factory: pytest.TempPathFactory, service: Service) -> Iterator[str]:
    """Pages on localhost, which the demo site (origins = ["self"]) does not list."""
    root = tmp_path_factory.mktemp("unlisted")
    pages = {f"{lang}.html": PAGE.format(lang=lang, service=service.url) for lang in ("sv", "en")}
    with static_site(root, pages) as origin:
        yield origin


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_c1_c19_unlisted_origin_runs_nothing_and_says_why(
    context: Any, service: Service, unlisted: str, lang: str
) -> None:
    page = context.new_page()
    messages: list[tuple[str, str]] = []
    page.on("console", lambda m: messages.append((m.type, m.text)))
    rows_before = len(service.events())
    page.goto(f"{unlisted}/{lang}.html")
    dialog(page).wait_for()
    with page.expect_response(lambda r: CONSENT_PATH in r.url) as answer:
        button(page, lang, "accept").click()
    refused = answer.value
    assert refused.status == 403
    assert refused.headers.get("access-control-allow-origin") == unlisted
    assert refused.json()["error"]["code"] == "origin_not_allowed"
    page.wait_for_function("() => true")  # let the widget read the answer
    errors = []
    for _ in range(50):
        errors = [t for kind, t in messages if kind == "error" and t.startswith("kakor:")]
        if errors:
            break
        page.wait_for_timeout(100)
    assert len(errors) == 1, messages
    assert unlisted in errors[0] and "origins" in errors[0] and "[sites.demo]" in errors[0]
    page.wait_for_timeout(300)
    assert stats_events(page) is None  # nothing gated ran unrecorded
    assert page.evaluate("kakor.get().decided") is False
    assert len(service.events()) == rows_before
    warnings = [t for kind, t in messages if kind == "warning" and "data-src" in t]
    assert warnings and "about:blank#ungated" in warnings[0]
