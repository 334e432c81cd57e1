"""The consent route's short way in: its endpoint called straight from the middleware.

Every visitor's decision takes ``/v1/sites/{site}/consent``. Below the middleware,
Starlette's exception layer, router and request wrapper cost about a sixth of a
consent's instructions in-process (docs/performance.md). :class:`FrontDoor`, the
innermost middleware, serves the routes it is given itself, and shares everything
else with the stack:

- the match is the route's own :meth:`~starlette.routing.Route.matches`, so a method
  the route does not take still goes to the router (405), and the scope gets the same
  ``route``, ``endpoint`` and ``path_params`` the router would set;
- a refusal is answered by the app's own exception handler for it (the mapping given
  to ``Starlette(exception_handlers=…)``); anything else rises to the server-error
  layer, as from any route;
- the middleware above it (the header limit and the request count of
  :class:`~consent_service.web.edge.Edge`) applies as to every route. Middleware listed
  after it would not: it stays last.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request, Exception], Awaitable[Response]]


class FrontDoor:
    """Pure ASGI middleware: ``routes`` served from their endpoints, the rest passed on."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[Route],
        exception_handlers: Mapping[type[Exception], Handler],
    ) -> None:
        self.app = app
        self.routes = tuple(routes)
        # Refusals only: an unexpected error is the server-error layer's, above us.
        self.handlers = {k: v for k, v in exception_handlers.items() if k is not Exception}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope["route"] = route
                    scope.update(child)
                    await self._serve(route.endpoint, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(self, endpoint: Any, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response: Response = await endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Handler | None:
        for cls in type(exc).__mro__:
            if cls in self.handlers:
                return self.handlers[cls]
        return None
