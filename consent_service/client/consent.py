"""A visitor's verified consent, as the site's own code asks it: ``allows("statistics")``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from consent_service.client.site import SiteTerms
from consent_service.consent.tokens import VerifiedConsent


@dataclass(frozen=True)
class Consent:
    """What a visitor decided, verified: every category explicit.

    No consent at all (no cookie, or one that is forged, expired, for another site or
    an older policy version) is ``None`` where a reader answers, never a Consent:
    such a visitor allows nothing but the required categories.
    """

    consent_id: str
    policy_version: str
    given_at: datetime
    expires_at: datetime
    #: Every category id of the site to whether it is allowed (required ones always are).
    choices: Mapping[str, bool]
    site: SiteTerms = field(repr=False, compare=False)
    #: The signed token itself: personal data like the ID (C18), so kept out of reprs.
    token: str = field(repr=False, compare=False, default="")

    @classmethod
    def from_verified(cls, verified: VerifiedConsent, site: SiteTerms) -> Consent:
        """The consent of a token that :meth:`TokenSigner.current` verified for ``site``."""
        given = datetime.fromtimestamp(verified.token.given_at, tz=UTC)
        return cls(
            consent_id=verified.token.consent_id,
            policy_version=verified.token.policy_version,
            given_at=given,
            expires_at=given + timedelta(days=site.consent_lifetime_days),
            choices=verified.choices,
            site=site,
            token=verified.value,
        )

    def allows(self, category: str) -> bool:
        """Whether the visitor allowed category ``category`` (an unknown id: False)."""
        return self.choices.get(category) is True

    def allows_service(self, service: str) -> bool:
        """Whether the visitor allowed service ``service`` (an unknown id: False).

        Category-level for now: a service is allowed when its category is, which is
        what the widget's gating does. When visitors can choose per service, this
        answers their choice for the service, and callers need not change.
        """
        category = self.site.services.get(service)
        return category is not None and self.allows(category)
