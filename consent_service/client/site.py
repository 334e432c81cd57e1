"""What a reader must know of a site: its categories, services and policy version.

Built from the site's public config (``GET /v1/sites/{site}/config``), so a site's
backend never needs the service's config file or code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CategoryTerms:
    """One consent category: its id, whether it is always on, its services' ids."""

    id: str
    required: bool = False
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteTerms:
    """A site as a token reader sees it (a :class:`~consent_service.consent.tokens.TokenSite`).

    ``categories`` are in config order: the token's bitmask follows the order of the
    optional ones, so terms older than the site's config misread newer tokens. Take
    them fresh from the config when the site's ``policy_version`` changes.
    """

    id: str
    policy_version: str
    categories: tuple[CategoryTerms, ...]
    consent_lifetime_days: int = 365
    cookie_name: str = "consent"
    #: Service id to its category's id, derived from ``categories``.
    services: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        owners = {s: c.id for c in self.categories for s in c.services}
        object.__setattr__(self, "services", owners)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SiteTerms:
        """The terms in a site's public config JSON, as the service answers it."""
        try:
            categories = tuple(
                CategoryTerms(
                    _text(c["id"]),
                    c["required"] is True,
                    tuple(_text(s["id"]) for s in c.get("services", ())),
                )
                for c in config["categories"]
            )
            return cls(
                id=_text(config["site"]),
                policy_version=_text(config["policy_version"]),
                categories=categories,
                consent_lifetime_days=int(config["consent_lifetime_days"]),
                cookie_name=_text(config["cookie_name"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a kakor site config: {exc!r}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value
