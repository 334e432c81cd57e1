"""The privacy officer's routes: proof of one consent, exports, stats, integrity, the page.

Every ``/admin/v1`` route needs ``Authorization: Bearer <token>`` (:mod:`.auth`); a
token sees only its sites. Each lookup, export, stats query and verify is written to
the access log first (C23). An export goes ``admin.export → auth → store.export_pages →
export.stream.Exporter`` and is streamed, oldest first, in constant memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from consent_service.admin import accesslog
from consent_service.admin.auth import OFFICER, VIEWER, FailureThrottle, Principal, authenticate
from consent_service.admin.export.manifest import Manifest
from consent_service.admin.export.rows import FORMATS, MEDIA_TYPES
from consent_service.admin.export.runs import Part, export_parts
from consent_service.admin.export.stream import Exporter
from consent_service.admin.period import parse_moment
from consent_service.admin.sites import site_summary
from consent_service.admin.stats_routes import stats_routes
from consent_service.audit.integrity import row_proof, texts_problem, verify_log
from consent_service.audit.proofs import tree_proof
from consent_service.audit.timefmt import format_time
from consent_service.audit.verify import anchors_from
from consent_service.consent.storable import RULE, is_storable
from consent_service.web.errors import InvalidField, NotFound
from consent_service.web.guards import client_address, limit_param, only_query
from consent_service.web.pages import html_headers
from consent_service.web.state import AppState, get_state

STATIC = Path(__file__).parent / "static"
_NO_STORE = {"Cache-Control": "no-store"}
#: The largest ``seq`` a store can hold (PostgreSQL's bigint).
MAX_SEQ = 2**63 - 1
#: The longest consent ID a lookup accepts (the service's own are 22 characters).
MAX_CONSENT_ID = 64
_ASSETS = {"admin.js": "text/javascript; charset=utf-8", "admin.css": "text/css; charset=utf-8"}


def _throttle(request: Request, st: AppState) -> FailureThrottle:
    throttle: FailureThrottle | None = getattr(request.app.state, "kakor_admin_throttle", None)
    if throttle is None:
        throttle = FailureThrottle(st.clock)
        request.app.state.kakor_admin_throttle = throttle
    return throttle


async def _principal(
    request: Request, role: str = VIEWER, site_id: str | None = None
) -> tuple[AppState, Principal]:
    st = get_state(request)
    who = await authenticate(request, st.store, _throttle(request, st), client_address(request))
    who.require(site_id, role)
    return st, who


def _period(request: Request) -> tuple[datetime | None, datetime | None]:
    since = parse_moment("since", request.query_params.get("since"))
    until = parse_moment("until", request.query_params.get("until"), end=True)
    if since and until and until <= since:
        raise InvalidField("until", "must be after since")
    return since, until


def _format(request: Request) -> str:
    fmt = request.query_params.get("format", "csv")
    if fmt not in FORMATS:
        raise InvalidField("format", f"must be one of {', '.join(FORMATS)}")
    return fmt


async def me(request: Request) -> Response:
    """``GET /admin/v1/me``: the token's role and sites (the page signs in with this)."""
    st, who = await _principal(request)
    sites = [
        site_summary(st.sites.get(s)) if s in st.sites else {"id": s, "name": s} for s in who.sites
    ]
    return JSONResponse(
        {"token_id": who.token_id, "role": who.role, "sites": sites}, headers=_NO_STORE
    )


async def consent_proof(request: Request) -> Response:
    """``GET /admin/v1/sites/{site}/consents/{consent_id}``: the whole history, with proof."""
    site_id = request.path_params["site"]
    consent_id = request.path_params["consent_id"]
    st, who = await _principal(request, OFFICER, site_id)
    only_query(request)
    if len(consent_id) > MAX_CONSENT_ID or not is_storable(consent_id):
        raise InvalidField("consent_id", f"at most {MAX_CONSENT_ID} characters; {RULE}")
    await accesslog.record(st.store, who, site_id, "lookup", {"consent_id": consent_id}, st.now())
    rows = await st.store.consent_history(site_id, consent_id)
    if not rows:
        raise NotFound(f"no consent {consent_id!r} on site {site_id!r}", code="no_such_consent")
    anchors = anchors_from(await st.store.checkpoint_rows(site_id)).get(site_id, set())
    texts: dict[str, Any] = {}
    history = []
    for row in rows:
        if row.texts_hash and row.texts_hash not in texts:
            snap = await st.store.texts(row.texts_hash)
            problem = texts_problem(snap, row.texts_hash)
            texts[row.texts_hash] = (
                None
                if snap is None
                else {
                    "texts_hash": snap.texts_hash,
                    "language": snap.language,
                    "policy_version": snap.policy_version,
                    "texts": dict(snap.texts),
                    "hash_ok": problem is None,
                    "problem": problem,
                }
            )
        history.append({**row.to_dict(), "proof": await row_proof(st.store, row, anchors)})
    tree = await tree_proof(st.store, st.log_signer, site_id, rows)
    body = {
        "site": site_id,
        "consent_id": consent_id,
        "rows": history,
        "texts": texts,
        "tree": tree,
        "verified": all(r["proof"]["verified"] for r in history)
        and all(t is not None and t["hash_ok"] for t in texts.values())
        and tree["verified"],
    }
    return JSONResponse(body, headers=_NO_STORE)


