"""What every HTTP request passes first: the header limit, and the request count.

The server (:mod:`consent_service.web.protocols`) refuses a request whose line and
headers are still incomplete past ``max_header_bytes`` (400, connection closed); this
middleware refuses a complete one that is over it (431), whichever parser read it, so
no handler ever sees a request larger than the limit. Every request, refused or
served, is counted in ``kakor_http_requests_total`` under its route's template.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent_service.web.errors import error_body
from consent_service.web.metrics import Metrics


class Edge:
    """Pure ASGI middleware: 431 for an oversized head; every request counted."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_header_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what an error the app raises will become

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if header_bytes(scope) > self.max_header_bytes:
                await self._too_large()(scope, receive, counted)
            else:
                await self.app(scope, receive, counted)
        finally:
            path = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.inc(path, scope["method"], str(status))

    def _too_large(self) -> JSONResponse:
        message = f"the request headers are over {self.max_header_bytes} bytes"
        return JSONResponse(
            error_body("headers_too_large", message),
            status_code=431,
            headers={"Connection": "close"},
        )


def header_bytes(scope: Scope) -> int:
    """The size of the request line and headers, as the limit counts it."""
    line = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 16
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"])
