"""The baseline: a bare Starlette app that parses the same JSON body and answers 201."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def consent(request: Request) -> Response:
    """Parse the body, answer: no validation, no signing, no store."""
    body = json.loads(await request.body())
    return JSONResponse({"ok": True, "action": body.get("action")}, status_code=201)


def create_bare_app() -> Starlette:
    """The baseline app, with the same route as the service."""
    return Starlette(routes=[Route("/v1/sites/{site}/consent", consent, methods=["POST"])])
