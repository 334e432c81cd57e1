"""Bugs the fuzzers found, each pinned by the request that found it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from consent_service.consent.tokens import TokenSigner
from consent_service.settings import Secret
from consent_service.sites import ConfigError, parse_sites

from ..conftest import KEY, FakeClock
from ..properties.strategies import site_document
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


def test_cookie_from_a_replica_slightly_ahead_keeps_its_consent(
    client: TestClient, clock: FakeClock
) -> None:
    """C22/C15: replicas drift; a cookie stamped 2 s ahead is still this visitor's consent.

    itsdangerous refuses any negative age, so a consent given on a replica whose clock
    ran ahead was "no consent" on the others, and the next write got a new consent ID.
    """
    ahead = TokenSigner((Secret(KEY),), clock=FakeClock(clock() + 2))
    token = ahead.sign("demo", "replica-a-consent", "2026-11-01", 1)
    read = client.get("/v1/sites/demo/consent", headers={"Kakor-Token": token})
    assert read.status_code == 200
    assert read.json()["consent_id"] == "replica-a-consent"
    update = client.post(
        "/v1/sites/demo/consent", json={"action": "reject-all"}, headers={"Kakor-Token": token}
    )
    assert update.json()["consent_id"] == "replica-a-consent"
    far = TokenSigner((Secret(KEY),), clock=FakeClock(clock() + 3600)).sign(
        "demo", "x", "2026-11-01", 1
    )
    assert client.get("/v1/sites/demo/consent", headers={"Kakor-Token": far}).status_code == 404


@pytest.mark.parametrize(
    ("where", "value"),
    [("services", 5), ("cookies", 3), ("google_consent_mode", {"ad_storage": ["statistics"]})],
)
def test_config_with_wrong_shapes_is_a_config_error(where: str, value: object) -> None:
    """A non-list ``services``/``cookies`` or a list as a consent-mode category is named, not a TypeError."""
    document = site_document(["statistics"])
    site = document["sites"]["s"]
    if where == "services":
        site["categories"][1]["services"] = value
    elif where == "cookies":
        site["categories"][1]["services"][0]["cookies"] = value
    else:
        site["google_consent_mode"] = value
    with pytest.raises(ConfigError, match=where):
        parse_sites(document)
