"""The standalone declaration page (issue 18): an ``h1``, a way back to the page the
visitor came from when it is on a listed origin, and its one style admitted by hash."""

from __future__ import annotations

from starlette.testclient import TestClient

from consent_service.gating.declaration_html import STYLE_CSP

URL = "/v1/sites/demo/declaration"


def test_page_has_an_h1_and_its_style_is_in_the_csp(client: TestClient) -> None:
    answer = client.get(URL + "?lang=en")
    assert answer.status_code == 200
    assert answer.text.count("<h1 ") == 1 and '<h2 id="kakor-declaration-title"' not in answer.text
    assert f"style-src 'self' {STYLE_CSP}" in answer.headers["content-security-policy"]
    assert "Referer" in answer.headers["vary"]
    assert "<nav>" not in answer.text  # no Referer: nowhere known to go back to


def test_a_listed_referer_gets_back_and_change_links(client: TestClient) -> None:
    # The demo lists "self": the service's own origin, here http://localhost.
    page = "http://localhost/nyheter?x=1#frag"
    answer = client.get(URL + "?lang=sv", headers={"referer": page})
    assert '<a href="http://localhost/nyheter?x=1">Tillbaka till webbplatsen</a>' in answer.text
    assert '<a href="http://localhost/nyheter?x=1#kakor-settings">Ändra dina val</a>' in answer.text


def test_an_unlisted_or_odd_referer_gets_no_links(client: TestClient) -> None:
    for referer in ("https://evil.example/", "javascript:alert(1)", "http://localhost:9/x", "x"):
        answer = client.get(URL, headers={"referer": referer})
        assert answer.status_code == 200
        assert "<nav>" not in answer.text, referer


def test_the_fragment_keeps_its_h2(client: TestClient) -> None:
    answer = client.get(URL + "?format=fragment")
    assert '<h2 id="kakor-declaration-title">' in answer.text and "<h1" not in answer.text
