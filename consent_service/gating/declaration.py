"""The cookie declaration endpoint: every category, service and cookie of a site (C2, C7).

``GET /v1/sites/{site}/declaration?lang=sv`` answers a standalone HTML page, the bare
``<section>`` with ``?format=fragment`` (for server-side includes in the site's own
privacy page), or JSON with ``Accept: application/json`` or ``?format=json``. The page
may be framed by the site's own origins.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from consent_service.gating.declaration_data import declaration_data
from consent_service.gating.declaration_html import STYLE_CSP, render_page, render_section
from consent_service.sites import Site
from consent_service.web.errors import InvalidField
from consent_service.web.guards import own_origin
from consent_service.web.pages import HTML_CSP, html_headers
from consent_service.web.state import get_state

FORMATS = ("html", "fragment", "json")


def frame_headers(site: Site) -> dict[str, str]:
    """:func:`~consent_service.web.pages.html_headers`, but the site's origins may frame the page."""
    ancestors = ["'self'", *(o for o in site.origins if o != "self")]
    csp = HTML_CSP.replace("frame-ancestors 'self'", "frame-ancestors " + " ".join(ancestors))
    csp = csp.replace("style-src 'self'", f"style-src 'self' {STYLE_CSP}")
    headers = html_headers(csp)
    if len(ancestors) > 1:
        # X-Frame-Options cannot list origins; frame-ancestors governs framing instead.
        del headers["X-Frame-Options"]
    return headers


def _format(request: Request) -> str:
    value = request.query_params.get("format")
    if value is not None:
        if value not in FORMATS:
            raise InvalidField("format", f"must be one of {', '.join(FORMATS)}")
        return value
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return "json"
    return "html"


def _back(site: Site, request: Request) -> str | None:
    """The page the visitor came from (``Referer``), if it is on an origin the site lists."""
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin in site.origins or ("self" in site.origins and origin == own_origin(request)):
        return referer
    return None


def _language(site: Site, request: Request) -> str:
    value = request.query_params.get("lang")
    if value is None:
        return site.default_language
    if value not in site.languages:
        raise InvalidField("lang", f"must be one of {', '.join(site.languages)}")
    return value


async def declaration(request: Request) -> Response:
    """``GET /v1/sites/{site}/declaration``: the cookie declaration as HTML, fragment or JSON."""
    site = get_state(request).sites.get(request.path_params["site"])
    language = _language(site, request)
    fmt = _format(request)
    if fmt == "json":
        body = json.dumps(declaration_data(site, language), ensure_ascii=False).encode()
        media_type = "application/json"
        headers: dict[str, str] = {"X-Content-Type-Options": "nosniff"}
    else:
        if fmt == "fragment":
            text = render_section(site, language, settings_link=True)
        else:
            text = render_page(site, language, _back(site, request))
        body = text.encode()
        media_type = "text/html; charset=utf-8"
        headers = frame_headers(site)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers.update(
        {
            "ETag": etag,
            "Cache-Control": "public, max-age=300",
            "Vary": "Accept, Referer",
            "Access-Control-Allow-Origin": "*",
            "Content-Language": language,
        }
    )
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def routes() -> list[Route]:
    """The declaration route."""
    return [Route("/v1/sites/{site}/declaration", declaration, methods=["GET"])]