async def _export_setup(request: Request, action: str) -> tuple[AppState, Exporter]:
    site_id = request.path_params["site"]
    st, who = await _principal(request, OFFICER, site_id)
    only_query(request, "since", "until", "format", "upto_seq")
    since, until = _period(request)
    fmt = _format(request)
    raw_upto = request.query_params.get("upto_seq")
    if raw_upto is not None:
        # Decimal ASCII digits only (int() would also take " 7", "1_000" and "٧"), and
        # no more of them than the largest seq has (int() refuses over 4,300 with a 500).
        digits = raw_upto.isascii() and raw_upto.isdigit() and len(raw_upto) <= len(str(MAX_SEQ))
        if not digits or int(raw_upto) > MAX_SEQ:
            raise InvalidField("upto_seq", f"must be an integer from 0 to {MAX_SEQ}")
        upto = int(raw_upto)
    else:
        upto = await st.store.last_seq()
    manifest = Manifest(
        site_id=site_id,
        format=fmt,
        since=None if since is None else format_time(since),
        until=None if until is None else format_time(until),
        upto_seq=upto,
    )
    entry = await accesslog.record(st.store, who, site_id, action, manifest.to_dict(), st.now())
    return st, Exporter(manifest, on_end=accesslog.export_ended(st.store, entry))


def _parts(st: AppState, manifest: Manifest) -> AsyncIterator[Part]:
    return export_parts(st.store, manifest, workers=st.settings.export_workers)


async def export(request: Request) -> Response:
    """``GET /admin/v1/sites/{site}/consents?since=&until=&format=``: streamed export.

    The export is pinned to the rows that existed when it started (``Kakor-Upto-Seq``);
    ``…/consents/manifest`` with the same query and that ``upto_seq`` gives its manifest.
    """
    st, exporter = await _export_setup(request, "export")
    manifest = exporter.manifest
    name = f"kakor-{manifest.site_id}-{manifest.upto_seq}.{manifest.format}"
    headers = {
        **_NO_STORE,
        "Content-Disposition": f'attachment; filename="{name}"',
        "Kakor-Upto-Seq": str(manifest.upto_seq),
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(
        exporter.chunks(_parts(st, manifest)),
        media_type=MEDIA_TYPES[manifest.format],
        headers=headers,
    )


async def export_manifest(request: Request) -> Response:
    """``GET /admin/v1/sites/{site}/consents/manifest``: the manifest of the same export.

    Computed by streaming the export again (constant memory) without sending it.
    """
    st, exporter = await _export_setup(request, "manifest")
    async for _ in exporter.chunks(_parts(st, exporter.manifest)):
        pass
    return JSONResponse(exporter.manifest.to_dict(), headers=_NO_STORE)


async def verify(request: Request) -> Response:
    """``GET /admin/v1/log/verify``: integrity of the token's sites' chains (officer)."""
    st, who = await _principal(request, OFFICER)
    only_query(request)
    # One line per site, in that site's access log, written before the walk and given
    # its outcome after it (a verify the server never finished stays "complete": false).
    entries = {
        site: await accesslog.record(st.store, who, site, "verify", {"complete": False}, st.now())
        for site in who.sites
    }
    report = await verify_log(st.store, who.sites, workers=st.settings.verify_workers)
    for site, entry in entries.items():
        found = report["sites"].get(site, {})
        await st.store.complete_access(
            entry, {"complete": True, "ok": report["ok"], "rows": found.get("rows_checked", 0)}
        )
    return JSONResponse(report, headers=_NO_STORE)


async def access_log(request: Request) -> Response:
    """``GET /admin/v1/sites/{site}/access-log?limit=``: who read this site's records."""
    site_id = request.path_params["site"]
    st, _ = await _principal(request, OFFICER, site_id)
    only_query(request, "limit")
    limit = limit_param(request, 100, 1000)
    entries = [e.to_dict() async for e in st.store.iter_access_log(site_id=site_id, limit=limit)]
    return JSONResponse({"site": site_id, "entries": entries}, headers=_NO_STORE)


async def page(request: Request) -> Response:
    """``GET /admin/``: the privacy officer's page (sv/en), strict CSP, no inline code."""
    body = (STATIC / "index.html").read_bytes()
    return Response(
        body, media_type="text/html; charset=utf-8", headers={**html_headers(), **_NO_STORE}
    )


async def asset(request: Request) -> Response:
    """The page's script and stylesheet."""
    name = request.path_params["asset"]
    if name not in _ASSETS:
        raise NotFound(f"no admin asset {name!r}")
    return Response(
        (STATIC / name).read_bytes(),
        media_type=_ASSETS[name],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


async def page_redirect(request: Request) -> Response:
    """``/admin`` → ``/admin/``."""
    return Response(status_code=308, headers={"Location": "/admin/"})


def routes() -> list[Route]:
    """The admin routes, in the order they are matched."""
    return [
        Route("/admin", page_redirect, methods=["GET"]),
        Route("/admin/", page, methods=["GET"]),
        Route("/admin/v1/me", me, methods=["GET"]),
        Route("/admin/v1/log/verify", verify, methods=["GET"]),
        Route("/admin/v1/sites/{site}/consents", export, methods=["GET"]),
        Route("/admin/v1/sites/{site}/consents/manifest", export_manifest, methods=["GET"]),
        Route("/admin/v1/sites/{site}/consents/{consent_id}", consent_proof, methods=["GET"]),
        *stats_routes(_principal, _period),
        Route("/admin/v1/sites/{site}/access-log", access_log, methods=["GET"]),
        Route("/admin/{asset}", asset, methods=["GET"]),
    ]
