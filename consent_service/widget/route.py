"""The embeddable widget: ``GET /v1/sites/{site}/widget.js``.

The built widget (``static/widget.js``, produced by ``make widget`` from
``widget/src``) carries the placeholder ``__KAKOR_CONFIG__`` exactly once.
Serving a site replaces it with that site's public config as a JSON literal,
so the browser gets the code and the config in one request and the page needs
no inline script; the service itself never needs Node.js.

Compressing a widget (brotli 11 and gzip 9, ~25 ms) never runs on the event loop:
one builder thread does it, once per site and base URL, and concurrent requests for
the same widget wait on the same build. With ``CONSENT_PUBLIC_URL`` there is one
widget per site, built at start; only the demo and plain-http localhost, which take
the base URL from ``Host``, make more, and those are few, bounded and evicted.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import brotli
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from consent_service.settings import Settings
from consent_service.sites import Site
from consent_service.web.etags import not_modified
from consent_service.web.guards import public_base
from consent_service.web.openapi import SITE_PARAM, error_response
from consent_service.web.state import get_state
from consent_service.widget.vendors import vendor_script

WIDGET_FILE = Path(__file__).parent / "static" / "widget.js"
PLACEHOLDER = "__KAKOR_CONFIG__"
MEDIA_TYPE = "text/javascript; charset=utf-8"
#: Without ``CONSENT_PUBLIC_URL``: widgets kept for ``Host``-derived base URLs, and how
#: many of them may be waiting for the builder at once (beyond that: sent uncompressed).
HOST_VARIANTS = 16
HOST_PENDING = 2
# One thread for the whole process: widget builds take at most one core from the event
# loop, whatever the requests, and brotli and zlib release the GIL while they compress.
_BUILDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kakor-widget")
_GATED_INLINE = re.compile(
    r"<script\b(?=[^>]*\btype=\"text/plain\")(?=[^>]*\bdata-consent=)(?![^>]*\bdata-src=)[^>]*>(.*?)</script>",
    re.DOTALL | re.IGNORECASE,
)

#: The widget route's OpenAPI path item (collected by :mod:`consent_service.web.openapi`).
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


#: Public config keys the inlined config leaves out: the endpoints travel as one base
#: (``api``), the vendor calls in their own script (:mod:`.vendors`).
_NOT_INLINED = frozenset({"endpoints", "vendor_calls"})
#: The site texts only the settings show, fetched with them.
_SETTINGS_TEXTS = frozenset(
    {"save", "settings_title", "settings_description", "consent_id", "consent_date"}
)


def widget_config(config: dict[str, Any]) -> dict[str, Any]:
    """What of the public ``config`` widget.js carries: the first layer's needs.

    That is the default language's texts (less :data:`_SETTINGS_TEXTS`) and, of each service, only its cookies' names
    (which a withdrawal deletes); keys whose value is false or null are left out, and so
    are the vendor calls, which their own script carries (:mod:`.vendors`). Every
    other language and the settings' services, providers, purposes and lifetimes (about
    650 B of brotli for the demo site) the widget fetches from ``GET …/config`` when a
    visitor first needs them: most visitors read one language and never open the
    settings, and the size budget pays for features instead.
    """
    lang = config["default_language"]
    categories = [
        {
            **{k: v for k, v in c.items() if v is not False},
            "texts": {lang: c["texts"][lang]},
            "services": [
                {"cookies": [{"name": k["name"]} for k in s["cookies"]]} for s in c["services"]
            ],
        }
        for c in config["categories"]
    ]
    kept = {
        k: v
        for k, v in config.items()
        if v is not None and v is not False and k not in _NOT_INLINED
    }
    texts = {k: v for k, v in config["texts"][lang].items() if k not in _SETTINGS_TEXTS}
    # The endpoints share one base: the widget appends "config", "consent", … (41 B of
    # brotli for the demo site, which the size budget spends on the placeholder).
    api = config["endpoints"]["config"].removesuffix("config")
    return {**kept, "api": api, "texts": {lang: texts}, "categories": categories}


def render(source: str, config: dict[str, Any]) -> bytes:
    """The widget with ``config`` (:func:`widget_config` of it) inlined in place of the
    placeholder, as UTF-8."""
    head, _, tail = source.partition(PLACEHOLDER)
    vendors = vendor_script(config.get("vendor_calls", []))
    return (head + config_json(widget_config(config)) + tail + vendors).encode("utf-8")


@dataclass(frozen=True)
class Encoded:
    """One site's widget in every encoding we serve, with a strong ETag each."""

    identity: bytes
    gzip: bytes | None
    br: bytes | None
    digest: str

    @classmethod
    def of(cls, body: bytes) -> Encoded:
        """Compress ``body`` (deterministically: gzip without a timestamp). Slow: off the loop."""
        return cls(
            identity=body,
            gzip=gzip.compress(body, compresslevel=9, mtime=0),
            br=brotli.compress(body, quality=11),
            digest=hashlib.sha256(body).hexdigest()[:32],
        )

    @classmethod
    def plain(cls, body: bytes) -> Encoded:
        """``body`` alone, uncompressed: cheap enough for the event loop."""
        return cls(identity=body, gzip=None, br=None, digest=hashlib.sha256(body).hexdigest()[:32])

    def variant(self, encoding: str) -> tuple[bytes, str, str]:
        """The bytes, the ETag and the encoding sent for a preferred ``encoding``.

        ``encoding`` is "br", "gzip" or "identity"; one this widget lacks falls back to
        identity. Each encoding is its own representation with its own strong ETag.
        """
        body = self.br if encoding == "br" else self.gzip if encoding == "gzip" else None
        if body is None:
            return self.identity, f'"{self.digest}"', "identity"
        return body, f'"{self.digest}-{encoding}"', encoding


