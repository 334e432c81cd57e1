"""A pure-ASGI middleware counting requests by route template, method and status."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent_service.web.metrics import Metrics


class RequestMetrics:
    """Counts every HTTP request into ``kakor_http_requests_total``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.inc(path, scope["method"], str(status))
