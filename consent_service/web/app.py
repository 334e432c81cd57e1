"""``create_app(settings)`` builds the whole service; the lifespan opens and closes the store."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Route

from consent_service.admin import retention, verify_jobs
from consent_service.admin import routes as admin
from consent_service.admin import scans as admin_scans
from consent_service.api import log as api_log
from consent_service.api import routes as api
from consent_service.audit.recorder import Recorder
from consent_service.audit.signing import load_signer
from consent_service.consent.tokens import TokenSigner
from consent_service.gating import declaration, gate
from consent_service.gating.scan import schedule
from consent_service.settings import Settings
from consent_service.sites import load_sites
from consent_service.store import open_store
from consent_service.web.edge import Edge
from consent_service.web.errors import ApiError, error_response
from consent_service.web.frontdoor import FrontDoor
from consent_service.web.metrics import Metrics
from consent_service.web.openapi import openapi_json
from consent_service.web.ratelimit import RateLimiter
from consent_service.web.state import AppState
from consent_service.widget import route as widget
from consent_service.widget import snippet


def create_app(settings: Settings, *, clock: Callable[[], float] = time.time) -> Starlette:
    """The ASGI app for ``settings``; the site config is validated here, before serving."""
    settings.require_keys()
    sites = load_sites(settings.config_path)
    store = open_store(settings.database_url)
    store.signer = log_signer = load_signer(settings, clock)
    metrics = Metrics()
    state = AppState(
        settings=settings,
        sites=sites,
        store=store,
        recorder=Recorder(store, metrics, settings.write_batch_max),
        signer=TokenSigner(settings.secret_keys, clock=clock),
        limiter=RateLimiter(),
        metrics=metrics,
        widgets=widget.WidgetCache.for_settings(settings, len(sites)),
        log_signer=log_signer,
        clock=clock,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        purger = scans = None
        try:
            await store.migrate()
            if settings.public_url is not None:  # one widget per site: build them now
                state.widgets.warm(sites, settings.public_url)
            state.recorder.start()
            purger = retention.start_auto_purge(state)
            scans = schedule.start_scans(state)
            yield
        finally:
            await schedule.stop_scans(scans)
            await verify_jobs.stop_jobs(app)
            await retention.stop_auto_purge(purger)
            await state.recorder.stop()
            await store.close()

    consent = api.consent_route()
    routes: list[BaseRoute] = [consent, *api.routes(), Route("/openapi.json", openapi_json)]
    routes += api_log.routes()
    routes += [*gate.routes(), *declaration.routes(), *widget.routes(), *snippet.routes()]
    routes += [
        *admin_scans.routes(),
        *admin.routes(),
        *verify_jobs.routes(),
    ]  # scans before admin's /admin/{asset}
    if settings.demo:
        from consent_service import demo

        routes += demo.routes()
    handlers: dict[Any, Any] = {
        ApiError: error_response,
        HTTPException: error_response,
        # Handled below the server-error layer, which would log it and re-raise it.
        ClientDisconnect: error_response,
        Exception: error_response,
    }
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(Edge, metrics=metrics, max_header_bytes=settings.max_header_bytes),
            Middleware(FrontDoor, routes=[consent], exception_handlers=handlers),  # stays last
        ],
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.state.kakor = state
    return app


def create_app_from_env() -> Starlette:
    """App factory for ``uvicorn --factory`` and multi-worker runs: settings from the environment."""
    settings = Settings.from_env()
    return create_app(settings.with_demo_key() if settings.demo else settings)
