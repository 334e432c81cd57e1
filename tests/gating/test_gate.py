"""The server-side script gate: a tracker loads only when the verified cookie allows it (C1, C11, C22)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from ..conftest import FakeClock
from .conftest import COMBINATIONS, cookie, forged_token, token_for, token_with

GATE = "/v1/sites/demo/gate/matomo.js"
STATS = "/demo/assets/stats.js"


def _get(client: TestClient, path: str = GATE, **kwargs: Any) -> Any:
    return client.get(path, follow_redirects=False, **kwargs)


def assert_blocked(answer: Any) -> None:
    """An empty script that must never be cached or shared between visitors."""
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["vary"] == "Cookie"
    assert "location" not in answer.headers
    body = answer.text
    assert re.fullmatch(r"/\*[^*]*\*/\s*", body), f"not just a comment: {body!r}"


def assert_allowed(answer: Any, location: str = STATS) -> None:
    assert answer.status_code == 307
    assert answer.headers["location"] == location
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["vary"] == "Cookie"


def test_no_cookie_gets_an_empty_script_c1(client: TestClient) -> None:
    assert_blocked(_get(client))


@pytest.mark.parametrize(
    "choices", COMBINATIONS, ids=lambda c: f"stat={c['statistics']}-tp={c['third-party']}"
)
def test_each_combination_of_choices_c11(client: TestClient, choices: dict[str, bool]) -> None:
    token = token_for(client, choices)
    answer = _get(client, headers=cookie(token))
    if choices["statistics"]:
        assert_allowed(answer)
    else:
        assert_blocked(answer)


def test_the_token_header_counts_like_the_cookie(client: TestClient) -> None:
    token = token_for(client, {"statistics": True})
    assert_allowed(_get(client, headers={"Kakor-Token": token}))


def test_the_browser_cookie_jar_after_consent_and_withdrawal_c14(client: TestClient) -> None:
    """The real flow: the Set-Cookie of the consent answer opens the gate, withdrawal closes it."""
    assert client.post("/v1/sites/demo/consent", json={"action": "accept-all"}).status_code == 201
    assert_allowed(_get(client))
    assert client.delete("/v1/sites/demo/consent").status_code == 200
    assert_blocked(_get(client))


def test_a_forged_cookie_is_no_consent_c22(client: TestClient, clock: FakeClock) -> None:
    assert_blocked(_get(client, headers=cookie(forged_token(clock))))
    assert_blocked(_get(client, headers=cookie("garbage.not.a-token")))


def test_an_expired_cookie_is_no_consent_c15(client: TestClient, clock: FakeClock) -> None:
    token = token_for(client, {"statistics": True})
    clock.advance(365 * 86400 - 60)
    assert_allowed(_get(client, headers=cookie(token)))
    clock.advance(120)
    assert_blocked(_get(client, headers=cookie(token)))


def test_an_old_policy_version_is_no_consent_c15(client: TestClient, clock: FakeClock) -> None:
    assert_allowed(
        _get(client, headers=cookie(token_with(clock, policy_version="2026-11-01", mask=1)))
    )
    assert_blocked(
        _get(client, headers=cookie(token_with(clock, policy_version="2025-01-01", mask=1)))
    )


def test_a_mask_naming_unknown_categories_is_no_consent(
    client: TestClient, clock: FakeClock
) -> None:
    assert_blocked(
        _get(client, headers=cookie(token_with(clock, policy_version="2026-11-01", mask=0b111)))
    )


def test_unknown_service_and_site_are_404_in_the_one_shape(client: TestClient) -> None:
    answer = _get(client, "/v1/sites/demo/gate/nope.js")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "unknown_service"
    answer = _get(client, "/v1/sites/nope/gate/matomo.js")
    assert answer.json()["error"]["code"] == "unknown_site"


def test_a_service_without_a_script_is_404_no_script(client: TestClient) -> None:
    answer = _get(client, "/v1/sites/demo/gate/video.js")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "no_script"


def test_absolute_scripts_and_required_services(
    make_client: Callable[..., TestClient], edited_config: Callable[..., Path]
) -> None:
    """An absolute script URL is redirected to as is; a required category's script always loads."""
    config = edited_config(
        ('script = "/demo/assets/stats.js"', 'script = "https://stats.example.org/m.js?x=1"'),
        (
            'provider = "Region Västmanland"\n\n[[sites.demo.categories.services.cookies]]\nname = "consent"',
            'provider = "Region Västmanland"\nscript = "/always.js"\n\n[[sites.demo.categories.services.cookies]]\nname = "consent"',
        ),
    )
    client = make_client(config_path=config)
    assert_blocked(_get(client))
    token = token_for(client, {"statistics": True})
    assert_allowed(_get(client, headers=cookie(token)), "https://stats.example.org/m.js?x=1")
    assert_allowed(_get(client, "/v1/sites/demo/gate/kakor.js"), "/always.js")


def test_gate_and_consent_read_the_same_token_when_header_and_cookie_differ(
    make_client: Callable[..., TestClient],
) -> None:
    """One rule for every route: the Kakor-Token header wins over the cookie (C22)."""
    client = make_client()
    refused = client.post("/v1/sites/demo/consent", json={"action": "reject-all"}).json()["token"]
    client.cookies.clear()
    allowed = client.post("/v1/sites/demo/consent", json={"action": "accept-all"}).json()["token"]
    client.cookies.clear()
    headers = {"cookie": f"consent={refused}", "kakor-token": allowed}
    state = client.get("/v1/sites/demo/consent", headers=headers)
    assert state.json()["choices"]["statistics"] is True
    gate = client.get("/v1/sites/demo/gate/matomo.js", headers=headers, follow_redirects=False)
    assert gate.status_code == 307
    only_cookie = client.get(
        "/v1/sites/demo/gate/matomo.js",
        headers={"cookie": f"consent={refused}"},
        follow_redirects=False,
    )
    assert only_cookie.status_code == 200
