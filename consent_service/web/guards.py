"""Request guards for the public API: origins and CORS, body limits, client address.

Each guard raises an :class:`~consent_service.web.errors.ApiError` before anything is
written, so a refused request never leaves a row behind.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request

from consent_service.settings import HOST, Settings
from consent_service.sites import Site
from consent_service.web.errors import (
    ApiError,
    InvalidField,
    InvalidHost,
    MalformedJson,
    OriginNotAllowed,
    PayloadTooLarge,
    PublicUrlNotConfigured,
    UnsupportedMediaType,
)
from consent_service.web.state import get_state

_JSON_TYPES = ("application/json", "text/plain")
#: An Origin header worth echoing in a refusal's CORS headers ("null" and junk are not).
ORIGIN_HEADER = re.compile(r"[a-z][a-z0-9+.-]*://[A-Za-z0-9.\[\]:-]+")
CORS_METHODS = "GET, POST, DELETE, OPTIONS"
CORS_HEADERS = "Content-Type, Kakor-Token"
CORS_MAX_AGE = "86400"
#: How deep arrays and objects may nest in a body (a consent needs two levels).
MAX_JSON_DEPTH = 32


def own_origin(request: Request) -> str:
    """The origin this service is reached on: ``CONSENT_PUBLIC_URL``'s, else the request's."""
    return get_state(request).settings.public_origin or _request_origin(request)


def _request_origin(request: Request) -> str:
    host = request.headers.get("host")
    if not host:
        server = request.scope.get("server") or ("localhost", None)
        host = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
    return f"{request.scope.get('scheme', 'http')}://{host}"


@dataclass(frozen=True)
class PublicBase:
    """The URL the service's public endpoints are named under, and where it came from."""

    url: str
    #: Taken from the request's ``Host``: whatever embeds it varies with that header.
    from_host: bool

    def cache_headers(self, *vary: str) -> dict[str, str]:
        """``Cache-Control`` and ``Vary`` for a body that embeds :attr:`url`.

        A body built from ``Host`` is for the browser's own cache only, and says it
        varies with ``Host``: a shared cache that keys without it must not hand one
        client's ``Host`` to everyone.
        """
        names = [*vary, "Host"] if self.from_host else list(vary)
        headers = {"Cache-Control": f"{'private' if self.from_host else 'public'}, max-age=300"}
        if names:
            headers["Vary"] = ", ".join(names)
        return headers


def public_base(settings: Settings, request: Request) -> PublicBase:
    """Where browsers reach the service, for the URLs the widget and ``/config`` carry.

    ``CONSENT_PUBLIC_URL`` when set, whatever ``Host`` says. Without it, ``Host`` is
    believed only in demo mode and on plain-http localhost, and only if it is a
    ``host[:port]`` (400 ``invalid_host`` otherwise); anywhere else the request gets
    500 ``public_url_not_configured``, and the log says so once: a widget pointing
    wherever the client's ``Host`` said would be worse than none.
    """
    if settings.public_url is not None:
        return PublicBase(settings.public_url, from_host=False)
    if settings.demo or is_plain_localhost(request):
        scheme, _, host = _request_origin(request).partition("://")
        found = HOST.fullmatch(host)
        port = found.group("port") if found else None
        if found is None or (port is not None and int(port) > 65535):
            raise InvalidHost("the Host header is not a host[:port]")
        # Normalised, so spellings of one host and port share one widget.
        host = found.group("host").lower() + (f":{int(port)}" if port is not None else "")
        prefix = request.scope.get("root_path", "")  # the server's mount point, not a header
        return PublicBase(f"{scheme}://{host}{prefix}", from_host=True)
    _log_missing_public_url()
    raise PublicUrlNotConfigured(
        "CONSENT_PUBLIC_URL is not set: the operator must set it to the URL browsers "
        "reach this service on, e.g. https://consent.example.se"
    )


@functools.cache  # once per process: a flood of such requests must not flood the log
def _log_missing_public_url() -> None:
    logging.getLogger("consent_service").error(
        "CONSENT_PUBLIC_URL is not set: the widget and /config answer 500 to every request "
        "not made to http://localhost; set it to the URL browsers reach this service on"
    )


