"""Tokens the service's own signer makes, under a fixed clock, for every case a reader meets.

Each middleware test runs every case: a current token, one signed with the previous key
(rotation), one under a key no longer listed, one a second past its lifetime, one of
another site, a forged one, one of an older policy version, none at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from consent_service.client import Consent, ConsentReader
from consent_service.consent.rules import encode_mask
from consent_service.consent.tokens import TokenSigner
from consent_service.settings import DEMO_CONFIG, Secret
from consent_service.sites import load_sites

#: The fixed moment every reader and signer here lives at (never today's date).
NOW = 1_795_000_000.0
NEW, OLD, RETIRED = (
    "new-key-0123456789abcdef",
    "old-key-0123456789abcdef",
    "retired-key-0123456789ab",
)
SITE = load_sites(DEMO_CONFIG).get("demo")
#: The demo site's public config, as ``GET /v1/sites/demo/config`` answers it.
CONFIG: dict[str, Any] = SITE.public_config("http://127.0.0.1:8000")
LIFETIME = SITE.consent_lifetime_days * 86400
STATISTICS_ONLY = encode_mask(SITE, {"statistics": True})


def sign(
    *keys: str,
    at: float = NOW,
    site: str = "demo",
    policy: str = SITE.policy_version,
    mask: int = STATISTICS_ONLY,
) -> str:
    """A token as the service signs it with ``keys`` (newest first) at time ``at``."""
    signer = TokenSigner([Secret(k) for k in keys], clock=lambda: at)
    return signer.sign(site, "consent-id-1", policy, mask)


def reader(clock: float = NOW) -> ConsentReader:
    """The site owner's reader: the service's key list after a rotation, newest first."""
    return ConsentReader.from_config(CONFIG, [NEW, OLD], clock=lambda: clock)


@dataclass(frozen=True)
class Case:
    """A cookie value and whether a reader must find consent to statistics in it."""

    cookie: str | None
    #: True: a consent that allows statistics; None: no consent at all.
    consent: bool | None


def _forged() -> str:
    _, stamp, signature = sign(NEW).split(".")
    allow_all = sign(NEW, mask=3).split(".")[0]  # a valid payload, another token's signature
    return f"{allow_all}.{stamp}.{signature}"


#: Every case by name.
BY_NAME = {
    "current": Case(sign(NEW), True),
    "rotated-key": Case(sign(OLD, at=NOW - 86400), True),
    "retired-key": Case(sign(RETIRED), None),
    "last-second": Case(sign(NEW, at=NOW - LIFETIME + 1), True),
    "expired": Case(sign(NEW, at=NOW - LIFETIME - 1), None),
    "other-site": Case(sign(NEW, site="other-site"), None),
    "forged": Case(_forged(), None),
    "old-policy": Case(sign(NEW, policy="2025-01-01"), None),
    "no-cookie": Case(None, None),
    "garbage": Case("not.a.token", None),
}
CASES = [pytest.param(case, id=name) for name, case in BY_NAME.items()]


def described(consent: Consent | None) -> dict[str, Any] | None:
    """What a page needs to know of a consent, as every test app answers it."""
    if consent is None:
        return None
    return {
        "consent_id": consent.consent_id,
        "statistics": consent.allows("statistics"),
        "third-party": consent.allows("third-party"),
        "matomo": consent.allows_service("matomo"),
        "video": consent.allows_service("video"),
    }


def expected(case: Case) -> dict[str, Any] | None:
    """What :func:`described` must answer for ``case``."""
    if case.consent is None:
        return None
    return {
        "consent_id": "consent-id-1",
        "statistics": True,
        "third-party": False,
        "matomo": True,
        "video": False,
    }
