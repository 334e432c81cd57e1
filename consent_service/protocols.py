"""uvicorn's HTTP/1.1 protocols, answering in the service's one error shape.

Two answers come from the server before the app sees a request, and uvicorn writes
them as plain text: a 400 for bytes that are not a valid request (including headers
still incomplete past ``CONSENT_MAX_HEADER_BYTES`` under h11), and a 503 for a request
past ``CONSENT_MAX_CONNECTIONS``. These subclasses give both the JSON error shape
(``{"error": {"code", "message"}}``), so a client never has to parse two formats:

- :meth:`send_400_response` is the protocol's own hook for the 400; it is overridden;
- the concurrency cap is taken over from uvicorn (whose check is inline in the parser
  callbacks and answers in text) by :class:`Busy`, an ASGI app in front of the
  service that applies the same counts uvicorn does.

``serve`` passes the class as uvicorn's ``http`` option (:func:`protocol_class`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .errors import error_body

#: The 400 for bytes that are not an HTTP/1.1 request.
BAD_REQUEST = error_body(
    "bad_request", "the request is not valid HTTP/1.1, or its headers are too large"
)
#: The 503 past the concurrency cap.
BUSY = error_body(
    "server_busy", "the service is at its connection limit (CONSENT_MAX_CONNECTIONS); retry"
)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("ascii")


class Busy:
    """ASGI app: a JSON 503 when the server has ``limit`` connections or requests in flight.

    The counts are uvicorn's own (its connections and request tasks, shared by every
    protocol instance of the server), compared as uvicorn compares them: the request
    is refused when the open connections, this one included, reach ``limit``, or the
    tasks, this request's included, exceed it.
    """

    def __init__(self, app: ASGIApp, protocol: Any, limit: int) -> None:
        self.app = app
        self._connections: set[Any] = protocol.connections
        self._tasks: set[asyncio.Task[None]] = protocol.tasks
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            len(self._connections) >= self.limit or len(self._tasks) > self.limit
        ):
            body = _json(BUSY)
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode("ascii")),
                        (b"retry-after", b"1"),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


class _ErrorShape:
    """What both protocols share: the JSON 400, and the cap handed to :class:`Busy`."""

    transport: asyncio.Transport
    server_state: Any
    limit_concurrency: int | None
    app: ASGIApp

    def _take_over_the_cap(self) -> None:
        if self.limit_concurrency:
            self.app = Busy(self.app, self, self.limit_concurrency)
            self.limit_concurrency = None

    def send_400_response(self, msg: str) -> None:
        """Answer bytes that are not a request with the JSON 400 and close (uvicorn's hook)."""
        body = _json(BAD_REQUEST)
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


class JsonH11Protocol(_ErrorShape, H11Protocol):
    """uvicorn's h11 protocol with the JSON 400 and 503."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._take_over_the_cap()


class JsonHttpToolsProtocol(_ErrorShape, HttpToolsProtocol):
    """uvicorn's httptools protocol with the JSON 400 and 503."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._take_over_the_cap()


def protocol_class(parser: str) -> type[asyncio.Protocol]:
    """The protocol for uvicorn's ``http`` option: ``"h11"`` or ``"httptools"``."""
    return {"h11": JsonH11Protocol, "httptools": JsonHttpToolsProtocol}[parser]
