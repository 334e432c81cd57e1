"""The cookie declaration lists every category, service and cookie from the config (C2, C7)."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from consent_service.gating.declaration_data import lifetime_text
from consent_service.settings import DEMO_CONFIG
from consent_service.sites import load_sites

DECLARATION = "/v1/sites/demo/declaration"
EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


class _Cells(HTMLParser):
    """Collects the rows of every table and every element name of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Cells:
    parser = _Cells()
    parser.feed(html)
    return parser


@pytest.mark.parametrize(
    ("lifetime", "sv", "en"),
    [
        ("13mo", "13 månader", "13 months"),
        ("1mo", "1 månad", "1 month"),
        ("session", "Sessionen", "Session"),
        ("30min", "30 minuter", "30 minutes"),
        ("1h", "1 timme", "1 hour"),
        ("365d", "365 dagar", "365 days"),
        ("2y", "2 år", "2 years"),
    ],
)
def test_lifetimes_in_words(lifetime: str, sv: str, en: str) -> None:
    assert lifetime_text(lifetime, "sv") == sv
    assert lifetime_text(lifetime, "en") == en
    assert lifetime_text(lifetime, "fi") == en  # a language without words of its own


@pytest.mark.parametrize(
    ("lang", "headings", "row"),
    [
        (
            "sv",
            ["Namn", "Leverantör", "Syfte", "Livslängd"],
            [
                "_pk_id",
                "Region Västmanland",
                "Känner igen en återkommande webbläsare för besöksstatistik.",
                "13 månader",
            ],
        ),
        (
            "en",
            ["Name", "Provider", "Purpose", "Lifetime"],
            [
                "_pk_id",
                "Region Västmanland",
                "Recognises a returning browser for visitor statistics.",
                "13 months",
            ],
        ),
    ],
)
def test_html_lists_every_cookie_with_provider_purpose_lifetime_c2(
    client: TestClient, lang: str, headings: list[str], row: list[str]
) -> None:
    answer = client.get(DECLARATION, params={"lang": lang})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["content-language"] == lang
    assert f'<html lang="{lang}">' in answer.text
    doc = parse(answer.text)
    assert headings in doc.rows
    assert row in doc.rows
    site = load_sites(DEMO_CONFIG).get("demo")
    names = {r[0] for r in doc.rows}
    for category in site.categories:
        assert category.texts[lang]["title"] in answer.text
        for service in category.services:
            assert service.name in answer.text
            for k in service.cookies:
                assert k.name in names
                assert [
                    k.name,
                    k.provider,
                    k.purpose[lang],
                    lifetime_text(k.lifetime, lang),
                ] in doc.rows
    assert "https://www.youtube-nocookie.com" in answer.text  # the hosts a service loads from
    assert "script" not in doc.tags  # no script, so it works under the strict CSP


def test_default_language_and_unsupported_one(client: TestClient) -> None:
    assert 'lang="sv"' in client.get(DECLARATION).text
    answer = client.get(DECLARATION, params={"lang": "de"})
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "invalid_field",
        "message": "lang: must be one of sv, en",
    }
    answer = client.get(DECLARATION, params={"format": "pdf"})
    assert answer.status_code == 422
    assert answer.json()["error"]["message"].startswith("format:")
    assert client.get("/v1/sites/nope/declaration").json()["error"]["code"] == "unknown_site"


def test_json_by_accept_header_and_by_format(client: TestClient) -> None:
    answer = client.get(DECLARATION, params={"lang": "en"}, headers={"Accept": "application/json"})
    assert answer.headers["content-type"] == "application/json"
    data = answer.json()
    assert data == client.get(DECLARATION, params={"lang": "en", "format": "json"}).json()
    assert data["site"] == "demo"
    assert data["language"] == "en"
    assert [c["id"] for c in data["categories"]] == ["necessary", "statistics", "third-party"]
    assert [c["required"] for c in data["categories"]] == [True, False, False]
    matomo = data["categories"][1]["services"][0]
    assert matomo["cookies"][0] == {
        "name": "_pk_id",
        "provider": "Region Västmanland",
        "purpose": "Recognises a returning browser for visitor statistics.",
        "lifetime": "13mo",
        "lifetime_text": "13 months",
    }
    video = data["categories"][2]["services"][0]
    assert video["origins"] == ["https://www.youtube-nocookie.com", "https://player.vimeo.com"]
    # A browser asks for HTML first: it gets the page.
    html = client.get(DECLARATION, headers={"Accept": "text/html,application/json;q=0.9"})
    assert html.headers["content-type"].startswith("text/html")


def test_fragment_is_one_section_with_a_settings_link_c13(client: TestClient) -> None:
    answer = client.get(DECLARATION, params={"format": "fragment", "lang": "en"})
    text = answer.text.strip()
    assert text.startswith('<section class="kakor-declaration" lang="en"')
    assert text.endswith("</section>")
    assert "<html" not in text
    assert "<body" not in text
    assert '<a href="#" data-consent-open>Change your choices</a>' in text


def test_every_config_text_is_escaped(
    make_client: Callable[..., TestClient], edited_config: Callable[..., Path]
) -> None:
    toml_evil = EVIL.replace('"', '\\"')
    config = edited_config(
        ('name = "Matomo"', f'name = "{toml_evil}"'),
        ('provider = "Meta Platforms Ireland Ltd"', f'provider = "{toml_evil}"'),
        ('purpose.en = "Shows embedded social-media feeds."', f'purpose.en = "{toml_evil}"'),
        ('title = "Statistics"', f'title = "{toml_evil}"'),
        ('name = "Region Västmanland (demo)"', f'name = "{toml_evil}"'),
    )
    client = make_client(config_path=config)
    for fmt in ("html", "fragment"):
        text = client.get(DECLARATION, params={"lang": "en", "format": fmt}).text
        assert "<script" not in text
        assert "<img" not in text
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in text
        doc = parse(text)
        assert "script" not in doc.tags
        assert "img" not in doc.tags
    data = client.get(DECLARATION, params={"lang": "en", "format": "json"}).json()
    assert data["categories"][1]["services"][0]["name"] == EVIL  # JSON carries the text as is


def test_framing_is_allowed_for_the_sites_origins_only(
    make_client: Callable[..., TestClient], edited_config: Callable[..., Path]
) -> None:
    demo = make_client().get(DECLARATION)
    assert "frame-ancestors 'self'" in demo.headers["content-security-policy"]
    assert demo.headers["x-frame-options"] == "SAMEORIGIN"
    config = edited_config(
        (
            'origins = ["self"]',
            'origins = ["https://www.regionvastmanland.se", "https://example.se"]',
        )
    )
    answer = make_client(config_path=config).get(DECLARATION)
    csp = answer.headers["content-security-policy"]
    assert re.search(
        r"frame-ancestors 'self' https://www\.regionvastmanland\.se https://example\.se(;|$)", csp
    )
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "x-frame-options" not in answer.headers


def test_etag_revalidation(client: TestClient) -> None:
    first = client.get(DECLARATION, params={"lang": "en"})
    again = client.get(
        DECLARATION, params={"lang": "en"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert first.headers["etag"] != client.get(DECLARATION, params={"lang": "sv"}).headers["etag"]
