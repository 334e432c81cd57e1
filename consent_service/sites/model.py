"""The configured sites, as the service uses them: categories, services, cookies, texts.

Built only by :mod:`consent_service.sites.loader`, which has validated everything; the
objects never change afterwards.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from consent_service.audit.canonical import texts_digest
from consent_service.web.errors import UnknownSite


@dataclass(frozen=True)
class Cookie:
    """One cookie a service sets, as the declaration lists it (C2)."""

    name: str
    provider: str
    purpose: Mapping[str, str]
    lifetime: str


@dataclass(frozen=True)
class VendorCall:
    """One of a vendor's own consent calls, as data: ``push`` onto a queue array
    (``_paq.push(args)``, the array made if missing) or ``call`` a global function
    (``fbq(...args)``), skipped while it is not defined unless ``queue`` names the
    property of the vendor's own stub (Clarity's ``clarity.q``), which is then made."""

    kind: str
    target: str
    args: tuple[str | int | float | bool, ...]
    queue: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The call as the widget's vendor script reads it."""
        out: dict[str, Any] = {self.kind: self.target, "args": list(self.args)}
        if self.queue:
            out["queue"] = self.queue
        return out


@dataclass(frozen=True)
class Service:
    """A tracker, embed or tool that belongs to one category."""

    id: str
    name: str
    provider: str
    script: str
    origins: tuple[str, ...]
    cookies: tuple[Cookie, ...]
    #: The bundled template it was made from (``service = "matomo"``), if any.
    template: str | None = None
    #: ``"eu"`` or ``"third-country"``: where the service processes the data.
    data_location: str | None = None
    #: The vendor's own calls when the service's category is allowed, and when it is not.
    grant: tuple[VendorCall, ...] = ()
    deny: tuple[VendorCall, ...] = ()


@dataclass(frozen=True)
class ScanSchedule:
    """``[sites.<id>.scan]``: ``serve`` scans the site from ``start`` every ``every_days``,
    at most ``max_pages`` pages in ``max_minutes`` (the crawl's ``--max-time``)."""

    start: str
    every_days: int
    max_pages: int = 50
    max_minutes: int = 15


@dataclass(frozen=True)
class Category:
    """A purpose a visitor can allow or refuse; ``required`` ones are always on."""

    id: str
    required: bool
    texts: Mapping[str, Mapping[str, str]]
    services: tuple[Service, ...]


