"""Admin tokens: create, hash, check, and what a token may see (C23).

A token reads ``kakor_<id>_<secret>``: the 12-hex ``id`` finds the stored row, the
secret (256 random bits) is what proves possession. Only SHA-256 of the whole token is
stored, and it is compared in constant time. A token has one role and a list of sites:

- ``viewer`` sees the consent-rate statistics of its sites;
- ``officer`` also looks up one consent, exports rows and checks the log's integrity.

Failed attempts are counted per client address (in memory only, never stored): after
:data:`FREE_FAILURES` of them, that address is refused with 429 for a time that doubles
with each further failure, up to :data:`MAX_PENALTY` seconds. Attempts sent at once
are counted as if sent one after another (:class:`FailureThrottle`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request

from consent_service.store import AdminToken, Store
from consent_service.web.errors import Forbidden, RateLimited, Unauthorized

ROLES = ("officer", "viewer")
OFFICER, VIEWER = ROLES
FREE_FAILURES = 5
MAX_PENALTY = 300.0
_PREFIX = "kakor_"
_SHAPE = re.compile(r"^kakor_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_DUMMY_HASH = hashlib.sha256(b"no such token").hexdigest()


@dataclass(frozen=True)
class Principal:
    """Whoever a valid token speaks for: its id (for the access log), role and sites."""

    token_id: str
    role: str
    sites: tuple[str, ...]

    def can_see(self, site_id: str) -> bool:
        """True when ``site_id`` is one of the token's sites."""
        return site_id in self.sites

    def require(self, site_id: str | None = None, role: str = VIEWER) -> None:
        """Raise :class:`Forbidden` unless the token covers ``site_id`` and ``role``."""
        if site_id is not None and not self.can_see(site_id):
            raise Forbidden(f"this token is not valid for site {site_id!r}")
        if role == OFFICER and self.role != OFFICER:
            raise Forbidden("this needs an officer token")


def hash_token(token: str) -> str:
    """SHA-256 of the whole token, hex: all that is ever stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id_of(token: str) -> str | None:
    """The id part of a well-formed token; None for anything else."""
    found = _SHAPE.match(token)
    return found.group(1) if found else None


def new_token(
    sites: Iterable[str], role: str, now: datetime, label: str = ""
) -> tuple[str, AdminToken]:
    """A fresh token (shown once) and the record to store (its hash only)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    site_ids = tuple(dict.fromkeys(sites))
    if not site_ids:
        raise ValueError("a token needs at least one site")
    token_id = secrets.token_hex(6)
    token = f"{_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    record = AdminToken(
        token_id=token_id,
        token_hash=hash_token(token),
        role=role,
        sites=site_ids,
        created_at=now,
        label=label,
    )
    return token, record


async def check_token(store: Store, token: str) -> Principal | None:
    """The principal of ``token`` if it is valid and not revoked; None otherwise.

    The hash comparison is constant-time and runs even when the id is unknown.
    """
    token_id = token_id_of(token)
    record = await store.find_admin_token(token_id) if token_id else None
    expected = record.token_hash if record else _DUMMY_HASH
    matches = hmac.compare_digest(expected, hash_token(token))
    if record is None or not matches or record.revoked_at is not None:
        return None
    return Principal(record.token_id, record.role, record.sites)


class FailureThrottle:
    """Slows down an address that keeps presenting wrong tokens; memory only.

    An attempt is let through by :meth:`admit` before its token is looked up, counted by
    :meth:`failed` or :meth:`succeeded` and ended by :meth:`release`. While attempts
    from an address are in flight, another is let through only if all of them failing
    would leave the address free; otherwise it waits until one ends and is judged on
    what has then been counted. So wrong tokens sent at once get no more than
    :data:`FREE_FAILURES` 401s between them, and right ones sent at once are looked up
    :data:`FREE_FAILURES` at a time, never refused for what is still in flight.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000):
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[str, tuple[int, float]] = {}
        # Only addresses with attempts in flight: as many as the requests being served.
        self._in_flight: dict[str, int] = {}
        self._ended: dict[str, asyncio.Event] = {}

    async def admit(self, address: str) -> float:
        """Let one attempt from ``address`` through (0), or the seconds it must still wait.

        An attempt that is let through must be ended with :meth:`release`.
        """
        while True:
            wait = self.wait(address)
            if wait > 0:
                return wait
            in_flight = self._in_flight.get(address, 0)
            count, _ = self._failures.get(address, (0, 0.0))
            if in_flight == 0 or count + in_flight < FREE_FAILURES:
                self._in_flight[address] = in_flight + 1
                return 0.0
            ended = self._ended.get(address)
            if ended is None:
                ended = self._ended[address] = asyncio.Event()
            await ended.wait()

    def release(self, address: str) -> None:
        """End an attempt :meth:`admit` let through, once its outcome is counted."""
        left = self._in_flight.pop(address, 1) - 1
        if left > 0:
            self._in_flight[address] = left
        ended = self._ended.pop(address, None)
        if ended is not None:
            ended.set()

    def wait(self, address: str) -> float:
        """Seconds ``address`` must still wait before its next attempt; 0 when free."""
        count, last = self._failures.get(address, (0, 0.0))
        if count < FREE_FAILURES:
            return 0.0
        return max(0.0, last + self.penalty(count) - self._clock())

    @staticmethod
    def penalty(count: int) -> float:
        """The pause after ``count`` failures: 1 s, 2 s, 4 s … up to :data:`MAX_PENALTY`."""
        if count < FREE_FAILURES:
            return 0.0
        return min(MAX_PENALTY, 2.0 ** (count - FREE_FAILURES))

    def failed(self, address: str) -> None:
        """Count one failure for ``address``."""
        if len(self._failures) >= self._max_keys and address not in self._failures:
            now = self._clock()
            for key, (_, last) in list(self._failures.items()):
                if now - last > MAX_PENALTY:
                    del self._failures[key]
            if len(self._failures) >= self._max_keys:
                self._failures.clear()
        count, _ = self._failures.get(address, (0, 0.0))
        self._failures[address] = (count + 1, self._clock())

    def succeeded(self, address: str) -> None:
        """Forget ``address``'s failures."""
        self._failures.pop(address, None)


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def authenticate(
    request: Request, store: Store, throttle: FailureThrottle, address: str
) -> Principal:
    """The principal of the request's bearer token, or 401 (429 while slowed down)."""
    wait = await throttle.admit(address)
    if wait > 0:
        raise RateLimited(
            "too many wrong admin tokens from this address; try again later",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    try:
        token = bearer(request)
        principal = await check_token(store, token) if token else None
        if principal is None:
            throttle.failed(address)
        else:
            throttle.succeeded(address)
    finally:
        # Also when the lookup raised: an attempt with no outcome is not a failure.
        throttle.release(address)
    if principal is None:
        raise Unauthorized(
            "a valid admin token is required (Authorization: Bearer …)",
            headers={"WWW-Authenticate": 'Bearer realm="kakor-admin"'},
        )
    return principal
