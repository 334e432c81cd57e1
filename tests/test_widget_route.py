"""``GET /v1/sites/{site}/widget.js``: one request carries the code and the site's config."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
from starlette.testclient import TestClient

from consent_service.settings import DEMO_CONFIG
from consent_service.sites import load_sites
from consent_service.web.app import create_app
from consent_service.widget import route as widget
from consent_service.widget.route import (
    PLACEHOLDER,
    Encoded,
    WidgetCache,
    choose_encoding,
    gated_inline_hashes,
    widget_config,
)

from .reliability.server import running

URL = "/v1/sites/demo/widget.js"
PUBLIC = "https://consent.example.se"


def _config_in(body: bytes) -> dict[str, object]:
    """The JSON literal the route put where the placeholder was."""
    text = body.decode()
    start = text.index('{"site"')
    config, _ = json.JSONDecoder().raw_decode(text, start)
    assert isinstance(config, dict)
    return config


def test_serves_javascript_with_the_public_config_inlined(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(public_url=PUBLIC)
    answer = client.get(URL, headers={"Accept-Encoding": "identity"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["cache-control"] == "public, max-age=300"
    assert answer.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in answer.headers
    assert PLACEHOLDER.encode() not in answer.content
    assert _config_in(answer.content) == widget_config(client.get("/v1/sites/demo/config").json())


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


#: What the widget appends to the inlined config's ``api`` base, one per endpoint.
ENDPOINTS = ("config", "consent", "declaration", "receipt")


def _endpoints(client: TestClient, host: str) -> Any:
    """The URLs the served widget calls: its ``api`` base and each endpoint's name."""
    body = client.get(URL, headers={"Accept-Encoding": "identity", "Host": host})
    assert body.status_code == 200, body.text
    config: Any = _config_in(body.content)
    assert "endpoints" not in config
    return {name: config["api"] + name for name in ENDPOINTS}


def test_the_inlined_api_base_gives_the_public_config_s_endpoints(client: TestClient) -> None:
    full = client.get("/v1/sites/demo/config").json()["endpoints"]
    assert _endpoints(client, "localhost") == full


def test_endpoints_are_under_the_public_url_whatever_the_host(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(public_url=PUBLIC + "/kakor/")
    for host in ("localhost", "evil.example", "consent.example.se"):
        assert _endpoints(client, host) == {
            "config": PUBLIC + "/kakor/v1/sites/demo/config",
            "consent": PUBLIC + "/kakor/v1/sites/demo/consent",
            "declaration": PUBLIC + "/kakor/v1/sites/demo/declaration",
            "receipt": PUBLIC + "/kakor/v1/sites/demo/receipt",
        }


def test_without_a_public_url_localhost_endpoints_follow_its_host_and_port(
    client: TestClient,
) -> None:
    assert _endpoints(client, "localhost:8001")["consent"] == (
        "http://localhost:8001/v1/sites/demo/consent"
    )
    answer = client.get(URL, headers={"Host": "127.0.0.1:8001"})
    # Built from Host: for the browser's cache only, and it says it varies with Host.
    assert answer.headers["cache-control"] == "private, max-age=300"
    assert answer.headers["vary"] == "Accept-Encoding, Host"


def test_host_spellings_share_one_widget_and_a_mount_point_is_kept(
    client: TestClient, make_settings: Callable[..., Any]
) -> None:
    assert _endpoints(client, "LocalHost:08001")["consent"] == (
        "http://localhost:8001/v1/sites/demo/consent"
    )
    _endpoints(client, "localhost:8001")
    assert client.app.state.kakor.widgets.builds == 1  # type: ignore[attr-defined]
    app = create_app(make_settings())
    with TestClient(app, base_url="http://localhost", root_path="/kakor") as mounted:
        answer = mounted.get("/kakor" + URL, headers={"Accept-Encoding": "identity"})
        config: Any = _config_in(answer.content)
    assert config["api"] + "consent" == "http://localhost/kakor/v1/sites/demo/consent"


def test_demo_endpoints_follow_any_plausible_host(make_client: Callable[..., TestClient]) -> None:
    client = make_client(demo=True)
    assert _endpoints(client, "192.168.1.5:8000")["declaration"] == (
        "http://192.168.1.5:8000/v1/sites/demo/declaration"
    )


@pytest.mark.parametrize("route", [URL, "/v1/sites/demo/config"])
@pytest.mark.parametrize("host", ["evil.example", "kakor.example.org", "localhost.evil.example"])
def test_without_a_public_url_any_other_host_gets_a_clear_500(
    client: TestClient, route: str, host: str
) -> None:
    """The attacker's Host never reaches a body: no URL to trust means no widget."""
    answer = client.get(route, headers={"Host": host})
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "public_url_not_configured"
    assert "CONSENT_PUBLIC_URL" in answer.json()["error"]["message"]
    assert host not in answer.text
    assert client.app.state.kakor.widgets.builds == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "host", ["localhost:99999", "local host", "localhost:80/x", "[::1", "a..b", "x" * 300]
)
def test_an_implausible_host_is_refused_and_builds_nothing(
    make_client: Callable[..., TestClient], host: str
) -> None:
    client = make_client(demo=True)
    for route in (URL, "/v1/sites/demo/config"):
        answer = client.get(route, headers={"Host": host})
        assert answer.status_code == 400, route
        assert answer.json()["error"]["code"] == "invalid_host"
    assert client.app.state.kakor.widgets.builds == 0  # type: ignore[attr-defined]


