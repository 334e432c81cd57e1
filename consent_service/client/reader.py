"""Verify a consent cookie with the site's keys, as the service itself does."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from consent_service.client.consent import Consent
from consent_service.client.site import SiteTerms
from consent_service.consent.tokens import Clock, SecretKey, TokenSigner


class Reader(Protocol):
    """What the middleware needs: :class:`ConsentReader` or a remote one."""

    def read_cookies(self, cookies: Mapping[str, str]) -> Consent | None:
        """The consent in a request's cookies, or None."""
        ...


class ConsentReader:
    """Reads consent cookies for one site with its signing keys: no network, no I/O.

    ``keys`` is the service's own ``CONSENT_SECRET_KEYS`` list, newest first: a token
    signed with any of them verifies, so the reader follows a key rotation once it is
    given the same list. Verification is :meth:`TokenSigner.current`, the service's
    own: signature, per-site salt, age, policy version and categories.
    """

    def __init__(
        self, site: SiteTerms, keys: Sequence[str | SecretKey], *, clock: Clock | None = None
    ) -> None:
        self.site = site
        # time.time looked up now, not at import: a test that fixes the clock reaches it.
        self._signer = TokenSigner(keys, clock=clock or time.time)

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        keys: Sequence[str | SecretKey],
        *,
        clock: Clock | None = None,
    ) -> ConsentReader:
        """A reader for the site whose public config (``GET …/config``) this is."""
        return cls(SiteTerms.from_config(config), keys, clock=clock)

    def read(self, cookie_value: str | None) -> Consent | None:
        """The verified consent in this cookie value, or None (absent, forged, expired,
        another site's, an older policy version's)."""
        verified = self._signer.current(self.site, cookie_value)
        return None if verified is None else Consent.from_verified(verified, self.site)

    def read_cookies(self, cookies: Mapping[str, str]) -> Consent | None:
        """The verified consent in a request's cookies (the site's cookie name), or None."""
        return self.read(cookies.get(self.site.cookie_name))
