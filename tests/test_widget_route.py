"""``GET /v1/sites/{site}/widget.js``: one request carries the code and the site's config."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Callable

import brotli
import pytest
from starlette.testclient import TestClient

from consent_service.widget import PLACEHOLDER, WidgetCache, choose_encoding, gated_inline_hashes

URL = "/v1/sites/demo/widget.js"


def _config_in(body: bytes) -> dict[str, object]:
    """The JSON literal the route put where the placeholder was."""
    text = body.decode()
    start = text.index('{"site"')
    config, _ = json.JSONDecoder().raw_decode(text, start)
    assert isinstance(config, dict)
    return config


def test_serves_javascript_with_the_public_config_inlined(client: TestClient) -> None:
    answer = client.get(URL, headers={"Accept-Encoding": "identity"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["cache-control"] == "public, max-age=300"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in answer.headers
    assert PLACEHOLDER.encode() not in answer.content
    assert _config_in(answer.content) == client.get("/v1/sites/demo/config").json()


@pytest.mark.parametrize(
    ("accept", "encoding", "decode"),
    [("gzip, deflate, br", "br", brotli.decompress), ("gzip", "gzip", gzip.decompress)],
)
def test_compresses_by_accept_encoding(
    client: TestClient, accept: str, encoding: str, decode: Callable[[bytes], bytes]
) -> None:
    plain = client.get(URL, headers={"Accept-Encoding": "identity"}).content
    # Read the raw bytes: the test client would otherwise decode them for us.
    with client.stream("GET", URL, headers={"Accept-Encoding": accept}) as answer:
        raw = b"".join(answer.iter_raw())
        assert answer.headers["content-encoding"] == encoding
    assert decode(raw) == plain
    assert len(raw) < len(plain) / 2


def test_strong_etag_and_304(client: TestClient) -> None:
    first = client.get(URL, headers={"Accept-Encoding": "br"})
    etag = first.headers["etag"]
    assert etag.startswith('"')  # strong: no W/ prefix
    again = client.get(URL, headers={"Accept-Encoding": "br", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = client.get(URL, headers={"Accept-Encoding": "br", "If-None-Match": '"nope"'})
    assert other.status_code == 200
    # Each encoding is its own representation, so its own strong ETag.
    assert client.get(URL, headers={"Accept-Encoding": "gzip"}).headers["etag"] != etag


@pytest.mark.parametrize(
    ("cached", "asked"),
    [("gzip", "br"), ("br", "gzip"), ("identity", "br"), ("br", "identity"), ("gzip", "identity")],
)
def test_a_304_only_for_the_etag_of_the_encoding_that_would_be_sent(
    client: TestClient, cached: str, asked: str
) -> None:
    """A cache holding the gzip bytes must not be told they are what a br request gets."""
    etag = client.get(URL, headers={"Accept-Encoding": cached}).headers["etag"]
    answer = client.get(URL, headers={"Accept-Encoding": asked, "If-None-Match": etag})
    assert answer.status_code == 200
    assert answer.headers["etag"] != etag
    same = client.get(URL, headers={"Accept-Encoding": cached, "If-None-Match": f"W/{etag}"})
    assert same.status_code == 304


def test_unknown_site_is_404_in_the_error_shape(client: TestClient) -> None:
    answer = client.get("/v1/sites/nope/widget.js")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "unknown_site"


def test_endpoints_follow_the_host_the_service_is_reached_on(client: TestClient) -> None:
    body = client.get(URL, headers={"Accept-Encoding": "identity", "Host": "consent.example.se"})
    endpoints = _config_in(body.content)["endpoints"]
    assert endpoints == {
        "consent": "http://consent.example.se/v1/sites/demo/consent",
        "declaration": "http://consent.example.se/v1/sites/demo/declaration",
    }


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "identity"),
        ("gzip, deflate, br", "br"),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0, br;q=0", "identity"),
        ("*", "br"),
        ("identity", "identity"),
        ("GZIP;q=0.5", "gzip"),
        ("br;q=nonsense, gzip", "gzip"),
    ],
)
def test_choose_encoding(header: str, expected: str) -> None:
    assert choose_encoding(header) == expected


def test_cache_is_bounded_and_keyed_by_config() -> None:
    cache = WidgetCache(size=2)
    first = cache.get({"site": "a"})
    assert cache.get({"site": "a"}) is first
    cache.get({"site": "b"})
    cache.get({"site": "c"})
    assert cache.get({"site": "a"}) is not first  # evicted, built again


def test_gated_inline_hashes_cover_only_inline_gated_scripts() -> None:
    html = (
        '<script src="/a.js"></script><script>live()</script>'
        '<script type="text/plain" data-consent="statistics" data-src="/s.js"></script>'
        '<script type="text/plain" data-consent="statistics">track("x");</script>'
    )
    assert gated_inline_hashes(html) == ["'sha256-" + _b64sha('track("x");') + "'"]


def _b64sha(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_demo_page_csp_allows_exactly_its_inline_gated_script(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(demo=True)
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    assert "style-src 'self';" in csp
    hashes = gated_inline_hashes(page.text)
    assert len(hashes) == 1
    assert f"script-src 'self' {hashes[0]};" in csp
    assert "/v1/sites/demo/widget.js" in page.text
