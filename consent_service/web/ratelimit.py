"""Per-address write limits: a token bucket per (site, address), in memory only.

The raw address is only a dictionary key for a minute or so; it is never stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """Allows ``per_minute`` writes per key, refilled continuously; 0 means unlimited."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._max_keys = max_keys

    def hit(self, site_id: str, address: str, per_minute: int) -> float:
        """Take one token; return 0 when allowed, else the seconds until the next one."""
        if per_minute <= 0:
            return 0.0
        now = self._clock()
        key = (site_id, address)
        tokens, stamp = self._buckets.get(key, (float(per_minute), now))
        tokens = min(float(per_minute), tokens + (now - stamp) * per_minute / 60.0)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) * 60.0 / per_minute
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._evict(now, per_minute)
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0

    def _evict(self, now: float, per_minute: int) -> None:
        full_after = 60.0
        stale = [k for k, (_, stamp) in self._buckets.items() if now - stamp >= full_after]
        for key in stale:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:  # everyone is active: drop the oldest half
            for key in sorted(self._buckets, key=lambda k: self._buckets[k][1])[
                : self._max_keys // 2
            ]:
                del self._buckets[key]
