"""The Consent Mode snippet: ``GET /v1/consent-mode-snippet``.

Google's own gtag snippet configures its tag as soon as it runs; the widget, deferred,
runs after it. So that the denied defaults are in ``dataLayer`` before any Google tag
(C17), a site that uses Consent Mode puts this inline snippet first in ``<head>``. It is
the same for every site (the defaults are all denied whatever the mapping), so its CSP
hash is a constant a site adds to ``script-src`` once; the service publishes both here,
and the widget pushes no second default after it. Why a snippet and not a synchronous
loader script: see docs/widget.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

#: The snippet's text: the four signals denied, pushed as Google's gtag() pushes.
SCRIPT = (
    "window.dataLayer=window.dataLayer||[];"
    "(function(){dataLayer.push(arguments)})('consent','default',"
    '{analytics_storage:"denied",ad_storage:"denied",ad_user_data:"denied",'
    'ad_personalization:"denied"});'
)
#: The ``script-src`` source that admits exactly :data:`SCRIPT` inline.
CSP_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode() + "'"

OPENAPI: dict[str, Any] = {
    "/v1/consent-mode-snippet": {
        "get": {
            "summary": "The inline Consent Mode snippet and its CSP hash (C17)",
            "responses": {
                "200": {
                    "description": "JSON: `script`, `html` (the tag to paste), `csp` (for script-src)",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
}


def snippet() -> dict[str, str]:
    """The snippet as a site pastes it, and the CSP source that admits it."""
    return {"script": SCRIPT, "html": f"<script>{SCRIPT}</script>", "csp": CSP_SOURCE}


async def snippet_route(request: Request) -> Response:
    """Serve :func:`snippet`; the same for everyone, so cacheable by anyone."""
    return Response(
        json.dumps(snippet()),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"},
    )


def routes() -> list[Route]:
    """The snippet's route, for ``create_app`` to include."""
    return [Route("/v1/consent-mode-snippet", snippet_route, methods=["GET"])]