class WidgetCache:
    """Encoded widgets per site and base URL, built by the builder thread, once each.

    ``size`` bounds the entries kept (least recently used out) and ``pending`` the
    builds waiting at once: a miss beyond that gets None instead of more queued work.
    :meth:`for_settings` sizes both to the site count when ``CONSENT_PUBLIC_URL`` is
    set, so then nothing is ever evicted or refused.
    """

    def __init__(self, size: int = HOST_VARIANTS, pending: int = HOST_PENDING) -> None:
        self._size = size
        self._pending = pending
        self._items: OrderedDict[tuple[str, str], Encoded] = OrderedDict()
        self._building: dict[tuple[str, str], Future[Encoded]] = {}
        # Held for dict operations only, never while compressing.
        self._lock = threading.Lock()
        #: Widgets compressed so far.
        self.builds = 0

    @classmethod
    def for_settings(cls, settings: Settings, sites: int) -> WidgetCache:
        """The cache an app needs: one widget per site, or room for a few ``Host`` variants."""
        if settings.public_url is not None:
            return cls(size=max(sites, 1), pending=max(sites, 1))
        return cls(size=max(sites, 1) * HOST_VARIANTS, pending=HOST_PENDING)

    async def get(self, site: Site, base_url: str) -> Encoded | None:
        """The encoded widget of ``site`` under ``base_url``; None if the builder is full."""
        key = (site.id, base_url)
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                return item
            future = self._building.get(key) or self._submit(key, site, base_url)
        if future is None:
            return None
        # Shielded: a client that hangs up must not cancel a build others wait for.
        return await asyncio.shield(asyncio.wrap_future(future))

    def warm(self, sites: Iterable[Site], base_url: str) -> None:
        """Queue a build for each site that has none yet, without waiting for it."""
        with self._lock:
            for site in sites:
                key = (site.id, base_url)
                if key not in self._items and key not in self._building:
                    self._submit(key, site, base_url)

    def _submit(self, key: tuple[str, str], site: Site, base_url: str) -> Future[Encoded] | None:
        if len(self._building) >= self._pending:
            return None
        future = _BUILDER.submit(self._build, key, site, base_url)
        self._building[key] = future
        return future

    def _build(self, key: tuple[str, str], site: Site, base_url: str) -> Encoded:
        """On the builder thread: render and compress, then publish the result."""
        try:
            item = Encoded.of(render(built_widget(), site.public_config(base_url)))
            with self._lock:
                self.builds += 1
                self._items[key] = item
                if len(self._items) > self._size:
                    self._items.popitem(last=False)
            return item
        finally:
            with self._lock:
                self._building.pop(key, None)


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


async def widget_js(request: Request) -> Response:
    """Serve the widget with the site's public config inlined."""
    st = get_state(request)
    site = st.sites.get(request.path_params["site"])
    base = public_base(st.settings, request)
    headers = {
        **base.cache_headers("Accept-Encoding"),
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    encoded = await st.widgets.get(site, base.url)
    if encoded is None:  # the builder is busy with other Hosts: send it plain, keep nothing
        encoded = Encoded.plain(render(built_widget(), site.public_config(base.url)))
        headers["Cache-Control"] = "no-store"
    body, etag, encoding = encoded.variant(
        choose_encoding(request.headers.get("accept-encoding", ""))
    )
    headers["ETag"] = etag
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
