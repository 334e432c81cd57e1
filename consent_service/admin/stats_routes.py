"""``GET …/stats`` and ``GET …/stats.csv``: the dashboard's numbers, and its chart as CSV.

Both take ``since``, ``until`` (the export's period grammar) and ``group``
(``day``, ``week``, ``month``), are open to viewers, and are written to the access log
before they answer (C23). :func:`stats_routes` is given the admin routes' sign-in and
period parsing, so both are the same as everywhere under ``/admin/v1``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consent_service.admin import accesslog
from consent_service.admin.auth import VIEWER, Principal
from consent_service.admin.stats import parse_group, site_stats
from consent_service.admin.stats_csv import stats_csv
from consent_service.web.guards import only_query
from consent_service.web.state import AppState

_NO_STORE = {"Cache-Control": "no-store"}
SignIn = Callable[[Request, str, str | None], Awaitable[tuple[AppState, Principal]]]
Period = Callable[[Request], tuple[datetime | None, datetime | None]]


def stats_routes(sign_in: SignIn, period: Period) -> list[Route]:
    """The two routes, signing in with ``sign_in`` and reading the period with ``period``."""

    async def answer(request: Request, fmt: str) -> tuple[str, dict[str, Any]]:
        site_id = request.path_params["site"]
        st, who = await sign_in(request, VIEWER, site_id)
        only_query(request, "since", "until", "group")
        site = st.sites.get(site_id)
        since, until = period(request)
        group = parse_group(request.query_params.get("group"))
        detail: dict[str, Any] = {k: request.query_params.get(k) for k in ("since", "until")}
        if "group" in request.query_params or fmt == "csv":
            detail.update(group=group, format=fmt)
        await accesslog.record(st.store, who, site_id, "stats", detail, st.now())
        return site_id, await site_stats(st.store, site, since, until, group)

    async def stats(request: Request) -> Response:
        """``GET /admin/v1/sites/{site}/stats?since=&until=&group=``: rates over time."""
        _, body = await answer(request, "json")
        return JSONResponse(body, headers=_NO_STORE)

    async def stats_as_csv(request: Request) -> Response:
        """``GET /admin/v1/sites/{site}/stats.csv``: the chart's series, one line a period."""
        site_id, body = await answer(request, "csv")
        name = f"kakor-{site_id}-stats-{body['group']}.csv"
        headers = {
            **_NO_STORE,
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        }
        return Response(stats_csv(body), media_type="text/csv; charset=utf-8", headers=headers)

    return [
        Route("/admin/v1/sites/{site}/stats", stats, methods=["GET"]),
        Route("/admin/v1/sites/{site}/stats.csv", stats_as_csv, methods=["GET"]),
    ]