def allowed_origin(site: Site, request: Request) -> str | None:
    """The request's Origin if ``site`` lists it (``"self"`` = this service); None if absent.

    Raises :class:`OriginNotAllowed` for an Origin the site does not list. A request with
    no Origin (a server, a script, a same-origin GET) is not refused for that alone.

    The refusal itself is readable by that origin (CORS headers on the 403, which holds
    nothing but this message): the widget on a misconfigured site can then say in the
    console which origin to add where, instead of the browser's bare CORS error.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return None
    if origin in site.origins or ("self" in site.origins and origin == own_origin(request)):
        return origin
    shown = origin[:100]
    raise OriginNotAllowed(
        f"origin {shown!r} is not allowed for site {site.id!r}: add it to origins in "
        f"[sites.{site.id}] of the site config; nothing was recorded",
        headers=cors_headers(origin if ORIGIN_HEADER.fullmatch(origin) else None),
    )


def cors_headers(origin: str | None) -> dict[str, str]:
    """Credentialed CORS headers for an allowed origin (nothing without one)."""
    if origin is None:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin, Cookie",
    }


def preflight_headers(origin: str) -> dict[str, str]:
    """The answer to an allowed preflight, cached by the browser for a day."""
    return {
        **cors_headers(origin),
        "Access-Control-Allow-Methods": CORS_METHODS,
        "Access-Control-Allow-Headers": CORS_HEADERS,
        "Access-Control-Max-Age": CORS_MAX_AGE,
    }


async def read_json(request: Request, limit: int, timeout: float, *, optional: bool = False) -> Any:
    """The JSON body, within ``limit`` bytes and ``timeout`` seconds; ``text/plain`` JSON too.

    ``text/plain`` lets a widget on another origin post without a CORS preflight; the
    Origin check still applies. With ``optional``, an empty body reads as ``{}``. A client
    that dribbles its body slower than the timeout gets 408 and holds nothing longer.
    """
    try:
        async with asyncio.timeout(timeout):
            raw = await _read_body(request, limit)
    except TimeoutError:
        raise ApiError(
            f"the body took over {timeout:g} s to arrive", status=408, code="request_timeout"
        ) from None
    if optional and not raw.strip():
        return {}
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in _JSON_TYPES and not media.endswith("+json"):
        raise UnsupportedMediaType("send the body as application/json")
    if not nesting_within(raw, MAX_JSON_DEPTH):
        raise MalformedJson(f"the body nests arrays and objects over {MAX_JSON_DEPTH} deep")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJson(f"the body is not valid JSON: {exc}") from None


def nesting_within(raw: bytes, limit: int) -> bool:
    """Whether no array or object in the JSON text ``raw`` lies more than ``limit`` deep.

    ``json.loads`` recurses once per level and a few kilobytes of ``[`` exhaust the
    interpreter's stack (RecursionError), so the depth is bounded before parsing. A
    text with no more brackets than ``limit`` cannot nest deeper: counting them is
    enough for every real consent; only a text with more is walked, skipping strings.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return True
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return True


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"the body is over {limit} bytes")
        except ValueError:
            raise MalformedJson("Content-Length is not a number") from None
    chunks = []
    size = 0
    more = True
    while more:  # the ASGI messages themselves: request.stream() adds an async generator
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def only_query(request: Request, *allowed: str) -> None:
    """Refuse (422) any query parameter the route does not document."""
    for name in request.query_params:
        if name not in allowed:
            raise InvalidField(name[:64], "unknown query parameter")


def limit_param(request: Request, default: int, maximum: int) -> int:
    """``?limit=``: ``default`` when absent, clamped to 1…``maximum``; 422 if not an integer."""
    try:
        return min(max(int(request.query_params.get("limit", str(default))), 1), maximum)
    except ValueError:
        raise InvalidField("limit", "must be an integer") from None


def client_address(request: Request) -> str:
    """The peer address (uvicorn has already applied trusted proxy headers)."""
    client = request.scope.get("client")
    return str(client[0]) if client else ""


_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def is_plain_localhost(request: Request) -> bool:
    """True on plain http to localhost, the one place a cookie may go without Secure."""
    if request.scope.get("scheme") != "http":
        return False
    host = request.headers.get("host", "")
    if not host.startswith("[") or "]:" in host:
        host = host.rsplit(":", 1)[0]
    return host.lower() in _LOCAL_HOSTS


def set_cookie_header(site: Site, request: Request, token: str) -> str:
    """The ``Set-Cookie`` value for a consent token (not HttpOnly: the widget reads it)."""
    secure = "" if is_plain_localhost(request) else "; Secure"
    return f"{site.cookie_name}={token}; {site.cookie_attributes}{secure}"
