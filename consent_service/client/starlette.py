"""Starlette and FastAPI: the visitor's verified consent as ``request.state.consent``.

``app.add_middleware(ConsentMiddleware, reader=reader)``; a handler then asks
``request.state.consent`` (a :class:`~consent_service.client.Consent`, or None for no
consent). Imports Starlette, so only a Starlette app imports this module.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from consent_service.client.reader import ConsentReader, Reader


class ConsentMiddleware:
    """Pure ASGI middleware that reads the consent cookie of every HTTP or WebSocket request."""

    def __init__(self, app: ASGIApp, reader: Reader) -> None:
        self.app = app
        self.reader = reader

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            cookies = HTTPConnection(scope).cookies
            if isinstance(self.reader, ConsentReader):  # pure computation: no thread needed
                consent = self.reader.read_cookies(cookies)
            else:  # a remote reader blocks on the network: keep it off the event loop
                consent = await run_in_threadpool(self.reader.read_cookies, cookies)
            # Starlette's request.state is this dict (a per-request copy of lifespan state).
            scope.setdefault("state", {})["consent"] = consent
        await self.app(scope, receive, send)
