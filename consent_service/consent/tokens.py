"""Sign and verify the consent cookie with itsdangerous.

The token is ``<payload>.<timestamp>.<signature>``: ``payload`` is base64url JSON
``{"i": consent_id, "v": policy_version, "c": bitmask}`` (readable by the widget,
which never trusts it for anything but display), ``timestamp`` is when the decision
was given. Each site has its own salt, so a token cannot be replayed on another site;
keys are a list for rotation, newest first. A bad, forged or expired token is "no
consent", never an error (C22).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from itsdangerous import BadSignature, TimestampSigner

SALT = "kakor.consent.v1"
#: Seconds a token may be stamped ahead of this replica's clock (replicas drift a little).
MAX_CLOCK_SKEW = 300
Clock = Callable[[], float]


class SecretKey(Protocol):
    """A key that hides itself until used (:class:`consent_service.settings.Secret` is one)."""

    def reveal(self) -> str:
        """The key itself."""
        ...


class TokenCategory(Protocol):
    """What a token's bitmask needs of a category (:class:`consent_service.sites.Category`)."""

    @property
    def id(self) -> str:
        """The category id."""
        ...

    @property
    def required(self) -> bool:
        """Always allowed: such a category has no bit in the mask."""
        ...


class TokenSite(Protocol):
    """What reading a site's tokens needs (:class:`consent_service.sites.Site` is one)."""

    @property
    def id(self) -> str:
        """The site id, part of the salt."""
        ...

    @property
    def policy_version(self) -> str:
        """Only tokens for this version count (C15: a new policy asks again)."""
        ...

    @property
    def consent_lifetime_days(self) -> int:
        """A token older than this is no consent."""
        ...

    @property
    def categories(self) -> Sequence[TokenCategory]:
        """Every category in config order: the optional ones give the mask's bit order."""
        ...


@dataclass(frozen=True)
class ConsentToken:
    """What a consent cookie carries."""

    consent_id: str
    policy_version: str
    mask: int
    given_at: int


@dataclass(frozen=True)
class VerifiedConsent:
    """A visitor's current consent, as its verified token shows it."""

    token: ConsentToken
    #: The token as the visitor sent it.
    value: str
    #: Every category of the site, explicit.
    choices: dict[str, bool]


def mask_choices(categories: Sequence[TokenCategory], mask: int) -> dict[str, bool] | None:
    """Every category in config order for token bitmask ``mask``: bit k is the k-th
    optional category, required ones are always true. None when ``mask`` is negative
    or sets a bit the site has no category for."""
    choices: dict[str, bool] = {}
    bit = 0
    for category in categories:
        if category.required:
            choices[category.id] = True
        else:
            choices[category.id] = bool(mask >> bit & 1)
            bit += 1
    return None if mask < 0 or mask >> bit else choices


#: The base64url characters in ASCII order: IDs written with them sort as their bytes do.
_SORTABLE = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
#: From standard base64 (``+`` and ``/``) straight to the sortable alphabet.
_TO_SORTABLE = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", _SORTABLE
)


def new_consent_id() -> str:
    """A new consent ID: 22 base64url characters that sort by creation time.

    128 bits: 42 bits of milliseconds since the epoch (enough until 2109), then 86
    random bits, in the base64url characters taken in ASCII order (the idea of a ULID;
    the first character is a letter for decades, never a ``-``). The audit log indexes
    rows by consent ID for the officer's lookup; IDs that grow with time are appended
    at that index's edge instead of landing on a random page with every new visitor.
    The ID names a visitor's decisions, it grants nothing: the signed token does.
    """
    random_bits = int.from_bytes(os.urandom(11)) >> 2  # 86 of 88
    raw = ((time.time_ns() // 1_000_000) << 86 | random_bits).to_bytes(16, "big")
    return binascii.b2a_base64(raw, newline=False)[:22].translate(_TO_SORTABLE).decode("ascii")


class _ClockSigner(TimestampSigner):
    """itsdangerous's timestamp signer on the service's clock (tests inject a fake one)."""

    def __init__(self, clock: Clock, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        """The current time in whole seconds, from the injected clock."""
        return int(self._clock())


class TokenSigner:
    """Signs and verifies consent tokens for every site, with a rotating key list."""

    def __init__(self, keys: Sequence[SecretKey | str], clock: Clock = time.time) -> None:
        if not keys:
            raise ValueError("at least one secret key is needed")
        # itsdangerous signs with the *last* key and tries all of them: ours are newest first.
        self._keys = [k if isinstance(k, str) else k.reveal() for k in reversed(keys)]
        self._clock = clock
        self._signers: dict[str, _ClockSigner] = {}

    def _signer(self, site_id: str) -> _ClockSigner:
        signer = self._signers.get(site_id)
        if signer is None:
            signer = _ClockSigner(
                self._clock,
                secret_key=self._keys,
                salt=f"{SALT}:{site_id}",
                digest_method=hashlib.sha256,
            )
            self._signers[site_id] = signer
        return signer

    def sign(self, site_id: str, consent_id: str, policy_version: str, mask: int) -> str:
        """A signed token for this decision, stamped with the current time."""
        payload = json.dumps(
            {"i": consent_id, "v": policy_version, "c": int(mask)}, separators=(",", ":")
        )
        encoded = base64.urlsafe_b64encode(payload.encode("ascii")).rstrip(b"=")
        return self._signer(site_id).sign(encoded).decode("ascii")

    def verify(self, site_id: str, token: str | None, max_age: int) -> ConsentToken | None:
        """The token's content if it is authentic, for this site and younger than ``max_age``."""
        if not token or len(token) > 512:
            return None
        try:  # the age is checked below: itsdangerous would refuse any clock skew at all
            encoded, given_at = self._signer(site_id).unsign(token, return_timestamp=True)
            payload = json.loads(base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4)))
        except (BadSignature, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(payload, dict):
            return None
        consent_id, version, mask = payload.get("i"), payload.get("v"), payload.get("c")
        if not (isinstance(consent_id, str) and isinstance(version, str)):
            return None
        if not isinstance(mask, int) or isinstance(mask, bool):
            return None
        age = self._clock() - given_at.timestamp()
        if age > max_age or age < -MAX_CLOCK_SKEW:
            return None
        return ConsentToken(consent_id, version, mask, int(given_at.timestamp()))

    def current(self, site: TokenSite, value: str | None) -> VerifiedConsent | None:
        """The consent ``value`` carries for ``site``, or None.

        It counts only if authentic, for this site, younger than the site's consent
        lifetime, for its current policy version and naming only its categories (C15,
        C22): what the service answers on ``GET …/consent`` and what the site's own
        backend reads through :mod:`consent_service.client`.
        """
        token = self.verify(site.id, value, site.consent_lifetime_days * 86400)
        if token is None or not value or token.policy_version != site.policy_version:
            return None
        choices = mask_choices(site.categories, token.mask)
        return None if choices is None else VerifiedConsent(token, value, choices)
