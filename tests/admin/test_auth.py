"""Admin access: bearer tokens stored as hashes, scoped to sites and roles, throttled (C23)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from consent_service.auth import FREE_FAILURES, FailureThrottle, hash_token
from consent_service.cli import main

from ..conftest import FakeClock
from ..rawdb import RawDb
from .conftest import bearer

ROUTES = (
    "/admin/v1/me",
    "/admin/v1/log/verify",
    "/admin/v1/sites/demo/consents",
    "/admin/v1/sites/demo/consents/manifest",
    "/admin/v1/sites/demo/consents/abc",
    "/admin/v1/sites/demo/stats",
    "/admin/v1/sites/demo/access-log",
)


def test_c23_every_admin_route_refuses_a_missing_or_wrong_token(
    admin_client: TestClient, make_token: Callable[..., str]
) -> None:
    good = make_token("demo")
    wrong = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for path in ROUTES:
        for headers in ({}, bearer(wrong), bearer("not-a-token"), {"Authorization": good}):
            answer = admin_client.get(path, headers=headers)
            assert answer.status_code == 401, (path, headers)
            assert answer.json()["error"]["code"] == "unauthorized"
            assert answer.headers["www-authenticate"].startswith("Bearer")
            admin_client.app.state.kakor_admin_throttle.succeeded("testclient")  # type: ignore[attr-defined]


def test_c23_a_token_sees_only_its_sites(
    admin_client: TestClient, make_token: Callable[..., str]
) -> None:
    other = make_token("other")
    for path in ROUTES[2:]:
        answer = admin_client.get(path, headers=bearer(other))
        assert answer.status_code == 403, path
        assert answer.json()["error"]["code"] == "forbidden"
    assert admin_client.get("/admin/v1/sites/other/stats", headers=bearer(other)).status_code == 200
    both = make_token("demo", "other")
    me = admin_client.get("/admin/v1/me", headers=bearer(both)).json()
    assert [s["id"] for s in me["sites"]] == ["demo", "other"]
    assert me["role"] == "officer"


def test_c23_a_viewer_sees_rates_but_no_rows(
    admin_client: TestClient, make_token: Callable[..., str]
) -> None:
    viewer = make_token("demo", role="viewer")
    assert admin_client.get("/admin/v1/sites/demo/stats", headers=bearer(viewer)).status_code == 200
    for path in ROUTES[1:5]:
        answer = admin_client.get(path, headers=bearer(viewer))
        assert answer.status_code == 403, path


def test_only_the_hash_is_stored_and_a_revoked_token_is_refused(
    admin_client: TestClient,
    make_token: Callable[..., str],
    database_url: str,
) -> None:
    token = make_token("demo")
    db = RawDb(database_url)
    try:
        stored = db.execute("SELECT token_id, token_hash FROM admin_tokens")
        dump = db.dump()
    finally:
        db.close()
    [(token_id, token_hash)] = stored
    assert token_hash == hash_token(token)
    secret = token[len("kakor_") + len(token_id) + 1 :]
    assert len(secret) == 43
    assert token not in dump
    assert secret not in dump
    assert admin_client.get("/admin/v1/me", headers=bearer(token)).status_code == 200
    assert main(["token", "revoke", token_id, "--database", database_url]) == 0
    assert admin_client.get("/admin/v1/me", headers=bearer(token)).status_code == 401


def test_repeated_failures_from_one_address_are_slowed(
    admin_client: TestClient, make_token: Callable[..., str], clock: FakeClock
) -> None:
    good = make_token("demo")
    for _ in range(FREE_FAILURES):
        assert admin_client.get("/admin/v1/me", headers=bearer("kakor_x")).status_code == 401
    slowed = admin_client.get("/admin/v1/me", headers=bearer(good))
    assert slowed.status_code == 429
    assert slowed.json()["error"]["code"] == "rate_limited"
    assert int(slowed.headers["retry-after"]) >= 1
    clock.advance(FailureThrottle.penalty(FREE_FAILURES) + 0.1)
    assert admin_client.get("/admin/v1/me", headers=bearer(good)).status_code == 200
    # a success forgives: the next wrong token is again only a 401
    assert admin_client.get("/admin/v1/me", headers=bearer("kakor_x")).status_code == 401


def test_the_penalty_doubles_and_is_capped() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(clock)
    for _ in range(FREE_FAILURES - 1):
        throttle.failed("192.0.2.1")
    assert throttle.wait("192.0.2.1") == 0
    waits = []
    for _ in range(12):
        throttle.failed("192.0.2.1")
        waits.append(throttle.wait("192.0.2.1"))
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(waits) == 300.0
    assert throttle.wait("192.0.2.2") == 0
