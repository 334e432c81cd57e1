"""The embeddable widget: ``GET /v1/sites/{site}/widget.js``.

The built widget (``static/widget.js``, produced by ``make widget`` from
``widget/src``) carries the placeholder ``__KAKOR_CONFIG__`` exactly once.
Serving a site replaces it with that site's public config as a JSON literal,
so the browser gets the code and the config in one request and the page needs
no inline script. The result is compressed once per distinct config and kept
in a small LRU cache; the service itself never needs Node.js.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import brotli
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .etags import not_modified
from .guards import public_base
from .openapi import SITE_PARAM, error_response
from .state import get_state

WIDGET_FILE = Path(__file__).parent / "static" / "widget.js"
PLACEHOLDER = "__KAKOR_CONFIG__"
MEDIA_TYPE = "text/javascript; charset=utf-8"
_CACHE_SIZE = 64
_GATED_INLINE = re.compile(
    r"<script\b(?=[^>]*\btype=\"text/plain\")(?=[^>]*\bdata-consent=)(?![^>]*\bdata-src=)[^>]*>(.*?)</script>",
    re.DOTALL | re.IGNORECASE,
)

#: The widget route's OpenAPI path item (collected by :mod:`consent_service.openapi`).
OPENAPI: dict[str, Any] = {
    "/v1/sites/{site}/widget.js": {
        "get": {
            "summary": "The consent widget with the site's config inlined (one request)",
            "parameters": [SITE_PARAM],
            "responses": {
                "200": {
                    "description": "JavaScript; br/gzip by Accept-Encoding; strong ETag",
                    "content": {"text/javascript": {"schema": {"type": "string"}}},
                },
                "304": {"description": "Not modified (If-None-Match names this encoding's ETag)"},
                "400": error_response("A Host header that is not host[:port] (demo, localhost)"),
                "404": error_response("Unknown site"),
                "500": error_response("CONSENT_PUBLIC_URL is not set (public_url_not_configured)"),
            },
        }
    }
}


@cache
def built_widget() -> str:
    """The built widget source, read once; it must hold the placeholder once."""
    source = WIDGET_FILE.read_text(encoding="utf-8")
    if source.count(PLACEHOLDER) != 1:
        raise RuntimeError(
            f"{WIDGET_FILE} must contain {PLACEHOLDER} exactly once; run `make widget`"
        )
    return source


def config_json(config: dict[str, Any]) -> str:
    """The config as a compact JSON literal that is also a valid JS expression."""
    return json.dumps(config, ensure_ascii=False, separators=(",", ":"), sort_keys=False)


def render(source: str, config: dict[str, Any]) -> bytes:
    """The widget with ``config`` inlined in place of the placeholder, as UTF-8."""
    head, _, tail = source.partition(PLACEHOLDER)
    return (head + config_json(config) + tail).encode("utf-8")


@dataclass(frozen=True)
class Encoded:
    """One site's widget in every encoding we serve, with a strong ETag each."""

    identity: bytes
    gzip: bytes
    br: bytes
    digest: str

    @classmethod
    def of(cls, body: bytes) -> Encoded:
        """Compress ``body`` (deterministically: gzip without a timestamp)."""
        return cls(
            identity=body,
            gzip=gzip.compress(body, compresslevel=9, mtime=0),
            br=brotli.compress(body, quality=11),
            digest=hashlib.sha256(body).hexdigest()[:32],
        )

    def variant(self, encoding: str) -> tuple[bytes, str]:
        """The bytes and the ETag for ``encoding`` ("br", "gzip" or "identity")."""
        if encoding == "identity":
            return self.identity, f'"{self.digest}"'
        body = self.br if encoding == "br" else self.gzip
        return body, f'"{self.digest}-{encoding}"'


class WidgetCache:
    """Compressed widgets keyed by their config JSON, least recently used out."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, Encoded] = OrderedDict()

    def get(self, config: dict[str, Any]) -> Encoded:
        """The encoded widget for ``config``, built on first use."""
        key = config_json(config)
        item = self._items.get(key)
        if item is None:
            item = Encoded.of(render(built_widget(), config))
            self._items[key] = item
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return item


def choose_encoding(accept_encoding: str) -> str:
    """Pick ``br``, then ``gzip``, else ``identity`` from an Accept-Encoding header."""
    allowed: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        if name:
            allowed[name.strip().lower()] = q
    for encoding in ("br", "gzip"):
        if allowed.get(encoding, allowed.get("*", 0.0)) > 0:
            return encoding
    return "identity"


_cache = WidgetCache()


async def widget_js(request: Request) -> Response:
    """Serve the widget with the site's public config inlined."""
    st = get_state(request)
    site = st.sites.get(request.path_params["site"])
    base = public_base(st.settings, request)
    encoded = _cache.get(site.public_config(base.url))
    encoding = choose_encoding(request.headers.get("accept-encoding", ""))
    body, etag = encoded.variant(encoding)
    headers = {
        "ETag": etag,
        **base.cache_headers("Accept-Encoding"),
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    # Only this encoding's tag: a cache holding the gzip bytes may not reuse them for br.
    if not_modified(request.headers, etag):
        return Response(status_code=304, headers=headers)
    if encoding != "identity":
        headers["Content-Encoding"] = encoding
    return Response(body, media_type=MEDIA_TYPE, headers=headers)


def gated_inline_hashes(html: str) -> list[str]:
    """CSP sources (``'sha256-…'``) for each inline gated script in ``html``.

    The widget runs an inline ``<script type="text/plain" data-consent>`` by
    inserting a live copy with the same text; under a strict ``script-src``
    that copy runs only if the policy lists its hash (or the page's nonce).
    """
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode() + "'"
        for m in _GATED_INLINE.finditer(html)
    ]


def routes() -> list[Route]:
    """The widget's routes, for ``create_app`` to include."""
    return [Route("/v1/sites/{site}/widget.js", widget_js, methods=["GET"], name="widget_js")]
