"""Bugs the fuzzers found, each pinned by the request that found it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from .conftest import sqlite_rows


@pytest.mark.parametrize(
    "page",
    ["http://a:99999/", "http://[::1/x", "http://a:xx/", "https://[zz]/"],
)
def test_page_with_bad_port_or_ipv6_is_422_not_500(
    client: TestClient, database_url: str, page: str
) -> None:
    """C20/C19: ``page`` whose port or IPv6 host cannot be parsed is refused and writes nothing."""
    answer = client.post("/v1/sites/demo/consent", json={"action": "accept-all", "page": page})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_field"
    assert answer.json()["error"]["message"].startswith("page:")
    assert sqlite_rows(database_url) == 0
