"""The consent-driven CSP: a service's origins are admitted only once its category is (C1, C11, C12, C22)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from consent_service.gating.gate import csp_for
from consent_service.settings import DEMO_CONFIG
from consent_service.sites import load_sites

from ..conftest import FakeClock
from .conftest import COMBINATIONS, cookie, forged_token, token_for, token_with

CSP = "/v1/sites/demo/csp"
VIDEO = "https://www.youtube-nocookie.com https://player.vimeo.com https://www.facebook.com"
STATS = "https://stats.example.org"


def policy(added: str = "") -> str:
    """The expected header with ``added`` appended to each gated directive."""
    more = f" {added}" if added else ""
    return (
        f"default-src 'self'; script-src 'self'{more}; frame-src 'self'{more}; "
        f"img-src 'self' data:{more}; connect-src 'self'{more}; object-src 'none'; "
        "base-uri 'self'"
    )


NECESSARY_ONLY = policy()
#: The demo's statistics service is self-hosted (a relative script, no origins): it adds nothing.
DEMO_EXPECTED = {
    (False, False): policy(),
    (True, False): policy(),
    (False, True): policy(VIDEO),
    (True, True): policy(VIDEO),
}
#: With Matomo on another host, statistics admits that host (taken from the script URL).
EDITED_EXPECTED = {
    (False, False): policy(),
    (True, False): policy(STATS),
    (False, True): policy(VIDEO),
    (True, True): policy(f"{STATS} {VIDEO}"),
}


def _ids(choices: dict[str, bool]) -> str:
    return f"stat={choices['statistics']}-tp={choices['third-party']}"


def _csp(client: TestClient, **kwargs: object) -> str:
    answer = client.get(CSP, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 204, answer.text
    assert answer.content == b""
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["vary"] == "Cookie"
    return answer.headers["content-security-policy"]


@pytest.mark.parametrize("choices", COMBINATIONS, ids=_ids)
def test_csp_for_every_combination_pure(choices: dict[str, bool]) -> None:
    site = load_sites(DEMO_CONFIG).get("demo")
    full = {"necessary": True, **choices}
    assert csp_for(site, full) == DEMO_EXPECTED[choices["statistics"], choices["third-party"]]


@pytest.mark.parametrize("choices", COMBINATIONS, ids=_ids)
def test_csp_header_for_every_combination_c11(
    make_client: Callable[..., TestClient],
    edited_config: Callable[..., Path],
    choices: dict[str, bool],
) -> None:
    for config, expected in (
        (DEMO_CONFIG, DEMO_EXPECTED),
        (
            edited_config(
                ('script = "/demo/assets/stats.js"', 'script = "https://stats.example.org/m.js"')
            ),
            EDITED_EXPECTED,
        ),
    ):
        client = make_client(config_path=config)
        token = token_for(client, choices)
        key = (choices["statistics"], choices["third-party"])
        assert _csp(client, headers=cookie(token)) == expected[key]


def test_no_cookie_is_necessary_only_c1(client: TestClient) -> None:
    assert _csp(client) == NECESSARY_ONLY


def test_forged_expired_and_outdated_cookies_are_necessary_only_c22(
    client: TestClient, clock: FakeClock
) -> None:
    assert _csp(client, headers=cookie(forged_token(clock))) == NECESSARY_ONLY
    assert _csp(client, headers=cookie("a.b.c")) == NECESSARY_ONLY
    old = token_with(clock, policy_version="2025-01-01", mask=0b11)
    assert _csp(client, headers=cookie(old)) == NECESSARY_ONLY
    token = token_for(client, {"statistics": True, "third-party": True})
    assert _csp(client, headers=cookie(token)) == policy(VIDEO)
    clock.advance(365 * 86400 + 1)
    assert _csp(client, headers=cookie(token)) == NECESSARY_ONLY


def test_withdrawal_closes_the_policy_again_c14(client: TestClient) -> None:
    assert client.post("/v1/sites/demo/consent", json={"action": "accept-all"}).status_code == 201
    assert _csp(client) == policy(VIDEO)
    assert client.delete("/v1/sites/demo/consent").status_code == 200
    assert _csp(client) == NECESSARY_ONLY


def test_widget_origin_is_added_to_script_and_connect_only(client: TestClient) -> None:
    header = _csp(client, headers={"Kakor-Widget-Origin": "https://consent.example.se"})
    assert header == (
        "default-src 'self'; script-src 'self' https://consent.example.se; frame-src 'self'; "
        "img-src 'self' data:; connect-src 'self' https://consent.example.se; "
        "object-src 'none'; base-uri 'self'"
    )


@pytest.mark.parametrize(
    "bad",
    ["javascript:alert(1)", "https://x.se; script-src *", "https://x.se/path", "'unsafe-inline'"],
)
def test_a_bad_widget_origin_is_422_naming_the_field(client: TestClient, bad: str) -> None:
    answer = client.get(CSP, headers={"Kakor-Widget-Origin": bad})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_field"
    assert answer.json()["error"]["message"].startswith("Kakor-Widget-Origin:")


def test_a_query_parameter_cannot_widen_the_policy(client: TestClient) -> None:
    """A crafted link must not admit an attacker's origin into a visitor's policy."""
    header = _csp(client, params={"widget_origin": "https://evil.example"})
    assert "evil" not in header
    assert header == NECESSARY_ONLY


@pytest.mark.parametrize("method", ["HEAD", "POST", "PUT", "DELETE"])
def test_any_method_gets_the_same_policy(client: TestClient, method: str) -> None:
    """nginx's auth_request subrequest may carry the visitor's method."""
    token = token_for(client, {"third-party": True})
    answer = client.request(method, CSP, headers=cookie(token))
    assert answer.status_code == 204
    assert answer.headers["content-security-policy"] == policy(VIDEO)


def test_unknown_site_is_404(client: TestClient) -> None:
    answer = client.get("/v1/sites/nope/csp")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "unknown_site"
