"""The one stack every request takes (Edge, exception handling, router): what it counts,
refuses and answers, for the consent route as for any other."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from consent_service.settings import Settings
from consent_service.web.app import create_app
from consent_service.web.state import AppState

from ..conftest import FakeClock
from .helpers import stored_rows

URL = "/v1/sites/demo/consent"


@pytest.fixture
def service(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> Iterator[tuple[TestClient, Starlette]]:
    app = create_app(make_settings(rate_limit=5), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, app


def test_each_request_is_counted_once_under_the_route_template(
    service: tuple[TestClient, Starlette], database_url: str
) -> None:
    client, _ = service
    for _ in range(2):
        client.post(URL, json={"action": "accept-all"})
        client.post(URL, json={"action": "bogus"})
    for _ in range(3):  # the 5th write passes; the 6th and 7th are over the limit of 5: 429
        client.post(URL, json={"action": "reject-all"})
    client.get("/v1/sites/demo/nothing-here")
    metrics = client.get("/metrics").text
    line = (
        'kakor_http_requests_total{route="/v1/sites/{site}/consent",method="POST",status="%s"} %d'
    )
    assert line % ("201", 3) in metrics
    assert line % ("422", 2) in metrics
    assert line % ("429", 2) in metrics
    assert 'route="unmatched",method="GET",status="404"} 1' in metrics
    assert [r.action for r in stored_rows(database_url)] == [
        "accept-all",
        "accept-all",
        "reject-all",
    ]


def test_an_unexpected_error_is_a_500_in_the_one_shape_and_reaches_the_server(
    service: tuple[TestClient, Starlette], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client, app = service
    state: AppState = app.state.kakor

    def broken(*args: object) -> str:
        raise RuntimeError("signing key vanished")

    state.signer.sign = broken  # type: ignore[method-assign,assignment]
    answer = client.post(URL, json={"action": "accept-all"})
    assert answer.status_code == 500
    assert answer.json() == {"error": {"code": "internal_error", "message": "internal error"}}
    assert "signing key vanished" not in answer.text
    assert sum("unhandled error on POST" in r.getMessage() for r in caplog.records) == 1
    assert stored_rows(database_url) == []
    with pytest.raises(RuntimeError, match="vanished"):  # the server sees it, as it logs it
        TestClient(app).post(URL, json={"action": "accept-all"})
    metrics = client.get("/metrics").text
    assert 'route="/v1/sites/{site}/consent",method="POST",status="500"} 2' in metrics


def test_oversized_heads_wrong_methods_and_paths_and_a_root_path(
    service: tuple[TestClient, Starlette], make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    client, _ = service
    oversized = client.get(URL, headers={"x-big": "a" * 20_000})
    assert oversized.status_code == 431
    assert oversized.json()["error"]["code"] == "headers_too_large"
    assert oversized.headers["connection"] == "close"
    wrong = client.put(URL)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    assert client.post(URL + "/extra", json={}).status_code == 404
    with TestClient(create_app(make_settings(), clock=clock), root_path="/kakor") as mounted:
        answer = mounted.post("/kakor" + URL, json={"action": "accept-all"})
        assert answer.status_code == 201
        assert answer.json()["choices"]["statistics"] is True
    metrics = client.get("/metrics").text
    assert 'route="unmatched",method="GET",status="431"} 1' in metrics  # refused before routing


def test_a_client_that_hangs_up_mid_body_is_counted_499_and_never_logged(
    make_settings: Callable[..., Settings],
    clock: FakeClock,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No 500, no error in the log, nothing raised to the server, no row."""
    app = create_app(make_settings(), clock=clock)
    statuses: list[int] = []
    raised: list[BaseException] = []

    async def receive() -> Message:  # uvicorn's answer once the connection is gone
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

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

    async def hang_up(receive: Receive, send: Send) -> str:
        async with app.router.lifespan_context(app):
            try:
                await app(dict(scope), receive, send)
            except BaseException as exc:  # whatever reached the server
                raised.append(exc)
            state: AppState = app.state.kakor
            return state.metrics.render(None)

    with caplog.at_level(logging.INFO):
        metrics = asyncio.run(hang_up(receive, send))
    assert raised == []
    assert statuses == [499]
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert (
        'kakor_http_requests_total{route="/v1/sites/{site}/consent",method="POST",status="499"} 1'
        in metrics
    )
    assert 'status="500"' not in metrics
    assert stored_rows(database_url) == []
