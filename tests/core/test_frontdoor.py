"""The front door (consent_service.web.frontdoor): the consent route answered as the stack would."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from consent_service.settings import Settings
from consent_service.web.app import create_app
from consent_service.web.frontdoor import ServiceApp
from consent_service.web.state import AppState

from ..conftest import FakeClock
from .helpers import stored_rows

URL = "/v1/sites/demo/consent"
#: A header that only the test's dispatcher reads: send this request through Starlette's stack.
VIA_STACK = "x-test-via-stack"
# Differ between any two answers: a fresh consent ID is in each token and body.
VARYING = {"set-cookie", "content-length"}


class Dispatcher:
    """One app, two ways in: its front door, or Starlette's full stack when asked."""

    def __init__(self, app: ServiceApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(
            name == VIA_STACK.encode() for name, _ in scope["headers"]
        ):
            await Starlette.__call__(self.app, scope, receive, send)
        else:
            await self.app(scope, receive, send)


@pytest.fixture
def both(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> Iterator[tuple[TestClient, ServiceApp]]:
    app = create_app(make_settings(rate_limit=5), clock=clock)
    assert isinstance(app, ServiceApp)
    with TestClient(Dispatcher(app), raise_server_exceptions=False) as client:
        yield client, app


def _answer(response: httpx2.Response) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in response.headers.items() if k not in VARYING}
    try:
        body: Any = response.json()
    except ValueError:
        body = response.content
    if isinstance(body, dict) and "token" in body:  # keys and choices; the IDs are fresh
        body = {
            k: v
            for k, v in body.items()
            if k not in ("token", "consent_id", "given_at", "expires_at")
        }
    return response.status_code, headers, body


CASES: list[tuple[str, dict[str, Any]]] = [
    ("POST", {"json": {"action": "accept-all"}}),
    (
        "POST",
        {
            "json": {"action": "save", "choices": {"statistics": True}},
            "headers": {"origin": "http://localhost"},
        },
    ),
    ("POST", {"json": {"action": "bogus"}}),
    ("POST", {"content": b"{", "headers": {"content-type": "application/json"}}),
    ("POST", {"content": b"x=1", "headers": {"content-type": "application/x-www-form-urlencoded"}}),
    ("POST", {"json": {"action": "accept-all"}, "headers": {"origin": "https://evil.example"}}),
    ("GET", {}),
    ("HEAD", {}),
    ("DELETE", {}),
    (
        "OPTIONS",
        {"headers": {"origin": "http://localhost", "access-control-request-method": "POST"}},
    ),
]


@pytest.mark.parametrize(
    ("method", "options"), CASES, ids=[f"{m}-{i}" for i, (m, _) in enumerate(CASES)]
)
def test_front_door_answers_exactly_as_the_stack(
    both: tuple[TestClient, ServiceApp], method: str, options: dict[str, Any]
) -> None:
    client, _ = both
    options = dict(options)  # CASES is shared by every parametrisation
    headers = options.pop("headers", {})
    direct = client.request(method, URL, headers=headers, **options)
    client.cookies.clear()
    stacked = client.request(method, URL, headers={**headers, VIA_STACK: "1"}, **options)
    assert _answer(direct) == _answer(stacked)


def test_each_request_is_counted_once_under_the_route_template(
    both: tuple[TestClient, ServiceApp], database_url: str
) -> None:
    client, _ = both
    for via in ({}, {VIA_STACK: "1"}):
        client.post(URL, json={"action": "accept-all"}, headers=via)
        client.post(URL, json={"action": "bogus"}, headers=via)
    for _ in range(3):  # the 5th write passes; the 6th and 7th are over the limit of 5: 429
        client.post(URL, json={"action": "reject-all"})
    metrics = client.get("/metrics").text
    line = (
        'kakor_http_requests_total{route="/v1/sites/{site}/consent",method="POST",status="%s"} %d'
    )
    assert line % ("201", 3) in metrics
    assert line % ("422", 2) in metrics
    assert line % ("429", 2) in metrics
    assert [r.action for r in stored_rows(database_url)] == [
        "accept-all",
        "accept-all",
        "reject-all",
    ]


def test_an_unexpected_error_is_a_500_in_the_one_shape_and_reaches_the_server(
    both: tuple[TestClient, ServiceApp], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client, app = both
    state: AppState = app.state.kakor

    def broken(*args: object) -> str:
        raise RuntimeError("signing key vanished")

    state.signer.sign = broken  # type: ignore[method-assign,assignment]
    direct = client.post(URL, json={"action": "accept-all"})
    stacked = client.post(URL, json={"action": "accept-all"}, headers={VIA_STACK: "1"})
    assert _answer(direct) == _answer(stacked)
    assert direct.status_code == 500
    assert direct.json() == {"error": {"code": "internal_error", "message": "internal error"}}
    assert "signing key vanished" not in direct.text
    assert sum("unhandled error on POST" in r.getMessage() for r in caplog.records) == 2
    assert stored_rows(database_url) == []
    with pytest.raises(RuntimeError, match="vanished"):  # the server sees it, as it logs it
        TestClient(app).post(URL, json={"action": "accept-all"})
    metrics = client.get("/metrics").text
    assert 'route="/v1/sites/{site}/consent",method="POST",status="500"} 3' in metrics


def test_what_the_front_door_declines_still_gets_the_stack(
    both: tuple[TestClient, ServiceApp], make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    client, _ = both
    oversized = client.get(URL, headers={"x-big": "a" * 20_000})
    assert oversized.status_code == 431
    assert oversized.json()["error"]["code"] == "headers_too_large"
    wrong = client.put(URL)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    assert client.post(URL + "/extra", json={}).status_code == 404
    with TestClient(create_app(make_settings(), clock=clock), root_path="/kakor") as mounted:
        answer = mounted.post("/kakor" + URL, json={"action": "accept-all"})
        assert answer.status_code == 201
        assert answer.json()["choices"]["statistics"] is True


def test_a_client_that_hangs_up_mid_body_is_counted_499_and_never_logged(
    make_settings: Callable[..., Settings],
    clock: FakeClock,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Through either door: no 500, no error in the log, nothing raised to the server, no row."""
    app = create_app(make_settings(), clock=clock)
    assert isinstance(app, ServiceApp)
    statuses: list[int] = []
    raised: list[BaseException] = []

    async def receive() -> Message:  # uvicorn's answer once the connection is gone
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def door(stack: bool) -> None:
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": URL,
            "raw_path": URL.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"localhost"), (b"content-length", b"40")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        try:
            if stack:
                await Starlette.__call__(app, scope, receive, send)
            else:
                await app(scope, receive, send)
        except BaseException as exc:  # whatever reached the server
            raised.append(exc)

    async def both_doors() -> str:
        async with app.router.lifespan_context(app):
            await door(stack=False)
            await door(stack=True)
            state: AppState = app.state.kakor
            return state.metrics.render(None)

    with caplog.at_level(logging.INFO):
        metrics = asyncio.run(both_doors())
    assert raised == []
    assert statuses == [499, 499]
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert (
        'kakor_http_requests_total{route="/v1/sites/{site}/consent",method="POST",status="499"} 2'
        in metrics
    )
    assert 'status="500"' not in metrics
    assert stored_rows(database_url) == []
