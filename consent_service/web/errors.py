"""The one exception tree of the service, and its one JSON shape.

Every refusal is an :class:`ApiError`; :func:`error_response` turns it into
``{"error": {"code": "snake_case", "message": "human text"}}``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response


class ApiError(Exception):
    """A refusal with an HTTP status, a stable snake_case code and a human message."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers = headers or {}


class NotFound(ApiError):
    """Something named in the path does not exist."""

    status = 404
    code = "not_found"


class UnknownSite(NotFound):
    """The site id is not in the configuration."""

    code = "unknown_site"

    def __init__(self, site_id: str) -> None:
        super().__init__(f"no site {site_id!r} is configured")


class MalformedJson(ApiError):
    """The body is not valid JSON."""

    status = 400
    code = "malformed_json"


class UnsupportedMediaType(ApiError):
    """The body is not JSON."""

    status = 415
    code = "unsupported_media_type"


class PayloadTooLarge(ApiError):
    """The body is over the size limit."""

    status = 413
    code = "payload_too_large"


class InvalidField(ApiError):
    """A field is unknown, missing or of the wrong type; the message names it."""

    status = 422
    code = "invalid_field"

    def __init__(self, field: str, problem: str) -> None:
        field = field[
            :MAX_FIELD_NAME
        ]  # a field name may be a visitor's JSON key: echo a bounded part
        super().__init__(f"{field}: {problem}")
        self.field = field


class OriginNotAllowed(ApiError):
    """The request's Origin is not listed for the site."""

    status = 403
    code = "origin_not_allowed"


class RateLimited(ApiError):
    """Too many writes from one address."""

    status = 429
    code = "rate_limited"


class Unauthorized(ApiError):
    """Missing or wrong credentials."""

    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    """Valid credentials, but not for this resource."""

    status = 403
    code = "forbidden"


class InvalidHost(ApiError):
    """The ``Host`` header is not a ``host[:port]``, where the service would have used it."""

    status = 400
    code = "invalid_host"


class PublicUrlNotConfigured(ApiError):
    """``CONSENT_PUBLIC_URL`` is unset, so the service cannot name its own endpoints.

    Its own 500: the operator must set the URL; taking it from an untrusted ``Host``
    would let any client choose what the widget and ``/config`` point to.
    """

    status = 500
    code = "public_url_not_configured"


class StoreUnavailable(ApiError):
    """The store cannot be reached."""

    status = 503
    code = "store_unavailable"


class Unstorable(ApiError):
    """The store could not keep a value of this request (the check at the door missed it)."""

    status = 422
    code = "unstorable_value"


#: Counted for a request whose client went away before it was complete (nginx's code).
CLIENT_CLOSED_REQUEST = 499
#: How much of a field name a refusal repeats.
MAX_FIELD_NAME = 64


class ErrorJSON(JSONResponse):
    """The error shape as ASCII JSON.

    A message may quote what the client sent (an unknown field's name, say), and that
    may hold a lone surrogate, which has no UTF-8 form: ``\\u`` escapes keep every
    refusal encodable, and JSON readers decode them to the same text.
    """

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def error_body(code: str, message: str) -> dict[str, Any]:
    """The one error shape."""
    return {"error": {"code": code, "message": message}}


async def error_response(request: Request, exc: Exception) -> Response:
    """Exception handler: the one JSON error shape for every refusal.

    A client that hung up before its request was complete is no error of ours: nothing
    was recorded, nobody is left to answer, and a log entry or a 500 in the metrics for
    every dropped mobile connection would bury real faults. It gets an empty
    :data:`CLIENT_CLOSED_REQUEST`, which only the request counter ever sees.
    """
    if isinstance(exc, ClientDisconnect):
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    if isinstance(exc, ApiError):
        return ErrorJSON(
            error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers
        )
    if isinstance(exc, HTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return ErrorJSON(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=dict(exc.headers or {}),
        )
    logging.getLogger("consent_service").error(
        "unhandled error on %s %s", request.method, request.url.path, exc_info=exc
    )
    return ErrorJSON(error_body("internal_error", "internal error"), status_code=500)