class _CompressSpy:
    """Stands in for ``brotli.compress``: counts calls and whether one ran on an event loop."""

    def __init__(self) -> None:
        self.calls = 0
        self.on_loop = 0
        self._compress = brotli.compress

    def __call__(self, body: bytes, **kwargs: Any) -> bytes:
        self.calls += 1
        try:
            asyncio.get_running_loop()
            self.on_loop += 1
        except RuntimeError:
            pass
        result: bytes = self._compress(body, **kwargs)
        return result


def test_distinct_hosts_share_one_body_compressed_once_off_the_loop(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _CompressSpy()
    monkeypatch.setattr(brotli, "compress", spy)
    client = make_client(public_url=PUBLIC)
    answers = [
        client.get(URL, headers={"Accept-Encoding": "br", "Host": f"h{n}.evil.example"})
        for n in range(40)
    ]
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert len({a.headers["etag"] for a in answers}) == 1
    assert b"evil" not in answers[0].content
    assert (spy.calls, spy.on_loop) == (1, 0)


def test_localhost_hosts_are_compressed_off_the_loop_and_bounded(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = _CompressSpy()
    monkeypatch.setattr(brotli, "compress", spy)
    client = make_client()
    for port in range(1, 41):
        answer = client.get(URL, headers={"Host": f"localhost:{port}"})
        assert answer.status_code == 200
        assert f"http://localhost:{port}/v1/".encode() in answer.content
    assert spy.on_loop == 0
    cache = client.app.state.kakor.widgets  # type: ignore[attr-defined]
    assert len(cache._items) <= widget.HOST_VARIANTS


def _site() -> Any:
    return load_sites(DEMO_CONFIG).get("demo")


async def test_concurrent_misses_share_one_build() -> None:
    cache = WidgetCache(size=4, pending=4)
    site = _site()
    results = await asyncio.gather(*(cache.get(site, "http://localhost") for _ in range(10)))
    assert all(r is results[0] for r in results)
    assert cache.builds == 1


async def test_builds_beyond_the_pending_bound_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The builder never queues more than ``pending`` builds: the route then sends it plain."""
    release = threading.Event()

    def slow(cls: type[Encoded], body: bytes) -> Encoded:
        release.wait(10)
        return cls.plain(body)

    monkeypatch.setattr(Encoded, "of", classmethod(slow))
    cache = WidgetCache(size=8, pending=2)
    site = _site()
    first = asyncio.ensure_future(cache.get(site, "http://a"))
    second = asyncio.ensure_future(cache.get(site, "http://b"))
    joined = asyncio.ensure_future(cache.get(site, "http://a"))
    await asyncio.sleep(0)
    assert await cache.get(site, "http://c") is None
    release.set()
    a, _, a_again = await asyncio.gather(first, second, joined)
    assert a is a_again and cache.builds == 2
    assert await cache.get(site, "http://c") is not None  # room again


def test_a_refused_build_is_served_plain_and_not_stored(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client()

    async def full(site: object, base_url: str) -> None:
        return None

    monkeypatch.setattr(client.app.state.kakor.widgets, "get", full)  # type: ignore[attr-defined]
    answer = client.get(URL, headers={"Accept-Encoding": "br"})
    assert answer.status_code == 200 and "content-encoding" not in answer.headers
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["etag"] == '"' + hashlib.sha256(answer.content).hexdigest()[:32] + '"'


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


async def test_cache_is_bounded_and_keyed_by_site_and_base_url() -> None:
    cache = WidgetCache(size=2)
    site = _site()
    first = await cache.get(site, "http://a")
    assert await cache.get(site, "http://a") is first
    await cache.get(site, "http://b")
    await cache.get(site, "http://c")
    assert await cache.get(site, "http://a") is not first  # evicted, built again
    assert cache.builds == 4


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


def test_a_real_server_serves_one_widget_whatever_the_host(tmp_path: Path) -> None:
    """uvicorn, h11 and the lifespan's warm-up: 20 Hosts at once, one body, one ETag."""

    async def fetch_all(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            return await asyncio.gather(
                *(
                    http.get(URL, headers={"Host": f"h{n}.evil.example", "Accept-Encoding": "br"})
                    for n in range(20)
                )
            )

    with running(
        f"sqlite:///{tmp_path / 'k.db'}",
        tmp_path / "server.log",
        env={"CONSENT_PUBLIC_URL": PUBLIC},
    ) as server:
        answers = asyncio.run(fetch_all(server.base_url))
        config = httpx.get(server.base_url + "/v1/sites/demo/config", headers={"Host": "evil"})
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1 and len({a.headers["etag"] for a in answers}) == 1
    assert answers[0].headers["content-encoding"] == "br"
    assert answers[0].headers["cache-control"] == "public, max-age=300"
    assert _config_in(answers[0].content) == widget_config(config.json())
    assert config.json()["endpoints"]["consent"] == PUBLIC + "/v1/sites/demo/consent"
    assert "vary" not in config.headers
