"""Admin access: bearer tokens stored as hashes, scoped to sites and roles, throttled (C23)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import cast

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.testclient import TestClient

from consent_service.admin.auth import FREE_FAILURES, FailureThrottle, authenticate, hash_token
from consent_service.cli.main import main
from consent_service.settings import Settings
from consent_service.store import Store
from consent_service.web.app import create_app

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


def _in_parallel(app: Starlette, tokens: list[str]) -> list[httpx.Response]:
    """GET /admin/v1/me once per token, all at once, from one client address."""

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.9", 40000))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://localhost") as http,
        ):
            requests = (http.get("/admin/v1/me", headers=bearer(t)) for t in tokens)
            return await asyncio.gather(*requests)

    return asyncio.run(go())


@pytest.mark.parametrize("parallel", [FREE_FAILURES + 1, 30])
def test_c23_parallel_wrong_tokens_get_only_the_free_failures(
    make_settings: Callable[..., Settings],
    make_token: Callable[..., str],
    two_sites: Path,
    clock: FakeClock,
    parallel: int,
) -> None:
    """C23: wrong tokens sent at once cannot all pass the check before one is counted.

    Well-formed wrong tokens, so that each one waits for the store's lookup.
    """
    good = make_token("demo")
    wrong = [good[:-4] + f"{n:04d}" for n in range(parallel // 2)]
    wrong += [f"kakor_{n:012x}_{'A' * 43}" for n in range(parallel - len(wrong))]
    app = create_app(make_settings(config_path=two_sites), clock=clock)
    answers = _in_parallel(app, wrong)
    statuses = [a.status_code for a in answers]
    assert statuses.count(401) == FREE_FAILURES, statuses
    assert statuses.count(429) == parallel - FREE_FAILURES, statuses
    for answer in answers:
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) >= 1
            assert answer.json()["error"]["code"] == "rate_limited"


def test_c23_parallel_right_tokens_are_never_refused(
    make_settings: Callable[..., Settings],
    make_token: Callable[..., str],
    two_sites: Path,
    clock: FakeClock,
) -> None:
    """C23: a page's parallel requests with a valid token all pass, however many."""
    good = make_token("demo")
    app = create_app(make_settings(config_path=two_sites), clock=clock)
    answers = _in_parallel(app, [good] * 30)
    assert [a.status_code for a in answers] == [200] * 30


async def test_c23_attempts_in_flight_hold_back_only_what_could_exceed_the_free_failures() -> None:
    """C23: the throttle counts attempts sent at once as if they came one after another."""
    clock = FakeClock()
    throttle = FailureThrottle(clock)
    for _ in range(FREE_FAILURES):
        assert await throttle.admit("192.0.2.1") == 0
    sixth = asyncio.create_task(throttle.admit("192.0.2.1"))
    await asyncio.sleep(0)
    assert not sixth.done()  # five in flight could still use up the free failures
    assert await throttle.admit("192.0.2.2") == 0  # another address is not held up
    throttle.succeeded("192.0.2.1")
    throttle.release("192.0.2.1")
    assert await sixth == 0  # one right token ended: room for the next attempt
    for _ in range(FREE_FAILURES):
        throttle.failed("192.0.2.1")
        throttle.release("192.0.2.1")
    assert await throttle.admit("192.0.2.1") == FailureThrottle.penalty(FREE_FAILURES)
    # Once the pause is over, one attempt at a time, as when they come one by one.
    clock.advance(FailureThrottle.penalty(FREE_FAILURES))
    assert await throttle.admit("192.0.2.1") == 0
    seventh = asyncio.create_task(throttle.admit("192.0.2.1"))
    await asyncio.sleep(0)
    assert not seventh.done()
    throttle.failed("192.0.2.1")
    throttle.release("192.0.2.1")
    assert await seventh == FailureThrottle.penalty(FREE_FAILURES + 1)


async def test_c23_a_lookup_that_raises_counts_no_failure_and_holds_nothing() -> None:
    """C23: a store error is neither a wrong token nor a slot kept forever."""

    class BrokenStore:
        async def find_admin_token(self, token_id: str) -> None:
            raise OSError("database gone")

    token = f"kakor_{'0' * 12}_{'A' * 43}"
    request = Request({"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]})
    throttle = FailureThrottle(FakeClock())
    for _ in range(3 * FREE_FAILURES):
        with pytest.raises(OSError, match="database gone"):
            await authenticate(request, cast(Store, BrokenStore()), throttle, "192.0.2.1")
    assert throttle.wait("192.0.2.1") == 0
    admitted = [await throttle.admit("192.0.2.1") for _ in range(FREE_FAILURES)]
    assert admitted == [0] * FREE_FAILURES
