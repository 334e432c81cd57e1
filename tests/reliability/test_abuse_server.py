"""Abuse against a real server socket: header limits, slow clients, per-address limits.

No absolute latency thresholds: "not blocked" means the normal requests all finish
while the slow ones are still being held (or before the slow one is timed out).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import sqlite_rows
from .server import Server, running

BODY_TIMEOUT = 2  # seconds: CONSENT_BODY_TIMEOUT for these servers


HEADER_TIMEOUT = 2  # seconds: CONSENT_HEADER_TIMEOUT for these servers


@pytest.fixture(params=["httptools", "h11"])
def parser(request: pytest.FixtureRequest) -> str:
    """Each server test runs under both parsers ``CONSENT_HTTP_PARSER`` offers."""
    value: str = request.param
    return value


@pytest.fixture
def server(tmp_path: Path, database_url: str, parser: str) -> Iterator[Server]:
    env = {
        "CONSENT_BODY_TIMEOUT": str(BODY_TIMEOUT),
        "CONSENT_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "CONSENT_RATE_LIMIT": "2",
        "CONSENT_HTTP_PARSER": parser,
    }
    with running(database_url, tmp_path / "server.log", env=env) as srv:
        yield srv


async def _raw(server: Server, data: bytes, timeout: float = 10, *, whole: bool = False) -> bytes:
    """Send ``data`` on a fresh connection and read the answer (``whole``: until closed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(-1 if whole else 65536), timeout)
    finally:
        writer.close()


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_oversized_headers_are_refused_and_the_server_stays_up(server: Server) -> None:
    """Headers over 16 KiB: 431 when complete, 400 and closed while still incomplete."""

    # The complete requests stay near 20 KiB: over the limit, yet small enough to reach
    # the server in one read. Much larger ones may arrive in pieces, and a piece that is
    # still incomplete past the limit is (rightly) the 400 case below.
    async def go() -> list[int]:
        huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
        many = (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: a\r\n" % i for i in range(2000))
            + b"\r\n"
        )
        endless = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 40_000
        return [
            _status(await _raw(server, huge)),
            _status(await _raw(server, many)),
            _status(await _raw(server, endless)),
        ]

    huge, many, endless = asyncio.run(go())
    assert huge == 431
    assert many == 431
    assert endless == 400
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


