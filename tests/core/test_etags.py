"""``If-None-Match`` by RFC 9110: a list of entity tags, compared weakly, never by substring."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.datastructures import Headers
from starlette.testclient import TestClient

from consent_service.web.etags import not_modified, opaque_tags

CONFIG = "/v1/sites/demo/config"
WIDGET = "/v1/sites/demo/widget.js"


@pytest.mark.parametrize(
    ("field", "tags"),
    [
        ('"a"', ['"a"']),
        ('W/"a"', ['"a"']),
        (' "a" ,W/"b",  "c" ', ['"a"', '"b"', '"c"']),
        ('"a,b", "c"', ['"a,b"', '"c"']),  # a comma is a legal etagc
        (', ,"a",,', ['"a"']),  # empty list elements are allowed
        ('""', ['""']),
        ("*", ["*"]),
        (" * ", ["*"]),
        ("", []),
        ('"a", *', None),  # the wildcard stands alone
        ("a", None),  # unquoted
        ('"a', None),
        ('"a"b', None),
        ('"a" "b"', None),  # no comma between
        ('w/"a"', None),  # W/ is case-sensitive
        ('"a b"', None),  # no spaces inside
    ],
)
def test_opaque_tags(field: str, tags: list[str] | None) -> None:
    assert opaque_tags(field) == tags


def _headers(*values: str) -> Headers:
    return Headers(raw=[(b"if-none-match", v.encode("latin-1")) for v in values])


@pytest.mark.parametrize(
    ("values", "etag", "expected"),
    [
        (('"abc"',), '"abc"', True),
        (('W/"abc"',), '"abc"', True),  # weak comparison
        (('"abc"',), 'W/"abc"', True),
        (('"x", "abc"',), '"abc"', True),
        (('"x"', '"abc"'), '"abc"', True),  # several lines make one list
        (("*",), '"abc"', True),
        (('"xabcx"',), '"abc"', False),  # no substring matching
        (('"abc-gzip"',), '"abc"', False),
        (('"abc"x',), '"abc"', False),  # malformed: ignored
        (('"abc", *',), '"abc"', False),
        ((), '"abc"', False),
        (("",), '"abc"', False),
    ],
)
def test_not_modified(values: tuple[str, ...], etag: str, expected: bool) -> None:
    assert not_modified(_headers(*values), etag) is expected


def _status(client: TestClient, route: str, *fields: str) -> int:
    """The status of a conditional GET of ``route`` whose If-None-Match lines are ``fields``.

    ``{etag}`` and ``{core}`` in a field are the route's current ETag and its opaque part.
    """
    etag = client.get(route, headers={"Accept-Encoding": "gzip"}).headers["etag"]
    lines = [f.format(etag=etag, core=etag.strip('"')) for f in fields]
    headers = [("accept-encoding", "gzip"), *(("if-none-match", line) for line in lines)]
    return client.get(route, headers=headers).status_code


@pytest.mark.parametrize("route", [CONFIG, WIDGET])
@pytest.mark.parametrize(
    "fields",
    [
        ("{etag}",),
        ("W/{etag}",),
        ("*",),
        ('"other", {etag}',),
        (' "other" ,', "  W/{etag}  "),  # two lines, loose whitespace
    ],
)
def test_a_listed_tag_gets_304(client: TestClient, route: str, fields: tuple[str, ...]) -> None:
    assert _status(client, route, *fields) == 304


@pytest.mark.parametrize("route", [CONFIG, WIDGET])
@pytest.mark.parametrize(
    "field",
    [
        '"xx{core}yy"',
        '"xx{etag}yy"',
        '"{core}x"',
        '"x{core}"',
        "{etag}x",
        "{etag}, *",
        '"a b {etag}"',
        "x{etag}",
    ],
)
def test_a_tag_that_only_contains_the_etag_gets_200(
    client: TestClient, route: str, field: str
) -> None:
    assert _status(client, route, field) == 200


@pytest.mark.parametrize("public_url", [None, "https://consent.example.se"])
@pytest.mark.parametrize("route", [CONFIG, WIDGET])
def test_a_304_carries_the_etag_cache_control_and_vary(
    make_client: Callable[..., TestClient], route: str, public_url: str | None
) -> None:
    client = make_client(public_url=public_url)
    first = client.get(route)
    again = client.get(route, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    for name in ("etag", "cache-control", "vary"):
        assert again.headers.get(name) == first.headers.get(name), name
