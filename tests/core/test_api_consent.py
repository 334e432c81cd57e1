"""The public consent contract (DESIGN.md v1): answers, cookie, audit rows (C15, C16, C19, C22)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.settings import DEMO_CONFIG

from ..conftest import FakeClock, post_consent
from .helpers import cookie_attributes, stored_rows

URL = "/v1/sites/demo/consent"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
FULL = {
    "choices": {"statistics": True, "third-party": False},
    "action": "save",
    "language": "sv",
    "policy_version": "2026-11-01",
    "page": "http://localhost/nyheter/konferens?utm_source=mail#x",
    "widget_version": "1.0.0",
}


def test_post_answers_201_with_every_category_and_a_signed_cookie(
    client: TestClient, database_url: str
) -> None:
    answer = post_consent(client, FULL, headers={"user-agent": FIREFOX})
    assert answer.status_code == 201
    body = answer.json()
    assert set(body) == {
        "consent_id",
        "choices",
        "policy_version",
        "given_at",
        "expires_at",
        "token",
    }
    assert body["choices"] == {"necessary": True, "statistics": True, "third-party": False}
    given = datetime.fromisoformat(body["given_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert (expires - given).days == 365
    assert len(body["token"]) < 200
    cookie = cookie_attributes(answer.headers["set-cookie"])
    assert cookie["name"] == "consent" and cookie["value"] == body["token"]
    assert cookie["path"] == "/" and cookie["samesite"] == "Lax"
    assert cookie["max-age"] == str(365 * 86400)
    assert "secure" not in cookie  # plain http on localhost only
    assert "httponly" not in cookie  # the widget reads it
    assert answer.headers["cache-control"] == "no-store"


def test_c19_one_row_with_every_proof_field(client: TestClient, database_url: str) -> None:
    answer = post_consent(client, FULL, headers={"user-agent": FIREFOX})
    (row,) = stored_rows(database_url)
    assert row.consent_id == answer.json()["consent_id"]
    assert row.site_id == "demo" and row.action == "save" and row.language == "sv"
    assert dict(row.choices) == answer.json()["choices"]
    assert row.policy_version == "2026-11-01" and row.widget_version == "1.0.0"
    assert row.page == "http://localhost/nyheter/konferens"
    assert row.browser == "Firefox/Linux"
    site_hash = client.app.state.kakor.sites.get("demo").texts_hash("sv")  # type: ignore[attr-defined]
    assert row.texts_hash == site_hash and len(row.texts_hash) == 64
    assert row.created_at.tzinfo is not None and row.gpc is False
    assert len(row.hash) == 64 and row.prev_hash == "0" * 64


@pytest.mark.parametrize(
    ("peer", "whole", "kept"),
    [
        ("203.0.113.77", "203.0.113.77", "203.0.113.0/24"),
        ("2002:cb00:714d::1", "cb00:714d", "203.0.113.0/24"),  # 6to4 of 203.0.113.77
        ("2001:db8:abcd:12::77", "2001:db8:abcd:12", "2001:db8:abcd::/48"),
    ],
)
def test_c20_stored_address_is_minimised(
    make_client: Callable[..., TestClient], database_url: str, peer: str, whole: str, kept: str
) -> None:
    client = make_client(peer=(peer, 5000))
    assert post_consent(client, {"action": "reject-all"}).status_code == 201
    (row,) = stored_rows(database_url)
    assert row.ip == kept
    everything = json.dumps([r.to_dict() for r in stored_rows(database_url)])
    assert whole not in everything


def test_existing_cookie_keeps_its_consent_id(client: TestClient, database_url: str) -> None:
    first = post_consent(client, {"action": "accept-all"}).json()
    second = post_consent(client, {"action": "reject-all"})  # the client sends the cookie back
    assert second.json()["consent_id"] == first["consent_id"]
    client.cookies.clear()
    third = post_consent(client, {"action": "reject-all", "token": first["token"]})
    assert third.json()["consent_id"] == first["consent_id"]
    assert [r.consent_id for r in stored_rows(database_url)] == [first["consent_id"]] * 3


def test_get_reads_the_verified_cookie(client: TestClient) -> None:
    assert client.get(URL).status_code == 404
    given = post_consent(client, {"action": "save", "choices": {"third-party": True}}).json()
    answer = client.get(URL)
    assert answer.status_code == 200
    assert answer.json()["consent_id"] == given["consent_id"]
    assert answer.json()["choices"] == given["choices"]
    assert "Cookie" in answer.headers["vary"]


def test_head_answers_as_get_and_never_writes(client: TestClient, database_url: str) -> None:
    # A link checker's HEAD once fell through to the withdrawal branch: a row and a cookie.
    absent = client.head(URL)
    assert absent.status_code == 404
    assert "set-cookie" not in absent.headers
    assert stored_rows(database_url) == []
    given = post_consent(client, {"action": "accept-all"}).json()
    present = client.head(URL)
    assert present.status_code == 200
    assert present.content == b""
    assert "set-cookie" not in present.headers
    assert client.get(URL).json()["choices"] == given["choices"]
    assert [r.action for r in stored_rows(database_url)] == ["accept-all"]


def test_c22_forged_cookie_is_no_consent_not_an_error(client: TestClient) -> None:
    token = post_consent(client, {"action": "accept-all"}).json()["token"]
    payload, stamp, signature = token.split(".")
    client.cookies.clear()
    for forged in (f"{payload}.{stamp}.{signature[:-4]}AAAA", "x.y.z", "%%%", token[:-1]):
        answer = client.get(URL, headers={"cookie": f"consent={forged}"})
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "no_consent"


def test_c15_expired_cookie_is_no_consent(client: TestClient, clock: FakeClock) -> None:
    post_consent(client, {"action": "reject-all"})
    clock.advance(179 * 86400)
    assert client.get(URL).status_code == 200  # a refusal is not re-asked within 6 months
    clock.advance(187 * 86400)
    assert client.get(URL).status_code == 404


def test_c15_new_policy_version_asks_again(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    client = make_client()
    token = post_consent(client, {"action": "reject-all"}).json()["token"]
    newer = tmp_path / "site.toml"
    newer.write_text(DEMO_CONFIG.read_text().replace('"2026-11-01"', '"2026-12-01"'))
    updated = make_client(config_path=newer)
    assert updated.get(URL, headers={"cookie": f"consent={token}"}).status_code == 404


def test_delete_withdraws_keeps_id_and_sets_necessary_only(
    client: TestClient, database_url: str
) -> None:
    given = post_consent(client, {"action": "accept-all"}).json()
    answer = client.delete(URL)
    assert answer.status_code == 200
    assert answer.json()["consent_id"] == given["consent_id"]
    assert answer.json()["choices"] == {
        "necessary": True,
        "statistics": False,
        "third-party": False,
    }
    assert cookie_attributes(answer.headers["set-cookie"])["value"] == answer.json()["token"]
    assert client.get(URL).json()["choices"]["statistics"] is False
    assert [r.action for r in stored_rows(database_url)] == ["accept-all", "withdraw"]


def test_c16_sec_gpc_records_a_gpc_refusal(client: TestClient, database_url: str) -> None:
    answer = client.post(URL, json={}, headers={"sec-gpc": "1"})
    assert answer.status_code == 201
    assert answer.json()["choices"] == {
        "necessary": True,
        "statistics": False,
        "third-party": False,
    }
    (row,) = stored_rows(database_url)
    assert row.action == "gpc" and row.gpc is True


def test_text_plain_json_is_accepted_for_preflight_free_posts(client: TestClient) -> None:
    answer = client.post(
        URL, content=json.dumps({"action": "reject-all"}), headers={"content-type": "text/plain"}
    )
    assert answer.status_code == 201


# --- guards: each refusal is a clear 4xx in the one shape and writes nothing -------------


def _refused(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error"}
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        (
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "malformed_json",
        ),
        (
            {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}},
            400,
            "malformed_json",
        ),
        (
            {
                "content": b"action=save",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
            415,
            "unsupported_media_type",
        ),
        ({"content": b'{"action":"save"}'}, 415, "unsupported_media_type"),
        ({"json": {"action": "save", "pad": "x" * 9000}}, 413, "payload_too_large"),
        ({"json": {"action": "save", "choices": {"marketing": True}}}, 422, "invalid_field"),
        ({"json": {"action": "save", "choices": {"statistics": 1}}}, 422, "invalid_field"),
        ({"json": {"action": "save", "policy_version": "1999"}}, 422, "invalid_field"),
        (
            {"json": {"action": "save"}, "headers": {"origin": "https://evil.example"}},
            403,
            "origin_not_allowed",
        ),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    client: TestClient, database_url: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    _refused(client.post(URL, **kwargs), status, code)
    assert stored_rows(database_url) == []


def test_unknown_site_is_404(client: TestClient, database_url: str) -> None:
    _refused(client.post("/v1/sites/nope/consent", json={"action": "save"}), 404, "unknown_site")
    _refused(client.get("/v1/sites/nope/config"), 404, "unknown_site")
    assert stored_rows(database_url) == []


def test_422_names_the_bad_field(client: TestClient) -> None:
    answer = post_consent(client, {"action": "save", "choices": {"statistics": "ja"}})
    assert answer.json()["error"]["message"].startswith("choices.statistics:")


def test_chunked_body_over_the_limit_is_413(client: TestClient, database_url: str) -> None:
    def chunks() -> Any:
        yield b'{"action":"save","pad":"'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    answer = client.post(URL, content=chunks(), headers={"content-type": "application/json"})
    _refused(answer, 413, "payload_too_large")
    assert stored_rows(database_url) == []


def test_rate_limit_429_with_retry_after(
    make_client: Callable[..., TestClient], database_url: str, clock: FakeClock
) -> None:
    client = make_client(rate_limit=None)  # the demo site's own limit: 30 a minute
    for _ in range(30):
        assert post_consent(client, {"action": "reject-all"}).status_code == 201
    answer = post_consent(client, {"action": "reject-all"})
    _refused(answer, 429, "rate_limited")
    assert int(answer.headers["retry-after"]) >= 1
    assert len(stored_rows(database_url)) == 30


def test_rate_limit_setting_overrides_and_zero_turns_it_off(
    make_client: Callable[..., TestClient],
) -> None:
    strict = make_client(rate_limit=2)
    assert [post_consent(strict, {"action": "save"}).status_code for _ in range(3)] == [
        201,
        201,
        429,
    ]
    off = make_client(rate_limit=0)
    assert {post_consent(off, {"action": "save"}).status_code for _ in range(50)} == {201}


# --- origins and CORS ---------------------------------------------------------------------


def test_no_origin_is_not_refused_for_that_alone(client: TestClient) -> None:
    answer = post_consent(client, {"action": "save"})
    assert answer.status_code == 201
    assert "access-control-allow-origin" not in answer.headers


def test_self_origin_gets_credentialed_cors_and_preflight(client: TestClient) -> None:
    origin = {"origin": "http://localhost"}
    answer = post_consent(client, {"action": "save"}, headers=origin)
    assert answer.status_code == 201
    assert answer.headers["access-control-allow-origin"] == "http://localhost"
    assert answer.headers["access-control-allow-credentials"] == "true"
    preflight = client.options(URL, headers={**origin, "access-control-request-method": "DELETE"})
    assert preflight.status_code == 204
    assert "DELETE" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-max-age"] == "86400"
    refused = client.options(URL, headers={"origin": "http://localhost:9999"})
    _refused(refused, 403, "origin_not_allowed")


def test_self_is_the_public_urls_origin_when_set(make_client: Callable[..., TestClient]) -> None:
    """With CONSENT_PUBLIC_URL, "self" no longer follows whatever Host a request names."""
    client = make_client(public_url="https://consent.example.se/kakor")
    public = {"origin": "https://consent.example.se"}
    assert post_consent(client, {"action": "save"}, headers=public).status_code == 201
    spoofed = {"origin": "http://evil.example", "host": "evil.example"}
    _refused(post_consent(client, {"action": "save"}, headers=spoofed), 403, "origin_not_allowed")


def test_listed_origin_on_another_host(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    config = tmp_path / "site.toml"
    config.write_text(
        DEMO_CONFIG.read_text().replace(
            'origins = ["self"]', 'origins = ["https://www.example.se"]'
        )
    )
    client = make_client(config_path=config)
    ok = post_consent(client, {"action": "save"}, headers={"origin": "https://www.example.se"})
    assert ok.headers["access-control-allow-origin"] == "https://www.example.se"
    _refused(
        post_consent(client, {"action": "save"}, headers={"origin": "http://localhost"}),
        403,
        "origin_not_allowed",
    )


def test_secure_and_domain_cookie_attributes(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    config = tmp_path / "site.toml"
    config.write_text(
        DEMO_CONFIG.read_text().replace(
            'cookie_name = "consent"', 'cookie_name = "kakor"\ncookie_domain = "example.se"'
        )
    )
    https = make_client(config_path=config, base_url="https://consent.example.se")
    cookie = cookie_attributes(post_consent(https, {"action": "save"}).headers["set-cookie"])
    assert (
        cookie["name"] == "kakor" and cookie["secure"] is True and cookie["domain"] == "example.se"
    )


def test_the_app_leaves_the_process_alone(make_client: Callable[..., TestClient]) -> None:
    """Starting and serving the app changes no interpreter-wide setting: an app embedded
    in another process, or many in one test run, must not retune that process's GIL
    hand-over or its garbage collector."""
    import gc
    import sys

    switch, threshold, frozen = sys.getswitchinterval(), gc.get_threshold(), gc.get_freeze_count()
    client = make_client()
    assert post_consent(client, FULL).status_code == 201
    assert (sys.getswitchinterval(), gc.get_threshold()) == (switch, threshold)
    assert gc.get_freeze_count() == frozen