def _error(answer: bytes) -> tuple[int, str, dict[str, Any]]:
    """Status, content type and the parsed JSON body of a raw HTTP/1.1 answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return _status(answer), headers.get("content-type", ""), json.loads(body)


def test_the_servers_own_refusals_have_the_one_error_shape(server: Server) -> None:
    """What the parser refuses before the app runs is JSON in the error shape too."""

    async def go() -> list[bytes]:
        return [
            await _raw(server, b"NOT HTTP AT ALL\r\n\r\n", whole=True),
            await _raw(
                server,
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 40_000,
                whole=True,
            ),
            await _raw(
                server,
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
                whole=True,
            ),
        ]

    garbage, endless, big = (_error(a) for a in asyncio.run(go()))
    for answer, status, code in (
        (garbage, 400, "bad_request"),
        (endless, 400, "bad_request"),
        (big, 431, "headers_too_large"),
    ):
        assert answer[0] == status
        assert answer[1] == "application/json"
        assert answer[2]["error"]["code"] == code
        assert answer[2]["error"]["message"]


def test_a_refused_client_that_keeps_sending_still_reads_its_refusal(server: Server) -> None:
    """Lingering close: a client still sending a huge head after the server refused it
    reads the whole JSON 400, then the server's close. Closing on unread bytes makes the
    kernel send RST instead, and the client loses the answer."""

    async def go() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Endless: ")
            for _ in range(64):  # 1 MiB: far past the 16 KiB limit
                writer.write(b"a" * 16384)
                await writer.drain()
            writer.write_eof()
            return await asyncio.wait_for(reader.read(-1), 10)
        finally:
            writer.close()

    status, content_type, body = _error(asyncio.run(go()))
    assert (status, content_type) == (400, "application/json")
    assert body["error"]["code"] == "bad_request"
    assert httpx.get(f"{server.base_url}/healthz").status_code == 200


def test_past_max_connections_the_503_has_the_error_shape(
    tmp_path: Path, database_url: str
) -> None:
    """CONSENT_MAX_CONNECTIONS: the request that finds the server full gets a JSON 503
    with Retry-After; once connections close, requests are served again."""

    async def go(srv: Server) -> tuple[bytes, int]:
        idle = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(2)]
        try:
            await asyncio.sleep(0.2)  # the server has accepted both
            refused = await _raw(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", whole=True)
        finally:
            for _, writer in idle:
                writer.close()
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient() as client:
            after = (await client.get(f"{srv.base_url}/healthz")).status_code
        return refused, after

    env = {"CONSENT_MAX_CONNECTIONS": "3"}
    with running(database_url, tmp_path / "server.log", env=env) as srv:
        refused, after = asyncio.run(go(srv))
    status, media, body = _error(refused)
    assert (status, media) == (503, "application/json")
    assert body["error"]["code"] == "server_busy"
    assert b"\r\nretry-after: 1\r\n" in refused.lower()
    assert after == 200


def test_chunked_body_over_the_limit_is_413_on_the_wire(server: Server, database_url: str) -> None:
    body = b'{"action":"gpc","page":"https://x.se/' + b"a" * 9000 + b'"}'
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 1000]), body[i : i + 1000])
        for i in range(0, len(body), 1000)
    )
    request = (
        b"POST /v1/sites/demo/consent HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )
    assert _status(asyncio.run(_raw(server, request))) == 413
    assert sqlite_rows(database_url) == 0


def test_a_slow_body_does_not_block_others_and_is_cut_off(
    server: Server, database_url: str
) -> None:
    """A client dribbling its body gets 408 after CONSENT_BODY_TIMEOUT; others are served meanwhile."""

    async def slow() -> tuple[int, float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        body = b'{"action": "accept-all"}' + b" " * 200
        writer.write(
            b"POST /v1/sites/demo/consent HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        started = time.monotonic()
        answer = b""
        for byte in body:
            writer.write(bytes([byte]))
            try:
                await writer.drain()
                answer = await asyncio.wait_for(reader.read(4096), 0.05)
            except (TimeoutError, ConnectionError):
                continue
            if answer:
                break
        writer.close()
        return _status(answer), time.monotonic() - started

    async def normal(client: httpx.AsyncClient) -> float:
        await asyncio.sleep(0.2)
        answer = await client.get("/v1/sites/demo/config")
        assert answer.status_code == 200
        return time.monotonic()

    async def go() -> tuple[tuple[int, float], list[float], float]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            started = time.monotonic()
            slow_task = asyncio.create_task(slow())
            done = await asyncio.gather(*(normal(client) for _ in range(10)))
            return await slow_task, [t - started for t in done], started

    (status, held), normal_done, _ = asyncio.run(go())
    assert status == 408, status
    assert held >= BODY_TIMEOUT * 0.9
    assert max(normal_done) < held, "normal requests waited for the slow client"
    assert sqlite_rows(database_url) == 0


def test_a_client_hanging_up_mid_body_is_no_server_error(server: Server, database_url: str) -> None:
    """Dropped connections are normal on mobile networks: 499 in the metrics, no traceback."""

    async def hang_up() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"POST /v1/sites/demo/consent HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
            b'{"action": "acc'
        )
        await writer.drain()
        await asyncio.sleep(0.2)  # the server is waiting for the rest of the body
        writer.close()
        await writer.wait_closed()

    asyncio.run(hang_up())
    label = 'kakor_http_requests_total{route="/v1/sites/{site}/consent",method="POST",status="%s"}'
    deadline = time.monotonic() + 5
    while label % "499" not in (metrics := httpx.get(f"{server.base_url}/metrics").text):
        assert time.monotonic() < deadline, metrics
        time.sleep(0.05)
    assert label % "499" + " 1" in metrics
    assert 'status="500"' not in metrics
    log = server.log_path.read_text()
    assert "Traceback" not in log and "unhandled error" not in log, log[-2000:]
    assert sqlite_rows(database_url) == 0


def test_a_head_that_stalls_is_cut_off_with_a_408(server: Server) -> None:
    """Slowloris: a client that sends its headers a byte at a time, or stops half-way, or
    opens a connection and says nothing, is answered 408 in the error shape and closed
    once CONSENT_HEADER_TIMEOUT has passed since the head began; a normal request on
    another connection meanwhile is served."""

    async def dribble(writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.25)

    async def go() -> tuple[list[bytes], float, int]:
        started = time.monotonic()
        streams = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        half, slow, _silent = streams
        half[1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        feeder = asyncio.ensure_future(dribble(slow[1]))
        async with httpx.AsyncClient() as client:
            served = (await client.get(f"{server.base_url}/healthz")).status_code
        answers = [
            await asyncio.wait_for(reader.read(-1), HEADER_TIMEOUT * 5) for reader, _ in streams
        ]
        took = time.monotonic() - started
        feeder.cancel()
        for _, writer in streams:
            writer.close()
        return answers, took, served

    answers, took, served = asyncio.run(go())
    assert served == 200
    for answer in answers:
        status, media, body = _error(answer)
        assert (status, media, body["error"]["code"]) == (
            408,
            "application/json",
            "request_timeout",
        )
    assert took >= HEADER_TIMEOUT  # not before the limit (the bound after it is wait_for's)


def test_a_head_in_time_is_served_however_it_arrives(server: Server) -> None:
    """The limit is on the whole head, not on a pause: a head sent in pieces within the
    time, and a keep-alive connection's second request, are served."""

    async def go() -> list[int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        codes = []
        for _ in range(2):
            for piece in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(HEADER_TIMEOUT / 5)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head.lower())[1])  # type: ignore[index]
            await reader.readexactly(length)
            codes.append(_status(head))
        writer.close()
        return codes

    assert asyncio.run(go()) == [200, 200]


def test_slow_headers_do_not_block_others(server: Server) -> None:
    """Fifty connections that never finish their headers; normal requests still get through."""

    async def go() -> list[int]:
        held = []
        for _ in range(50):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            await writer.drain()
            held.append(writer)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            codes = [(await client.get("/v1/sites/demo/config")).status_code for _ in range(10)]
        still_open = sum(not w.is_closing() for w in held)
        for writer in held:
            writer.close()
        assert still_open == 50  # the normal requests finished while every slow one was held
        return codes

    assert asyncio.run(go()) == [200] * 10


def test_rate_limit_is_per_address_behind_a_trusted_proxy(
    server: Server, database_url: str
) -> None:
    """From the trusted proxy (127.0.0.1), X-Forwarded-For is the address that is limited."""

    def post(address: str) -> int:
        return httpx.post(
            f"{server.base_url}/v1/sites/demo/consent",
            json={"action": "gpc"},
            headers={"X-Forwarded-For": address},
        ).status_code

    assert [post("203.0.113.7") for _ in range(3)] == [201, 201, 429]
    assert [post("198.51.100.9") for _ in range(2)] == [201, 201]
    assert sqlite_rows(database_url) == 4
