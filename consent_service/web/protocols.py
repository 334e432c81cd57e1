"""uvicorn's HTTP/1.1 protocols with the service's limits and its one error shape.

What the server answers before the app sees a request, these subclasses answer in the
JSON error shape (``{"error": {"code", "message"}}``), and they add the two limits on
a request's head that uvicorn lacks:

- **size**: a request line and headers still incomplete past ``max_head_bytes`` get
  400 and the connection is closed. h11 enforces this itself
  (``h11_max_incomplete_event_size``); httptools buffers a head of any size, so here
  the bytes are counted as they arrive. A *complete* head over the limit gets 431
  from :class:`~consent_service.web.edge.Edge`, whichever parser read it.
- **time**: a head must be complete ``head_timeout`` seconds after its first byte (or
  after the connection opened): 408 and closed. Without it a client that sends one
  header byte a second (slowloris) holds its connection for ever, and enough of them
  reach ``CONSENT_MAX_CONNECTIONS``. Idle keep-alive connections are uvicorn's
  (``timeout_keep_alive``).

uvicorn writes its parser's 400 and the 503 past ``limit_concurrency`` as plain text:
:meth:`send_400_response` is the protocol's own hook for the first, and the cap is
taken over by :class:`Busy`, an ASGI app in front of the service that applies
uvicorn's own counts. :func:`protocol_class` makes the configured class that ``serve``
passes as uvicorn's ``http`` option.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any

import h11
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from consent_service.web.errors import error_body

#: Seconds a refused connection keeps reading (and dropping) what the client still
#: sends before it closes. See :meth:`_HeadGuard._linger`.
LINGER_SECONDS = 2.0


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("ascii")


def _closing_answer(status: str, default_headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    head = [f"HTTP/1.1 {status}\r\n".encode("ascii")]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    head += [
        b"content-type: application/json\r\n",
        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
        b"connection: close\r\n\r\n",
    ]
    return b"".join(head) + body


class Busy:
    """ASGI app: a JSON 503 when the server has ``limit`` connections or requests in flight.

    The counts are uvicorn's own (its connections and request tasks, shared by every
    protocol instance of the server), compared as uvicorn compares them: the request
    is refused when the open connections, this one included, reach ``limit``, or the
    tasks, this request's included, exceed it.
    """

    BODY = _json(
        error_body(
            "server_busy",
            "the service is at its connection limit (CONSENT_MAX_CONNECTIONS); retry",
        )
    )

    def __init__(self, app: ASGIApp, protocol: Any, limit: int) -> None:
        self.app = app
        self._connections: set[Any] = protocol.connections
        self._tasks: set[asyncio.Task[None]] = protocol.tasks
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            len(self._connections) >= self.limit or len(self._tasks) > self.limit
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(self.BODY)).encode("ascii")),
                        (b"retry-after", b"1"),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": self.BODY})
            return
        await self.app(scope, receive, send)


class _HeadGuard:
    """What both protocols share: the JSON refusals, the cap, the head's size and time.

    A subclass says whether it is between requests or inside a head
    (:meth:`_reading_head`), and calls :meth:`_head_arrived` as data comes in.
    """

    max_head_bytes: int
    head_timeout: float

    transport: asyncio.Transport
    server_state: Any
    limit_concurrency: int | None
    app: ASGIApp
    loop: asyncio.AbstractEventLoop

    def _guard(self, max_head_bytes: int, head_timeout: float) -> None:
        """Take over uvicorn's concurrency cap; start with no head under way."""
        self.max_head_bytes = max_head_bytes
        self.head_timeout = head_timeout
        if self.limit_concurrency:
            self.app = Busy(self.app, self, self.limit_concurrency)
            self.limit_concurrency = None
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._lingering = False

    def _reading_head(self) -> bool:
        raise NotImplementedError

    def _start_head_clock(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _stop_head_clock(self) -> None:
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._reading_head() and not self.transport.is_closing():
            message = f"the request line and headers took over {self.head_timeout:g} s to arrive"
            self._refuse("408 Request Timeout", error_body("request_timeout", message))

    def _refuse(self, status: str, body: dict[str, Any]) -> None:
        if self._lingering or self.transport.is_closing():
            return  # refused once already: one answer per connection
        self._stop_head_clock()
        self.transport.write(
            _closing_answer(status, self.server_state.default_headers, _json(body))
        )
        self._linger()

    def _linger(self) -> None:
        """Close after the answer without destroying it: a "lingering close" (RFC 9112 §9.6).

        A refused client is usually still sending (the rest of a huge head). Closing a
        socket with unread bytes makes the kernel answer with RST, and an RST can reach
        the client before it has read the refusal, which it then never sees. So: send
        FIN after the answer, drop whatever still arrives, and close when the client
        closes (``eof_received``) or :data:`LINGER_SECONDS` later, whichever is first.
        """
        self._lingering = True
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def send_400_response(self, msg: str) -> None:
        """Answer bytes that are not a request with the JSON 400 and close (uvicorn's hook)."""
        self._refuse(
            "400 Bad Request",
            error_body(
                "bad_request", "the request is not valid HTTP/1.1, or its headers are too large"
            ),
        )


class GuardedH11Protocol(_HeadGuard, H11Protocol):
    """uvicorn's h11 protocol with the JSON refusals and the head's time limit."""

    def __init__(self, *args: Any, max_head_bytes: int, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard(max_head_bytes, head_timeout)

    def _reading_head(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Open the connection; its first head has ``head_timeout`` to arrive."""
        super().connection_made(transport)
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the head's clock with the connection."""
        self._stop_head_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed h11; time the head from its first byte (h11 bounds its size)."""
        if self._lingering:
            return
        if self._reading_head():
            self._start_head_clock()
        super().data_received(data)
        if not self._reading_head():
            self._stop_head_clock()


class GuardedHttpToolsProtocol(_HeadGuard, HttpToolsProtocol):
    """uvicorn's httptools protocol with the JSON refusals and the head's size and time."""

    def __init__(self, *args: Any, max_head_bytes: int, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard(max_head_bytes, head_timeout)
        self._in_head = True

    def _reading_head(self) -> bool:
        return self._in_head

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Open the connection; its first head has ``head_timeout`` to arrive."""
        super().connection_made(transport)
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the head's clock with the connection."""
        self._stop_head_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Count and time a head's bytes, then feed httptools (which buffers any size)."""
        if self._lingering:
            return
        if self._in_head:
            self._start_head_clock()
            # Body bytes that share a read with the head's end are counted too: a few
            # KiB of slack on a limit of tens of KiB.
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes:
            self.send_400_response("headers over the limit")

    def on_headers_complete(self) -> None:
        """The head is in: stop its clock, then let uvicorn start the request."""
        self._in_head = False
        self._stop_head_clock()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The body is in: what arrives next is the next request's head."""
        self._in_head = True
        super().on_message_complete()


def protocol_class(
    parser: str, *, max_head_bytes: int, head_timeout: float
) -> Callable[..., asyncio.Protocol]:
    """What uvicorn's ``http`` option takes: ``parser``'s protocol with the service's limits.

    A partial of a module-level class, so that uvicorn can pickle it into worker processes.
    """
    base = {"h11": GuardedH11Protocol, "httptools": GuardedHttpToolsProtocol}[parser]
    return functools.partial(base, max_head_bytes=max_head_bytes, head_timeout=head_timeout)
