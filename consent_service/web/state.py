"""What every handler shares: settings, sites, store, recorder, signer, limiter, metrics, clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.requests import Request

from consent_service.audit.recorder import Recorder
from consent_service.audit.signing import LogSigner
from consent_service.consent.tokens import TokenSigner, VerifiedConsent
from consent_service.settings import Settings
from consent_service.sites import Site, SiteRegistry
from consent_service.store import Store, TextsSnapshot
from consent_service.web.metrics import Metrics
from consent_service.web.ratelimit import RateLimiter

if TYPE_CHECKING:  # the widget module reads this state: no import at run time
    from consent_service.widget.route import WidgetCache


@dataclass
class AppState:
    """The service's shared objects, built by :func:`consent_service.web.app.create_app`."""

    settings: Settings
    sites: SiteRegistry
    store: Store
    recorder: Recorder
    signer: TokenSigner
    limiter: RateLimiter
    metrics: Metrics
    #: Each site's compressed widget (:mod:`consent_service.widget.route`).
    widgets: WidgetCache
    #: Signs every site's tree heads (the store's signer too).
    log_signer: LogSigner
    clock: Callable[[], float] = time.time
    _snapshots: dict[tuple[str, str], TextsSnapshot] = field(default_factory=dict)

    def now(self) -> datetime:
        """The current UTC time from the injected clock."""
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def rate_limit(self, site: Site) -> int:
        """Writes per minute per address for ``site`` (``CONSENT_RATE_LIMIT`` wins)."""
        if self.settings.rate_limit is not None:
            return self.settings.rate_limit
        return site.rate_limit

    def snapshot(self, site: Site, language: str) -> TextsSnapshot:
        """The texts ``site`` shows in ``language``, as the audit log keeps them."""
        key = (site.id, language)
        snap = self._snapshots.get(key)
        if snap is None:
            snap = TextsSnapshot(
                site.texts_hash(language),
                site.id,
                language,
                site.policy_version,
                site.shown_texts(language),
            )
            self._snapshots[key] = snap
        return snap

    def verified_consent(self, site: Site, request: Request) -> VerifiedConsent | None:
        """The visitor's current consent for ``site``, or None.

        The token comes from the ``Kakor-Token`` header (what a widget on another host
        sends) or else the cookie; it counts only if authentic, for this site, younger
        than the site's consent lifetime and for the current policy version (C15, C22).
        """
        value = request.headers.get("kakor-token") or request.cookies.get(site.cookie_name)
        return self.signer.current(site, value)

    @property
    def ip_hash_key(self) -> bytes | None:
        """The key for ``ip_mode = "hash"``, if configured."""
        key = self.settings.ip_hash_key
        return key.reveal().encode() if key else None


def get_state(request: Request) -> AppState:
    """The :class:`AppState` of the app serving ``request``."""
    state: AppState = request.app.state.kakor
    return state
