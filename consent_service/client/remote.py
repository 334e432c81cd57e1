"""Ask the service for a visitor's consent: for a backend that must not hold the key.

``GET /v1/sites/{site}/consent`` with the visitor's cookie answers their verified
consent or 404 ``no_consent``; :class:`RemoteConsentReader` asks it and keeps each
answer for a while, so a page view costs at most one request per visitor and minute.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from consent_service.client.consent import Consent
from consent_service.client.site import SiteTerms
from consent_service.consent.tokens import Clock

#: ``fetch(url, headers) -> (status, body)``: how the reader makes a GET request.
Fetch = Callable[[str, Mapping[str, str]], tuple[int, bytes]]
_log = logging.getLogger(__name__)
_MISS = object()


def urllib_fetch(timeout: float) -> Fetch:
    """A :data:`Fetch` over the standard library's ``urllib`` (no dependency)."""

    def fetch(url: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        # The URL is the configured service's, checked to be http(s) by the reader.
        request = urllib.request.Request(url, headers=dict(headers))  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
                return int(answer.status), answer.read()
        except urllib.error.HTTPError as exc:  # 404 no_consent is an answer, not a failure
            return exc.code, exc.read()

    return fetch


class RemoteConsentReader:
    """Reads consent through the service, with a bounded cache of its answers.

    Each answer, "no consent" included, is kept ``ttl`` seconds (never past the
    consent's expiry) for at most ``max_entries`` cookies, least recently used out
    first. A new decision brings a new cookie value, so it is never answered from an
    older entry; a policy version change shows within ``ttl``. When the service cannot
    be reached the answer is None (no consent: the safe side) and is not kept. The
    site's public config is fetched once per ``ttl`` too (cookie name, services).
    """

    def __init__(
        self,
        service_url: str,
        site_id: str,
        *,
        ttl: float = 60.0,
        max_entries: int = 10_000,
        timeout: float = 2.0,
        fetch: Fetch | None = None,
        clock: Clock | None = None,
    ) -> None:
        if urlsplit(service_url).scheme not in ("http", "https"):
            raise ValueError(f"the service URL must be http(s): {service_url!r}")
        self._base = f"{service_url.rstrip('/')}/v1/sites/{quote(site_id, safe='')}"
        self._ttl = ttl
        self._max = max_entries
        self._fetch = fetch or urllib_fetch(timeout)
        self._clock = clock or time.time
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, tuple[float, Consent | None]] = OrderedDict()
        self._terms: tuple[float, SiteTerms] | None = None

    def terms(self) -> SiteTerms | None:
        """The site's terms from its public config, or None when it cannot be had."""
        now = self._clock()
        kept = self._terms
        if kept is not None and kept[0] > now:
            return kept[1]
        body = self._get("/config", {})
        try:
            terms = SiteTerms.from_config(json.loads(body)) if body is not None else None
        except ValueError:
            _log.warning("kakor: %s/config is not a site config", self._base)
            terms = None
        if terms is None:  # keep using what we had rather than read nothing
            return kept[1] if kept else None
        self._terms = (now + self._ttl, terms)
        return terms

    def read(self, cookie_value: str | None) -> Consent | None:
        """The consent the service verifies for this cookie value, or None."""
        if not cookie_value or len(cookie_value) > 512:
            return None
        now = self._clock()
        with self._lock:
            kept = self._answers.get(cookie_value)
            if kept is not None and kept[0] > now:
                self._answers.move_to_end(cookie_value)
                return kept[1]
        terms = self.terms()
        if terms is None:
            return None
        answer = self._ask(terms, cookie_value)
        if answer is _MISS:
            return None
        consent = answer if isinstance(answer, Consent) else None
        until = now + self._ttl
        if consent is not None:  # wall-clock time, like the consent's own expiry
            until = min(until, consent.expires_at.timestamp())
        with self._lock:
            self._answers[cookie_value] = (until, consent)
            self._answers.move_to_end(cookie_value)
            while len(self._answers) > self._max:
                self._answers.popitem(last=False)
        return consent

    def read_cookies(self, cookies: Mapping[str, str]) -> Consent | None:
        """The consent in a request's cookies (the site's cookie name), or None."""
        terms = self.terms()
        return None if terms is None else self.read(cookies.get(terms.cookie_name))

    def _ask(self, terms: SiteTerms, value: str) -> object:
        """A Consent, None for the service's "no consent", or ``_MISS`` when unsure."""
        body = self._get("/consent", {"Cookie": f"{terms.cookie_name}={value}"}, absent=True)
        if body is None:
            return _MISS
        if body == b"":
            return None
        try:
            return _consent(json.loads(body), terms)
        except (KeyError, TypeError, ValueError):
            _log.warning("kakor: %s/consent answered something else than a consent", self._base)
            return _MISS

    def _get(self, path: str, headers: Mapping[str, str], absent: bool = False) -> bytes | None:
        """The 200 body, ``b""`` for a 404 when ``absent`` is expected, else None."""
        url = self._base + path
        try:
            status, body = self._fetch(url, {"Accept": "application/json", **headers})
        except OSError as exc:
            _log.warning("kakor: %s unreachable: %s", url, exc)
            return None
        if status == 200:
            return body
        if status == 404 and absent:
            return b""
        _log.warning("kakor: %s answered %s", url, status)
        return None


def _consent(data: Any, terms: SiteTerms) -> Consent:
    choices = data["choices"]
    if not isinstance(choices, dict) or not all(isinstance(v, bool) for v in choices.values()):
        raise TypeError("choices must map category ids to booleans")
    return Consent(
        consent_id=str(data["consent_id"]),
        policy_version=str(data["policy_version"]),
        given_at=datetime.fromisoformat(data["given_at"]),
        expires_at=datetime.fromisoformat(data["expires_at"]),
        choices=choices,
        site=terms,
        token=str(data["token"]),
    )
