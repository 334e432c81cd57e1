"""Gating that does not depend on the site's JavaScript: a script gate and a consent-driven CSP.

Both read the visitor's choices from the verified consent cookie. A missing, forged,
expired or outdated cookie means "necessary only", never an error (C1, C22):

- ``GET /v1/sites/{site}/gate/{service}.js`` redirects (307) to the service's script
  when its category is allowed, and otherwise answers an empty script;
- ``GET /v1/sites/{site}/csp`` answers 204 with a ``Content-Security-Policy`` whose
  fetch directives admit a service's origins only once its category is allowed, for a
  reverse proxy to copy onto the site's pages (nginx ``auth_request``, Caddy ``forward_auth``).

:func:`csp_for` is a pure function of the site and the choices, so every combination
can be tested without HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from consent_service.consent import rules as consent
from consent_service.sites import ORIGIN, Service, Site
from consent_service.web.errors import InvalidField, NotFound
from consent_service.web.state import AppState, get_state

#: The directives whose sources grow with the visitor's choices.
GATED_DIRECTIVES = ("script-src", "frame-src", "img-src", "connect-src")

#: The policy before any service is admitted, directive by directive, in output order.
BASE_POLICY: Mapping[str, Sequence[str]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "frame-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
}

#: A proxy asks with the visitor's method (Caddy's forward_auth always uses GET).
CSP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_HEADERS = {"Cache-Control": "no-store", "Vary": "Cookie", "X-Content-Type-Options": "nosniff"}


def visitor_choices(st: AppState, site: Site, request: Request) -> dict[str, bool]:
    """The visitor's verified choices for ``site``; necessary-only without a valid token."""
    current = st.verified_consent(site, request)
    return current.choices if current else consent.complete(site, {})


def service_origins(service: Service) -> tuple[str, ...]:
    """The origins a service loads from: its declared ones and its script's, if absolute."""
    origins = list(service.origins)
    parts = urlsplit(service.script)
    if parts.scheme in ("http", "https") and parts.netloc:
        script_origin = f"{parts.scheme}://{parts.netloc}"
        if script_origin not in origins:
            origins.append(script_origin)
    return tuple(origins)


def allowed_origins(site: Site, choices: Mapping[str, bool]) -> tuple[str, ...]:
    """The origins of every service whose category is allowed, in config order, once each."""
    seen: dict[str, None] = {}
    for category in site.categories:
        if category.required or choices.get(category.id, False):
            for service in category.services:
                seen.update(dict.fromkeys(service_origins(service)))
    return tuple(seen)


def csp_for(
    site: Site,
    choices: Mapping[str, bool],
    base_policy: Mapping[str, Sequence[str]] = BASE_POLICY,
    *,
    widget_origin: str | None = None,
) -> str:
    """The ``Content-Security-Policy`` for a visitor with ``choices`` on ``site``.

    Each of :data:`GATED_DIRECTIVES` gets the base policy's sources, then the origins of
    the services in allowed categories (required categories are always allowed). A
    ``widget_origin`` (the consent service, when it runs on another origin than the
    site) is added to ``script-src`` and ``connect-src``, which the widget needs. A
    gated directive missing from ``base_policy`` is added after the others.
    """
    services = allowed_origins(site, choices)
    widget = (widget_origin,) if widget_origin else ()
    directives = dict(base_policy)
    for name in GATED_DIRECTIVES:
        directives.setdefault(name, ("'self'",))
    parts = []
    for name, sources in directives.items():
        values = list(sources)
        if name in GATED_DIRECTIVES:
            if name in ("script-src", "connect-src"):
                values += widget
            values = list(dict.fromkeys([*values, *services]))
        parts.append(" ".join([name, *values]))
    return "; ".join(parts)


async def gate(request: Request) -> Response:
    """``GET /v1/sites/{site}/gate/{service}.js``: 307 to the script, or an empty script."""
    st = get_state(request)
    site = st.sites.get(request.path_params["site"])
    service_id = request.path_params["service"]
    found = site.service(service_id)
    if found is None:
        raise NotFound(
            f"site {site.id!r} has no service {service_id[:64]!r}", code="unknown_service"
        )
    category, service = found
    if not service.script:
        raise NotFound(
            f"service {service.id!r} has no script to gate; gate its embeds in the page instead",
            code="no_script",
        )
    if category.required or visitor_choices(st, site, request).get(category.id, False):
        return Response(status_code=307, headers={**_HEADERS, "Location": service.script})
    return Response(
        f"/* kakor: {service.id} is not allowed ({category.id} not consented) */\n",
        media_type="text/javascript",
        headers=_HEADERS,
    )


async def csp(request: Request) -> Response:
    """``/v1/sites/{site}/csp``: 204 with the visitor's ``Content-Security-Policy``.

    Any method is answered alike, since a proxy may forward the visitor's. A
    ``Kakor-Widget-Origin: https://consent.example.se`` header, set by the proxy, adds the
    consent service's origin to ``script-src`` and ``connect-src`` when the widget is
    served from another origin than the site. It is a header, not a query parameter, so a
    crafted link cannot widen a visitor's policy.
    """
    st = get_state(request)
    site = st.sites.get(request.path_params["site"])
    widget_origin = request.headers.get("kakor-widget-origin")
    if widget_origin is not None and not (
        ORIGIN.fullmatch(widget_origin) and widget_origin.startswith(("http://", "https://"))
    ):
        raise InvalidField(
            "Kakor-Widget-Origin", "must be an origin like https://consent.example.se"
        )
    policy = csp_for(site, visitor_choices(st, site, request), widget_origin=widget_origin)
    return Response(status_code=204, headers={**_HEADERS, "Content-Security-Policy": policy})


def routes() -> list[Route]:
    """The gate and CSP routes."""
    return [
        Route("/v1/sites/{site}/gate/{service}.js", gate, methods=["GET"]),
        Route("/v1/sites/{site}/csp", csp, methods=list(CSP_METHODS)),
    ]
