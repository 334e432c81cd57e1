"""The demo site: Region Västmanland's news page with the kakor banner, served at ``/``."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from consent_service.web.pages import HTML_CSP, html_headers
from consent_service.widget.route import gated_inline_hashes

HERE = Path(__file__).parent
SITE_ID = "demo"


async def page(request: Request) -> Response:
    """The demo page with the widget's script tag filled in."""
    html = (HERE / "page.html").read_text(encoding="utf-8")
    html = html.replace("{{WIDGET_SRC}}", f"/v1/sites/{SITE_ID}/widget.js")
    csp = HTML_CSP.replace(
        "script-src 'self'", " ".join(["script-src 'self'", *gated_inline_hashes(html)])
    )
    return HTMLResponse(html, headers=html_headers(csp))


def routes() -> list[BaseRoute]:
    """``/`` and ``/demo/assets/…``."""
    return [
        Route("/", page, methods=["GET"]),
        Mount("/demo/assets", StaticFiles(directory=HERE / "assets"), name="demo-assets"),
    ]
