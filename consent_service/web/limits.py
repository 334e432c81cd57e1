"""Request-size limits below the routes: the request line and headers together.

The server (:mod:`consent_service.web.protocols`) refuses a request whose headers are still incomplete past
``max_header_bytes`` (400, connection closed); this middleware refuses a complete one
that is over it (431), so no handler ever sees a request larger than the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from consent_service.web.errors import error_body


class HeaderLimit:
    """ASGI middleware: 431 for a request line plus headers over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and header_bytes(scope) > self.max_bytes:
            from starlette.responses import JSONResponse

            answer = JSONResponse(
                error_body(
                    "headers_too_large", f"the request headers are over {self.max_bytes} bytes"
                ),
                status_code=431,
                headers={"Connection": "close"},
            )
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)


def header_bytes(scope: Scope) -> int:
    """The size of the request line and headers, as the limit counts it."""
    line = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 16
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"])
