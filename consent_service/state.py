"""What every handler shares: settings, sites, store, recorder, signer, limiter, metrics, clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.requests import Request

from .metrics import Metrics
from .ratelimit import RateLimiter
from .recorder import Recorder
from .settings import Settings
from .sites import Site, SiteRegistry
from .store import Store, TextsSnapshot
from .tokens import TokenSigner


@dataclass
class AppState:
    """The service's shared objects, built by :func:`consent_service.app.create_app`."""

    settings: Settings
    sites: SiteRegistry
    store: Store
    recorder: Recorder
    signer: TokenSigner
    limiter: RateLimiter
    metrics: Metrics
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

    @property
    def ip_hash_key(self) -> bytes | None:
        """The key for ``ip_mode = "hash"``, if configured."""
        key = self.settings.ip_hash_key
        return key.reveal().encode() if key else None


def get_state(request: Request) -> AppState:
    """The :class:`AppState` of the app serving ``request``."""
    state: AppState = request.app.state.kakor
    return state
