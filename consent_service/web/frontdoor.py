"""The service's ASGI app: the consent route goes straight to its endpoint.

Every visitor's decision takes ``/v1/sites/{site}/consent``. Through Starlette's stack
it would pass six layers (server-error middleware, request metrics, header limit,
exception middleware, router, route), each a coroutine of its own and most with a
wrapper around ``send``: about a tenth of what a consent costs in-process
(docs/performance.md). :class:`ServiceApp` takes that route in one step and keeps
what the layers give it:

- a request whose line and headers are over the limit, a path under a ``root_path``
  and a method the route does not take still go through the whole stack (431, 405);
- a refusal, or a client that hangs up before its body is in, is answered by
  :func:`~consent_service.web.errors.error_response`, the handler every other route uses;
- an unexpected error is answered 500 in the one JSON shape, logged, and raised on
  to the server, as Starlette's server-error middleware does;
- the request is counted in ``kakor_http_requests_total`` under the route template.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from consent_service.web.errors import ApiError, error_response
from consent_service.web.incoming import IndexedRequest
from consent_service.web.limits import header_bytes
from consent_service.web.metrics import Metrics

Endpoint = Callable[[Request], Awaitable[Response]]


class ServiceApp(Starlette):
    """A Starlette app that serves one hot route without its middleware stack.

    ``direct`` must be one of ``routes`` with a function endpoint: whatever the front
    door declines, the router still serves from that same route.
    """

    #: The service's :class:`~consent_service.web.state.AppState` (also ``state.kakor``): a
    #: plain attribute, because Starlette's ``State`` finds its entries only after a
    #: failed attribute lookup, which costs every request an exception.
    kakor_state: Any = None

    def __init__(
        self, *, direct: Route, metrics: Metrics, max_header_bytes: int, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._direct = direct
        self._endpoint: Endpoint = direct.endpoint
        self._pattern = direct.path_regex
        self._methods = frozenset(direct.methods or ())
        self._metrics = metrics
        self._max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            match = self._pattern.match(scope["path"])
            if (
                match is not None
                and scope["method"] in self._methods
                and header_bytes(scope) <= self._max_header_bytes
            ):
                scope["app"] = self
                scope["path_params"] = match.groupdict()
                await self._serve(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = IndexedRequest(scope, receive)
        try:
            response = await self._endpoint(request)
        except (ApiError, HTTPException, ClientDisconnect) as exc:
            response = await error_response(request, exc)
        except Exception as exc:
            self._count(scope, 500)
            await (await error_response(request, exc))(scope, receive, send)
            raise
        try:
            await response(scope, receive, send)
        finally:
            self._count(scope, response.status_code)

    def _count(self, scope: Scope, status: int) -> None:
        self._metrics.requests.inc(self._direct.path, scope["method"], str(status))
