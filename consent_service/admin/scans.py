"""``GET /admin/v1/sites/{site}/scans[/{id}]``: the site's recorded scans (officer).

The list is the newest reports' summaries with what changed since the one before
(cookies seen per phase, findings); one report is its whole JSON, the log key's
signature over its statement, and the ``seq`` of the audit row that records it.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consent_service.admin import accesslog
from consent_service.admin.auth import OFFICER
from consent_service.admin.routes import _principal as principal
from consent_service.gating.scan.record import FORMAT, changes, statement
from consent_service.web.errors import InvalidField, NotFound
from consent_service.web.guards import limit_param, only_query

_NO_STORE = {"Cache-Control": "no-store"}


async def scan_list(request: Request) -> Response:
    """The newest reports (``limit``, default 20), newest first, with the latest changes."""
    site_id = request.path_params["site"]
    st, _ = await principal(request, OFFICER, site_id)
    only_query(request, "limit")
    records = await st.store.scans.newest(site_id, limit_param(request, 20, 200))
    latest = None
    if records:
        newest = await st.store.scans.one(site_id, records[0].id or 0)
        older = await st.store.scans.one(site_id, records[1].id or 0) if len(records) > 1 else None
        assert newest is not None and newest.report is not None
        latest = changes(
            json.loads(newest.report), json.loads(older.report) if older and older.report else None
        )
    return JSONResponse(
        {
            "site": site_id,
            "scans": [r.to_dict() for r in records],
            "changes_since_previous": latest,
        },
        headers=_NO_STORE,
    )


async def scan_report(request: Request) -> Response:
    """One report, whole, with its signature and the statement the signature is over."""
    site_id = request.path_params["site"]
    st, who = await principal(request, OFFICER, site_id)
    only_query(request)
    raw_id = request.path_params["scan_id"]
    if not raw_id.isdigit() or len(raw_id) > 18:
        raise InvalidField("scan_id", "must be a report id (digits)")
    record = await st.store.scans.one(site_id, int(raw_id))
    if record is None:
        raise NotFound(f"no scan report {raw_id} on site {site_id!r}", code="no_such_scan")
    await accesslog.record(st.store, who, site_id, "scan-report", {"id": record.id}, st.now())
    return JSONResponse(
        {
            **record.to_dict(),
            "format": FORMAT,
            "statement": statement(site_id, record.created_at, record.sha256),
            "vkeys": st.log_signer.vkeys(site_id),
        },
        headers=_NO_STORE,
    )


def routes() -> list[Route]:
    """The scan routes."""
    return [
        Route("/admin/v1/sites/{site}/scans", scan_list, methods=["GET"]),
        Route("/admin/v1/sites/{site}/scans/{scan_id}", scan_report, methods=["GET"]),
    ]
