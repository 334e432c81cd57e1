"""The public routes of contract v1: site config, consent, health, GPC, metrics.

A consent goes ``record → consent.parse_decision → tokens.sign → recorder → store``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from consent_service.audit.canonical import compact_json
from consent_service.audit.events import AuditRow, ConsentEvent
from consent_service.audit.timefmt import format_time
from consent_service.consent import rules as consent
from consent_service.consent.privacy import browser_family, minimise_ip
from consent_service.consent.tokens import new_consent_id
from consent_service.sites import Site
from consent_service.store import StoreDataError, StoreError
from consent_service.web.errors import ApiError, NotFound, RateLimited, StoreUnavailable, Unstorable
from consent_service.web.etags import not_modified
from consent_service.web.guards import (
    allowed_origin,
    client_address,
    cors_headers,
    preflight_headers,
    public_base,
    read_json,
    set_cookie_header,
)
from consent_service.web.state import AppState, get_state

GPC_STATEMENT = {"gpc": True, "lastUpdate": "2026-11-01"}
_NO_STORE = {"Cache-Control": "no-store"}


async def site_config(request: Request) -> Response:
    """``GET /v1/sites/{site}/config``: the site's public configuration."""
    st = get_state(request)
    site = st.sites.get(request.path_params["site"])
    base = public_base(st.settings, request)
    body = json.dumps(site.public_config(base.url), ensure_ascii=False).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    # Sent as it is, so it varies with nothing but, from the demo or localhost, Host.
    headers = {"ETag": etag, **base.cache_headers(), "Access-Control-Allow-Origin": "*"}
    if not_modified(request.headers, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


async def consent_endpoint(request: Request) -> Response:
    """``/v1/sites/{site}/consent``: record (POST), read (GET), withdraw (DELETE), preflight."""
    st = get_state(request)
    site = st.sites.get(request.path_params["site"])
    origin = allowed_origin(site, request)
    method = request.scope["method"]
    if method == "OPTIONS":
        headers = preflight_headers(origin) if origin else {"Allow": "GET, POST, DELETE, OPTIONS"}
        return Response(status_code=204, headers=headers)
    cors = cors_headers(origin)
    try:
        if method in ("GET", "HEAD"):  # HEAD: GET's headers, never a write
            return _current(st, site, request, cors)
        _limit(st, site, request)
        if method == "POST":
            body = await read_json(request, st.settings.max_body_bytes, st.settings.body_timeout)
            decision = consent.parse_decision(
                site, body, gpc_header=request.headers.get("sec-gpc") == "1"
            )
            status = 201
        else:
            body = await read_json(
                request, st.settings.max_body_bytes, st.settings.body_timeout, optional=True
            )
            decision = consent.parse_withdrawal(site, body)
            status = 200
        row, token = await _record(st, site, request, decision)
    except ApiError as exc:
        exc.headers.update(cors)
        raise
    return _answer(site, request, row, token, status, cors)


async def _record(
    st: AppState, site: Site, request: Request, decision: consent.Decision
) -> tuple[AuditRow, str]:
    """Sign first, then commit: nothing that can fail runs after the row is durable."""
    previous = st.signer.verify(
        site.id,
        decision.token
        or request.headers.get("kakor-token")
        or request.cookies.get(site.cookie_name),
        site.consent_lifetime_days * 86400,
    )
    event = ConsentEvent(
        site_id=site.id,
        consent_id=previous.consent_id if previous else new_consent_id(),
        action=decision.action,
        choices=decision.choices,
        policy_version=decision.policy_version,
        texts_hash=site.texts_hash(decision.language),
        language=decision.language,
        widget_version=decision.widget_version,
        page=decision.page,
        ip=minimise_ip(client_address(request), mode=site.ip_mode, key=st.ip_hash_key),
        browser=browser_family(request.headers.get("user-agent")),
        gpc=decision.gpc,
        created_at=st.now(),
    )
    token = st.signer.sign(
        site.id, event.consent_id, site.policy_version, consent.encode_mask(site, event.choices)
    )
    try:
        return await st.recorder.record(event, st.snapshot(site, decision.language)), token
    except StoreDataError:
        raise Unstorable(
            "the store cannot keep a value of this decision; nothing was recorded"
        ) from None
    except StoreError as exc:
        raise StoreUnavailable(str(exc)) from None


def _limit(st: AppState, site: Site, request: Request) -> None:
    wait = st.limiter.hit(site.id, client_address(request), st.rate_limit(site))
    if wait:
        raise RateLimited(
            "too many consent writes from this address; try again shortly",
            headers={"Retry-After": str(math.ceil(wait))},
        )


def _current(st: AppState, site: Site, request: Request, cors: dict[str, str]) -> Response:
    headers = {**cors, **_NO_STORE, "Vary": "Origin, Cookie"}
    current = st.verified_consent(site, request)
    if current is None:
        raise NotFound("no valid consent for this site", code="no_consent", headers=headers)
    token = current.token
    body = consent_json(
        token.consent_id,
        current.choices,
        token.policy_version,
        consent.to_utc(token.given_at),
        site,
        current.value,
    )
    return Response(body, media_type="application/json", headers=headers)


def _answer(
    site: Site, request: Request, row: AuditRow, token: str, status: int, cors: dict[str, str]
) -> Response:
    body = consent_json(
        row.consent_id, row.choices, row.policy_version, row.created_at, site, token
    )
    headers = {**_NO_STORE, "Set-Cookie": set_cookie_header(site, request, token), **cors}
    return Response(body, status, headers, media_type="application/json")


def consent_json(
    consent_id: str,
    choices: Mapping[str, bool],
    version: str,
    given: datetime,
    site: Site,
    token: str,
) -> bytes:
    """The consent answer as JSON bytes (every category explicit, times as the log writes them)."""
    return compact_json(
        {
            "consent_id": consent_id,
            "choices": dict(choices),
            "policy_version": version,
            "given_at": format_time(given),
            "expires_at": format_time(consent.expires_at(site, given)),
            "token": token,
        }
    ).encode()


async def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the store answers."""
    try:
        await get_state(request).store.ping()
    except StoreError as exc:
        raise StoreUnavailable(str(exc)) from None
    return JSONResponse({"status": "ready"})


async def gpc_json(request: Request) -> Response:
    """The Global Privacy Control support statement (C16)."""
    return JSONResponse(GPC_STATEMENT, headers={"Cache-Control": "public, max-age=86400"})


async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    st = get_state(request)
    try:
        rows: int | None = await st.store.row_count()
    except StoreError:
        rows = None
    return PlainTextResponse(
        st.metrics.render(rows), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


def consent_route() -> Route:
    """The consent route, which :class:`~consent_service.web.frontdoor.FrontDoor` serves."""
    return Route(
        "/v1/sites/{site}/consent",
        consent_endpoint,
        methods=["GET", "POST", "DELETE", "OPTIONS"],
    )


def routes() -> list[Route]:
    """The public routes of contract v1 other than :func:`consent_route`."""
    return [
        Route("/v1/sites/{site}/config", site_config, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/.well-known/gpc.json", gpc_json, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