@dataclass(frozen=True)
class Site:
    """One website that embeds the widget."""

    id: str
    name: str
    origins: tuple[str, ...]
    languages: tuple[str, ...]
    default_language: str
    policy_version: str
    consent_lifetime_days: int
    cookie_name: str
    cookie_domain: str | None
    rate_limit: int
    ip_mode: str
    google_consent_mode: Mapping[str, str]
    texts: Mapping[str, Mapping[str, str]]
    categories: tuple[Category, ...]
    retention_days: int | None
    #: The scheduled scan, or None (the default: no scans unless the site file asks).
    scan: ScanSchedule | None = None
    #: A floating button that reopens the settings, for sites without a footer link.
    reopen_button: bool = False

    @functools.cached_property
    def category_ids(self) -> tuple[str, ...]:
        """Every category id, in config order."""
        return tuple(c.id for c in self.categories)

    @functools.cached_property
    def optional_ids(self) -> tuple[str, ...]:
        """The ids a visitor chooses, in config order (the token's bit order)."""
        return tuple(c.id for c in self.categories if not c.required)

    @functools.cached_property
    def required_ids(self) -> tuple[str, ...]:
        """The ids that are always allowed."""
        return tuple(c.id for c in self.categories if c.required)

    @functools.cached_property
    def cookie_attributes(self) -> str:
        """The consent cookie's attributes after its value, ``Secure`` aside."""
        parts = [f"Max-Age={self.consent_lifetime_days * 86400}", "Path=/", "SameSite=Lax"]
        if self.cookie_domain:
            parts.append(f"Domain={self.cookie_domain}")
        return "; ".join(parts)

    def service(self, service_id: str) -> tuple[Category, Service] | None:
        """The service with this id and its category, or None."""
        for category in self.categories:
            for service in category.services:
                if service.id == service_id:
                    return category, service
        return None

    def shown_texts(self, language: str) -> dict[str, Any]:
        """Everything the widget shows in ``language``: the proof of what a visitor was told."""
        return {
            "texts": dict(self.texts[language]),
            "categories": [
                {
                    "id": c.id,
                    "required": c.required,
                    "texts": dict(c.texts[language]),
                    "services": [
                        {
                            "id": s.id,
                            "name": s.name,
                            "provider": s.provider,
                            "cookies": [
                                {
                                    "name": k.name,
                                    "provider": k.provider,
                                    "purpose": k.purpose[language],
                                    "lifetime": k.lifetime,
                                }
                                for k in s.cookies
                            ],
                        }
                        for s in c.services
                    ],
                }
                for c in self.categories
            ],
        }

    @functools.cached_property
    def texts_hashes(self) -> dict[str, str]:
        """Per language, the SHA-256 of the canonical JSON of :meth:`shown_texts`."""
        return {lang: texts_digest(self.shown_texts(lang)) for lang in self.languages}

    def texts_hash(self, language: str) -> str:
        """What a row records of the texts shown in ``language`` (C19: proof of what was told)."""
        return self.texts_hashes[language]

    @functools.cached_property
    def third_parties(self) -> tuple[str, ...]:
        """The providers of every optional service that loads from another origin, once
        each, in config order: the first layer names them all (C7), so a service added
        to the config is named without anyone editing the ``purposes`` text."""
        names = [
            s.provider for c in self.categories if not c.required for s in c.services if s.origins
        ]
        return tuple(dict.fromkeys(names))

    @property
    def vendor_calls(self) -> list[dict[str, Any]]:
        """Per service with consent calls: its category and the calls, for the widget.

        Made afresh at each call (a few services): every config built from it gets lists
        of its own, so a caller that changes one cannot change the next."""
        return [
            {
                "service": s.id,
                "category": c.id,
                "grant": [call.to_json() for call in s.grant],
                "deny": [call.to_json() for call in s.deny],
            }
            for c in self.categories
            for s in c.services
            if s.grant or s.deny
        ]

    def public_config(self, base_url: str) -> dict[str, Any]:
        """The site's public configuration, as ``GET …/config`` answers and the widget inlines."""
        base = f"{base_url.rstrip('/')}/v1/sites/{self.id}"
        return {
            "site": self.id,
            "policy_version": self.policy_version,
            "languages": list(self.languages),
            "default_language": self.default_language,
            "consent_lifetime_days": self.consent_lifetime_days,
            "cookie_name": self.cookie_name,
            "cookie_domain": self.cookie_domain,
            "google_consent_mode": dict(self.google_consent_mode),
            "reopen_button": self.reopen_button,
            "third_parties": list(self.third_parties),
            "texts": {lang: dict(t) for lang, t in self.texts.items()},
            "categories": [
                {
                    "id": c.id,
                    "required": c.required,
                    "texts": {lang: dict(t) for lang, t in c.texts.items()},
                    "services": [
                        {
                            "id": s.id,
                            "name": s.name,
                            "provider": s.provider,
                            "script": s.script,
                            "origins": list(s.origins),
                            "cookies": [
                                {
                                    "name": k.name,
                                    "provider": k.provider,
                                    "purpose": dict(k.purpose),
                                    "lifetime": k.lifetime,
                                }
                                for k in s.cookies
                            ],
                            **({"data_location": s.data_location} if s.data_location else {}),
                        }
                        for s in c.services
                    ],
                }
                for c in self.categories
            ],
            **({"vendor_calls": self.vendor_calls} if self.vendor_calls else {}),
            "endpoints": {
                "config": f"{base}/config",
                "consent": f"{base}/consent",
                "declaration": f"{base}/declaration",
                "receipt": f"{base}/receipt",
            },
        }


class SiteRegistry:
    """The configured sites, looked up by id."""

    def __init__(self, sites: Mapping[str, Site]) -> None:
        self._sites = dict(sites)

    def get(self, site_id: str) -> Site:
        """The site, or :class:`~consent_service.web.errors.UnknownSite` (404)."""
        try:
            return self._sites[site_id]
        except KeyError:
            raise UnknownSite(site_id) from None

    def __iter__(self) -> Iterator[Site]:
        return iter(self._sites.values())

    def __contains__(self, site_id: object) -> bool:
        return site_id in self._sites

    def __len__(self) -> int:
        return len(self._sites)
