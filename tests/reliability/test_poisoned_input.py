"""One visitor's bad input never fails another's consent (C19: every 201 is stored).

Each value below was once accepted at the door and then failed the whole group commit
it landed in (or, deep JSON, the request with a 500): every concurrent visitor of that
batch got 503 and was not recorded. Now each is refused with a 4xx in the error shape
before it reaches a batch, and writes nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from consent_service.audit.verify import verify_rows
from consent_service.store import open_store

from ..conftest import signed
from .conftest import sqlite_rows
from .server import Server, running

#: Bodies that must be refused (422) and written nowhere, on either store.
POISONED: list[tuple[str, dict[str, Any]]] = [
    ("surrogate-in-widget_version", {"action": "accept-all", "widget_version": "\ud800"}),
    ("surrogate-in-page", {"action": "accept-all", "page": "https://x.se/\udfff"}),
    ("nul-in-page", {"action": "accept-all", "page": "https://x.se/a\u0000b"}),
    ("nul-in-widget_version", {"action": "accept-all", "widget_version": "1.0\u0000"}),
    ("control-in-page", {"action": "reject-all", "page": "https://x.se/\u0007"}),
    ("c1-control-in-page", {"action": "reject-all", "page": "https://x.se/\u0085"}),
    ("tab-in-page", {"action": "reject-all", "page": "https://x.se/a\tb"}),
    ("formula-widget_version", {"action": "accept-all", "widget_version": '=HYPERLINK("x")'}),
    ("plus-widget_version", {"action": "accept-all", "widget_version": "+1"}),
    ("at-widget_version", {"action": "accept-all", "widget_version": "@SUM(A1)"}),
    ("newline-widget_version", {"action": "accept-all", "widget_version": "1.0\n"}),
    ("surrogate-token", {"action": "accept-all", "token": "\ud800"}),
    ("surrogate-key", {"action": "accept-all", "\ud800": 1}),
    ("surrogate-category", {"action": "save", "choices": {"\udbff": True}}),
]


def _body(value: dict[str, Any]) -> bytes:
    """JSON text as a client sends it: lone surrogates as ``\\u`` escapes."""
    return json.dumps(value).encode("ascii")


@pytest.mark.parametrize(("name", "body"), POISONED, ids=[n for n, _ in POISONED])
def test_an_unstorable_value_is_refused_at_the_door(
    client: TestClient, database_url: str, name: str, body: dict[str, Any]
) -> None:
    answer = client.post(
        "/v1/sites/demo/consent",
        content=_body(body),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == "invalid_field"
    assert error["message"]
    assert sqlite_rows(database_url) == 0


def test_a_withdrawal_body_of_null_is_refused(client: TestClient, database_url: str) -> None:
    """The schema says the DELETE body is an object; JSON ``null`` writes no withdrawal."""
    answer = client.request(
        "DELETE",
        "/v1/sites/demo/consent",
        content=b"null",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_field"
    assert sqlite_rows(database_url) == 0
    # no body at all is still a withdrawal
    assert client.delete("/v1/sites/demo/consent").status_code == 200
    assert sqlite_rows(database_url) == 1


@pytest.mark.parametrize("depth", [33, 1000, 4000])
def test_deeply_nested_json_is_a_400_not_a_500(
    client: TestClient, database_url: str, depth: int
) -> None:
    """JSON nested past the interpreter's recursion limit (well under 8 KiB) is refused."""
    for opener, closer in (("[", "]"), ('{"a":', "}")):
        body = '{"action":"accept-all","page":' + opener * depth + "1" + closer * depth + "}"
        if len(body) > 8192:
            continue
        answer = client.post(
            "/v1/sites/demo/consent",
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "malformed_json"
    assert sqlite_rows(database_url) == 0


def test_brackets_inside_strings_are_not_nesting(client: TestClient) -> None:
    """Only structure counts: a page path full of ``[`` is a valid URL, not deep JSON."""
    page = "https://x.se/" + "[" * 100 + "{" * 100
    answer = client.post("/v1/sites/demo/consent", json={"action": "accept-all", "page": page})
    assert answer.status_code == 201, answer.text


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    with running(database_url, tmp_path / "server.log") as srv:
        yield srv


def test_poisoned_requests_among_many_valid_ones_fail_alone(
    server: Server, database_url: str
) -> None:
    """Concurrent visitors share group commits; the poisoned ones among them get 422 and
    every valid one gets its 201 and its row (the chain verifies)."""
    valid = [{"action": "accept-all" if n % 2 else "reject-all"} for n in range(60)]
    bodies = list(valid)
    for k, (_, poison) in enumerate(POISONED):
        bodies.insert(3 + 4 * k, poison)

    async def go() -> list[int]:
        url = f"{server.base_url}/v1/sites/demo/consent"
        headers = {"Content-Type": "application/json"}
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=40)) as http:
            answers = await asyncio.gather(
                *(http.post(url, content=_body(b), headers=headers) for b in bodies)
            )
        return [a.status_code for a in answers]

    statuses = asyncio.run(go())
    poisoned = {id(p) for _, p in POISONED}
    assert [s for b, s in zip(bodies, statuses, strict=True) if id(b) in poisoned] == [422] * len(
        POISONED
    )
    assert [s for b, s in zip(bodies, statuses, strict=True) if id(b) not in poisoned] == [
        201
    ] * len(valid)

    async def check() -> tuple[int, bool]:
        store = signed(open_store(database_url))
        await store.open()
        try:
            rows = [r async for r in store.iter_rows()]
            return len(rows), (await verify_rows(store.iter_rows())).ok
        finally:
            await store.close()

    assert asyncio.run(check()) == (len(valid), True)


def test_a_value_the_door_missed_is_refused_by_the_store_alone(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: were the check at the door ever to miss a value, the store's
    refusal is a 422 ``unstorable_value`` for that request (not a 503 outage), counted
    in ``kakor_store_refused_total`` and not in ``kakor_store_errors_total``."""
    monkeypatch.setattr("consent_service.consent.rules.is_storable", lambda text: True)
    answer = client.post(
        "/v1/sites/demo/consent",
        content=_body({"action": "accept-all", "page": "https://x.se/\udfff"}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "unstorable_value"
    assert sqlite_rows(database_url) == 0
    metrics = client.get("/metrics").text
    assert "kakor_store_refused_total 1\n" in metrics
    assert "kakor_store_errors_total 1" not in metrics
    assert client.post("/v1/sites/demo/consent", json={"action": "reject-all"}).status_code == 201
