"""Issue 18, the service's side: a refused origin is readable and says what to change;
the Consent Mode snippet and its hash are published; the widget's inlined config holds
the first layer's needs only, and names every declared third party (C7, C17)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.settings import DEMO_CONFIG
from consent_service.sites import ConfigError, load_sites
from consent_service.widget.route import widget_config
from consent_service.widget.snippet import CSP_SOURCE, SCRIPT

from ..conftest import post_consent
from .helpers import stored_rows

FULL = {"action": "accept-all", "choices": {"statistics": True, "third-party": True}}


def test_a_refused_origin_can_read_why_and_nothing_is_written(
    client: TestClient, database_url: str
) -> None:
    origin = "https://www.annan-webbplats.se"
    answer = post_consent(client, FULL, headers={"origin": origin})
    assert answer.status_code == 403
    assert answer.headers["access-control-allow-origin"] == origin
    assert answer.headers["access-control-allow-credentials"] == "true"
    error = answer.json()["error"]
    assert error["code"] == "origin_not_allowed"
    assert f"origin '{origin}' is not allowed for site 'demo'" in error["message"]
    assert "add it to origins in [sites.demo]" in error["message"]
    assert "set-cookie" not in answer.headers
    assert stored_rows(database_url) == []


@pytest.mark.parametrize("origin", ["null", "https://x.se\\evil", "javascript:alert(1)"])
def test_an_origin_that_is_no_origin_gets_no_cors_headers(client: TestClient, origin: str) -> None:
    answer = post_consent(client, FULL, headers={"origin": origin})
    assert answer.status_code == 403
    assert "access-control-allow-origin" not in answer.headers


def test_the_consent_mode_snippet_and_its_hash_are_published(client: TestClient) -> None:
    answer = client.get("/v1/consent-mode-snippet")
    assert answer.status_code == 200
    body = answer.json()
    digest = base64.b64encode(hashlib.sha256(body["script"].encode()).digest()).decode()
    assert body["csp"] == f"'sha256-{digest}'" == CSP_SOURCE
    assert body["script"] == SCRIPT and body["html"] == f"<script>{SCRIPT}</script>"
    for signal in ("analytics_storage", "ad_storage", "ad_user_data", "ad_personalization"):
        assert f'{signal}:"denied"' in SCRIPT
    assert answer.headers["access-control-allow-origin"] == "*"


def _demo_config() -> dict[str, Any]:
    return load_sites(DEMO_CONFIG).get("demo").public_config("https://consent.example.se")


def test_widget_config_carries_the_first_layer_and_the_config_the_rest() -> None:
    full = _demo_config()
    inlined = widget_config(full)
    assert set(inlined["texts"]) == {"sv"}
    assert "settings_title" not in inlined["texts"]["sv"]
    assert inlined["texts"]["sv"]["accept_all"] == "Godkänn alla"
    for category in inlined["categories"]:
        assert set(category["texts"]) == {"sv"}
        for service in category["services"]:
            assert set(service) == {"cookies"}
            assert all(set(k) == {"name"} for k in service["cookies"])
    assert "cookie_domain" not in inlined and "reopen_button" not in inlined
    # What the widget fetches later is all there.
    assert set(full["texts"]) == {"sv", "en"}
    assert full["endpoints"]["config"] == "https://consent.example.se/v1/sites/demo/config"
    assert full["categories"][1]["services"][0]["name"] == "Matomo"


def test_c7_third_parties_are_derived_from_the_config() -> None:
    assert _demo_config()["third_parties"] == [
        "Google Ireland Ltd / Vimeo Inc.",
        "Meta Platforms Ireland Ltd",
    ]


@pytest.mark.parametrize(("value", "shown"), [("true", True), ("false", False)])
def test_reopen_button_setting(tmp_path: Any, value: str, shown: bool) -> None:
    path = tmp_path / "site.toml"
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    path.write_text(
        text.replace('cookie_name = "consent"', f'cookie_name = "consent"\nreopen_button = {value}')
    )
    config = load_sites(path).get("demo").public_config("https://consent.example.se")
    assert config["reopen_button"] is shown
    assert widget_config(config).get("reopen_button", False) is shown


def test_reopen_button_must_be_a_boolean(tmp_path: Any) -> None:
    path = tmp_path / "site.toml"
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    path.write_text(
        text.replace('cookie_name = "consent"', 'cookie_name = "consent"\nreopen_button = "yes"')
    )
    with pytest.raises(ConfigError, match=r"reopen_button: must be true or false"):
        load_sites(path)
