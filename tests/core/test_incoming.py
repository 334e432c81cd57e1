"""IndexedHeaders answers every lookup exactly as Starlette's Headers does."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from consent_service.web.incoming import IndexedHeaders, IndexedRequest

from ..properties.strategies import PROPERTY

_names = st.sampled_from([b"origin", b"cookie", b"sec-gpc", b"content-type", b"x-a", b"host"])
_values = st.binary(max_size=8).map(lambda b: b.hex().encode())


@PROPERTY
@given(st.lists(st.tuples(_names, _values), max_size=8))
def test_lookups_match_starlette_headers(raw: list[tuple[bytes, bytes]]) -> None:
    indexed = IndexedHeaders({"headers": tuple(raw)})  # a server may pass any iterable
    plain = Headers(raw=list(raw))
    for name in ("origin", "Cookie", "SEC-GPC", "content-type", "x-a", "host", "absent"):
        assert indexed.get(name) == plain.get(name)
        assert indexed.get(name, "d") == plain.get(name, "d")
        assert (name in indexed) == (name in plain)
        assert indexed.getlist(name) == plain.getlist(name)
    assert list(indexed.items()) == list(plain.items())
    assert indexed.raw == plain.raw


def test_they_take_the_scope_s_headers_as_starlette_does() -> None:
    raw = ((b"host", b"x"), (b"origin", b"o"))
    scope: dict[str, Any] = {"headers": raw}
    indexed = IndexedHeaders(scope)
    assert scope["headers"] == list(raw) and type(scope["headers"]) is list
    assert indexed.raw == list(raw)


def test_the_request_uses_them_and_reads_cookies_from_every_cookie_header() -> None:
    scope = {
        "type": "http",
        "headers": [(b"cookie", b"a=1"), (b"origin", b"https://x.se"), (b"cookie", b"b=2")],
    }
    request = IndexedRequest(scope)
    assert isinstance(request.headers, IndexedHeaders)
    assert request.headers is request.headers
    assert request.headers["Origin"] == "https://x.se"
    assert request.cookies == {"a": "1", "b": "2"}
