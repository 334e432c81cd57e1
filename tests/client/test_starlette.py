"""Starlette (and so FastAPI): ``request.state.consent`` from real signed tokens."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from consent_service.client import Reader
from consent_service.client.starlette import ConsentMiddleware

from .signed import CASES, Case, described, expected, reader


async def page(request: Request) -> JSONResponse:
    return JSONResponse(described(request.state.consent))


def app(site_reader: Reader) -> Starlette:
    return Starlette(
        routes=[Route("/", page)], middleware=[Middleware(ConsentMiddleware, reader=site_reader)]
    )


@pytest.mark.parametrize("case", CASES)
def test_c22_request_state_consent(case: Case) -> None:
    client = TestClient(app(reader()))
    if case.cookie is not None:
        client.cookies.set("consent", case.cookie)
    assert client.get("/").json() == expected(case)


@pytest.mark.parametrize("case", CASES[:2])
def test_a_blocking_reader_runs_off_the_event_loop(case: Case) -> None:
    """Any :class:`Reader` works (a remote one blocks on the network: a thread runs it)."""
    local = reader()

    class Wrapped:
        def read_cookies(self, cookies: dict[str, str]) -> object:
            return local.read_cookies(cookies)

    client = TestClient(app(Wrapped()))  # type: ignore[arg-type]
    client.cookies.set("consent", case.cookie or "")
    assert client.get("/").json() == expected(case)
