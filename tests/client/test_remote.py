"""RemoteConsentReader: the service verifies, the site's backend keeps its answers a while."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from consent_service.client import RemoteConsentReader

from ..browser.conftest import start_service, stop_service
from ..conftest import FakeClock, post_consent
from .signed import NEW, sign


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the store is not what these tests are about."""
    return f"sqlite:///{tmp_path / 'kakor.db'}"


class Counting:
    """A fetch through the real app in-process, counting the consent lookups."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.lookups = 0
        self.down = False

    def __call__(self, url: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        if self.down:
            raise OSError("connection refused")
        self.lookups += url.endswith("/consent")
        self.client.cookies.clear()  # only the Cookie header the reader sends counts
        answer = self.client.get(url, headers=dict(headers))
        return answer.status_code, answer.content


@pytest.fixture
def served(make_client: Callable[..., TestClient]) -> tuple[TestClient, Counting]:
    client = make_client()
    return client, Counting(make_client())


def remote(fetch: Counting, clock: FakeClock, **kwargs: float) -> RemoteConsentReader:
    return RemoteConsentReader("http://localhost", "demo", fetch=fetch, clock=clock, **kwargs)  # type: ignore[arg-type]


def test_asks_the_service_once_per_ttl(
    served: tuple[TestClient, Counting], clock: FakeClock
) -> None:
    client, fetch = served
    token = post_consent(client, {"action": "save", "choices": {"statistics": True}}).json()[
        "token"
    ]
    reader = remote(fetch, clock, ttl=60)
    for _ in range(3):
        consent = reader.read_cookies({"consent": token})
        assert consent is not None and consent.allows("statistics")
        assert consent.allows_service("matomo") and not consent.allows_service("video")
    assert fetch.lookups == 1
    clock.advance(61)
    assert reader.read(token) is not None
    assert fetch.lookups == 2


def test_c22_no_consent_is_answered_and_kept_too(
    served: tuple[TestClient, Counting], clock: FakeClock
) -> None:
    _, fetch = served
    reader = remote(fetch, clock)
    forged = sign("not-the-service-key-0123456")
    assert reader.read(forged) is None
    assert reader.read(forged) is None
    assert fetch.lookups == 1
    assert reader.read(None) is None and reader.read("x" * 513) is None
    assert fetch.lookups == 1


def test_an_unreachable_service_is_no_consent_and_not_kept(
    served: tuple[TestClient, Counting], clock: FakeClock
) -> None:
    client, fetch = served
    token = post_consent(client, {"action": "accept-all"}).json()["token"]
    reader = remote(fetch, clock)
    assert reader.terms() is not None  # the config came while the service was up
    fetch.down = True
    assert reader.read(token) is None
    fetch.down = False
    assert reader.read(token) is not None


def test_the_cache_is_bounded(served: tuple[TestClient, Counting], clock: FakeClock) -> None:
    _, fetch = served
    reader = remote(fetch, clock, max_entries=2)
    tokens = [sign(NEW, mask=m) for m in range(3)]  # keys the service does not have
    for token in [*tokens, tokens[2], tokens[0]]:
        reader.read(token)
    assert fetch.lookups == 4  # tokens[0] fell out when tokens[2] came in


def test_only_http_service_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        RemoteConsentReader("file:///etc/passwd", "demo")


@pytest.mark.timeout(120)
def test_the_default_fetch_against_a_running_service(tmp_path: Path) -> None:
    """urllib over real HTTP, 404 ``no_consent`` included."""
    service = start_service(tmp_path)
    try:
        reader = RemoteConsentReader(service.url, "demo")
        request = urllib.request.Request(  # noqa: S310
            service.url + "/v1/sites/demo/consent",
            data=json.dumps({"action": "reject-all"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as posted:  # noqa: S310
            token = json.loads(posted.read())["token"]
        consent = reader.read(token)
        assert consent is not None and not consent.allows("statistics")
        assert reader.read(token + "x") is None
    finally:
        stop_service(service)
