"""The site configuration file: sites, their categories, services, cookies and texts.

One TOML file describes every site (see ``docs/configuration.md``). :func:`load_sites`
validates it completely and refuses an invalid file with a message that names the
key and the problem, so a site can never go live with an undeclared cookie (C2) or a
non-necessary category claimed as "legitimate interest" (C3).
"""

from __future__ import annotations

import functools
import hashlib
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consent_service.audit.canonical import canonical_json
from consent_service.web.errors import UnknownSite

SITE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
CATEGORY_ID = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
POLICY_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,24}$")
COOKIE_NAME = re.compile(r"^[A-Za-z0-9_.*\-]{1,64}$")
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$")
LIFETIME = re.compile(r"^(session|\d{1,4}(min|h|d|mo|y))$")

#: Banner texts every language must give.
TEXT_KEYS = (
    "title",
    "description",
    "purposes",
    "accept_all",
    "reject_all",
    "settings",
    "save",
    "settings_title",
    "settings_description",
    "language_switch",
    "consent_id",
    "consent_date",
    "saved",
    "declaration_link",
)
CONSENT_MODE_SIGNALS = ("analytics_storage", "ad_storage", "ad_user_data", "ad_personalization")
_SITE_KEYS = {
    "name",
    "origins",
    "languages",
    "default_language",
    "policy_version",
    "consent_lifetime_days",
    "cookie_name",
    "cookie_domain",
    "rate_limit",
    "ip_mode",
    "google_consent_mode",
    "texts",
    "categories",
    "retention_days",
}
_LEGITIMATE_INTEREST = {"legitimate-interest", "legitimate_interest", "legitimate interest"}


class ConfigError(ValueError):
    """The configuration file is invalid; the message names the key and the problem."""


@dataclass(frozen=True)
class Cookie:
    """One cookie a service sets, as the declaration lists it (C2)."""

    name: str
    provider: str
    purpose: Mapping[str, str]
    lifetime: str


@dataclass(frozen=True)
class Service:
    """A tracker, embed or tool that belongs to one category."""

    id: str
    name: str
    provider: str
    script: str
    origins: tuple[str, ...]
    cookies: tuple[Cookie, ...]


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

    def texts_hash(self, language: str) -> str:
        """SHA-256 of the canonical JSON of :meth:`shown_texts` (cached per language)."""
        cache: dict[str, str] = self.__dict__.setdefault("_texts_hash", {})
        if language not in cache:
            cache[language] = hashlib.sha256(canonical_json(self.shown_texts(language))).hexdigest()
        return cache[language]

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
                        }
                        for s in c.services
                    ],
                }
                for c in self.categories
            ],
            "endpoints": {
                "consent": f"{base}/consent",
                "declaration": f"{base}/declaration",
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


def load_sites(path: Path) -> SiteRegistry:
    """Read and validate the TOML file at ``path``; raise :class:`ConfigError` naming the key."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_sites(data)


def parse_sites(data: Mapping[str, Any]) -> SiteRegistry:
    """Validate an already-parsed configuration document."""
    sites = data.get("sites")
    if not isinstance(sites, dict) or not sites:
        raise ConfigError("sites: at least one [sites.<id>] table is required")
    extra = set(data) - {"sites"}
    if extra:
        raise ConfigError(f"{sorted(extra)[0]}: unknown top-level key")
    parsed: dict[str, Site] = {}
    for site_id, raw in sites.items():
        where = f"sites.{site_id}"
        if not SITE_ID.fullmatch(site_id):
            raise ConfigError(f"{where}: a site id is lowercase letters, digits and '-'")
        parsed[site_id] = _site(site_id, _table(raw, where), where)
    return SiteRegistry(parsed)


def _site(site_id: str, raw: dict[str, Any], where: str) -> Site:
    unknown = set(raw) - _SITE_KEYS
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    languages = tuple(_str_list(raw, "languages", where, default=["sv", "en"]))
    if not languages:
        raise ConfigError(f"{where}.languages: at least one language is required")
    for lang in languages:
        if not LANGUAGE.fullmatch(lang):
            raise ConfigError(f"{where}.languages: {lang!r} is not a language code like 'sv'")
    default_language = _str(raw, "default_language", where, default=languages[0])
    if default_language not in languages:
        raise ConfigError(f"{where}.default_language: {default_language!r} is not in languages")
    policy_version = _str(raw, "policy_version", where)
    if not POLICY_VERSION.fullmatch(policy_version):
        raise ConfigError(
            f"{where}.policy_version: 1-24 characters of letters, digits, '.', '_' or '-'"
        )
    lifetime = _int(raw, "consent_lifetime_days", where, default=365, minimum=180, maximum=3650)
    cookie_name = _str(raw, "cookie_name", where, default="consent")
    if not COOKIE_NAME.fullmatch(cookie_name):
        raise ConfigError(f"{where}.cookie_name: not a valid cookie name")
    cookie_domain = raw.get("cookie_domain") or None
    if cookie_domain is not None and not re.match(r"^\.?[A-Za-z0-9.\-]+$", str(cookie_domain)):
        raise ConfigError(f"{where}.cookie_domain: not a domain name")
    origins = tuple(_str_list(raw, "origins", where, default=[]))
    for origin in origins:
        if origin != "self" and not ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"{where}.origins: {origin!r} is not an origin like 'https://www.example.se' or 'self'"
            )
    ip_mode = _str(raw, "ip_mode", where, default="truncate")
    if ip_mode not in ("truncate", "hash"):
        raise ConfigError(f"{where}.ip_mode: must be 'truncate' or 'hash'")
    retention = raw.get("retention_days")
    if retention is not None:
        retention = _int(raw, "retention_days", where, default=0, minimum=1, maximum=36500)
    texts = _texts(raw.get("texts"), f"{where}.texts", languages, TEXT_KEYS)
    categories = _categories(raw.get("categories"), f"{where}.categories", languages)
    ids = {c.id for c in categories}
    consent_mode = _table(raw.get("google_consent_mode", {}), f"{where}.google_consent_mode")
    for signal, category in consent_mode.items():
        if signal not in CONSENT_MODE_SIGNALS:
            raise ConfigError(
                f"{where}.google_consent_mode.{signal}: unknown signal; "
                f"use {', '.join(CONSENT_MODE_SIGNALS)}"
            )
        if not isinstance(category, str) or category not in ids:
            raise ConfigError(f"{where}.google_consent_mode.{signal}: no category {category!r}")
    return Site(
        id=site_id,
        name=_str(raw, "name", where, default=site_id),
        origins=origins,
        languages=languages,
        default_language=default_language,
        policy_version=policy_version,
        consent_lifetime_days=lifetime,
        cookie_name=cookie_name,
        cookie_domain=str(cookie_domain) if cookie_domain else None,
        rate_limit=_int(raw, "rate_limit", where, default=30, minimum=0, maximum=1_000_000),
        ip_mode=ip_mode,
        google_consent_mode=dict(consent_mode),
        texts=texts,
        categories=categories,
        retention_days=retention,
    )


def _categories(raw: Any, where: str, languages: tuple[str, ...]) -> tuple[Category, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: at least one [[categories]] entry is required")
    categories: list[Category] = []
    seen_services: set[str] = set()
    for i, item in enumerate(raw):
        here = f"{where}[{i}]"
        table = _table(item, here)
        unknown = set(table) - {"id", "required", "texts", "services", "legal_basis"}
        if unknown:
            raise ConfigError(f"{here}.{sorted(unknown)[0]}: unknown key")
        cid = _str(table, "id", here)
        if not CATEGORY_ID.fullmatch(cid):
            raise ConfigError(
                f"{here}.id: lowercase letters, digits and '-', starting with a letter"
            )
        if any(c.id == cid for c in categories):
            raise ConfigError(f"{here}.id: category {cid!r} is listed twice")
        required = table.get("required", False)
        if not isinstance(required, bool):
            raise ConfigError(f"{here}.required: must be true or false")
        basis = str(table.get("legal_basis", "necessary" if required else "consent")).lower()
        if basis in _LEGITIMATE_INTEREST:
            raise ConfigError(
                f"{here}.legal_basis: 'legitimate interest' is not a lawful basis for storing or "
                "reading information on a visitor's device; a category is either strictly "
                "necessary (required = true) or needs consent (C3)"
            )
        if basis not in ("consent", "necessary"):
            raise ConfigError(f"{here}.legal_basis: must be 'consent' or 'necessary'")
        if basis == "necessary" and not required:
            raise ConfigError(f"{here}.legal_basis: a 'necessary' category must be required = true")
        if basis == "consent" and required:
            raise ConfigError(f"{here}.legal_basis: a required category is not based on consent")
        services = []
        for j, svc in enumerate(_list(table, "services", here)):
            service = _service(svc, f"{here}.services[{j}]", languages)
            if service.id in seen_services:
                raise ConfigError(
                    f"{here}.services[{j}].id: service {service.id!r} is listed twice"
                )
            seen_services.add(service.id)
            services.append(service)
        categories.append(
            Category(
                id=cid,
                required=required,
                texts=_texts(
                    table.get("texts"), f"{here}.texts", languages, ("title", "description")
                ),
                services=tuple(services),
            )
        )
    if not any(c.id == "necessary" and c.required for c in categories):
        raise ConfigError(
            f"{where}: a category with id 'necessary' and required = true is required"
        )
    if len([c for c in categories if not c.required]) > 30:
        raise ConfigError(f"{where}: at most 30 optional categories")
    return tuple(categories)


def _service(raw: Any, where: str, languages: tuple[str, ...]) -> Service:
    table = _table(raw, where)
    unknown = set(table) - {"id", "name", "provider", "script", "origins", "cookies"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    sid = _str(table, "id", where)
    if not CATEGORY_ID.fullmatch(sid):
        raise ConfigError(f"{where}.id: lowercase letters, digits and '-', starting with a letter")
    origins = tuple(_str_list(table, "origins", where, default=[]))
    for origin in origins:
        if not ORIGIN.fullmatch(origin):
            raise ConfigError(f"{where}.origins: {origin!r} is not an origin")
    cookies = tuple(
        _cookie(c, f"{where}.cookies[{k}]", languages)
        for k, c in enumerate(_list(table, "cookies", where))
    )
    return Service(
        id=sid,
        name=_str(table, "name", where),
        provider=_str(table, "provider", where),
        script=_str(table, "script", where, default=""),
        origins=origins,
        cookies=cookies,
    )


def _cookie(raw: Any, where: str, languages: tuple[str, ...]) -> Cookie:
    table = _table(raw, where)
    unknown = set(table) - {"name", "provider", "purpose", "lifetime"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    name = _str(table, "name", where)
    if not COOKIE_NAME.fullmatch(name):
        raise ConfigError(f"{where}.name: not a valid cookie name")
    if "lifetime" not in table:
        raise ConfigError(f"{where}.lifetime: missing; every cookie declares its lifetime (C2)")
    lifetime = _str(table, "lifetime", where)
    if not LIFETIME.fullmatch(lifetime):
        raise ConfigError(
            f"{where}.lifetime: {lifetime!r} is not 'session' or a number with min, h, d, mo or y"
        )
    if "purpose" not in table:
        raise ConfigError(f"{where}.purpose: missing; every cookie declares its purpose (C2)")
    purpose = table["purpose"]
    if isinstance(purpose, str):
        purpose = dict.fromkeys(languages, purpose)
    purpose = _texts_one(purpose, f"{where}.purpose", languages)
    return Cookie(
        name=name, provider=_str(table, "provider", where), purpose=purpose, lifetime=lifetime
    )


def _texts(
    raw: Any, where: str, languages: tuple[str, ...], keys: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    table = _table(raw, where)
    out: dict[str, dict[str, str]] = {}
    for lang in languages:
        entry = _table(table.get(lang), f"{where}.{lang}")
        out[lang] = {}
        for key in keys:
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}.{lang}.{key}: missing or empty text")
            out[lang][key] = value
    return out


def _texts_one(raw: Any, where: str, languages: tuple[str, ...]) -> dict[str, str]:
    table = _table(raw, where)
    out = {}
    for lang in languages:
        value = table.get(lang)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}.{lang}: missing or empty text")
        out[lang] = value
    return out


def _table(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        raise ConfigError(f"{where}: missing")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    return raw


def _list(raw: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{where}.{key}: must be a list of tables")
    return value


def _str(raw: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    if key not in raw:
        if default is None:
            raise ConfigError(f"{where}.{key}: missing")
        return default
    value = raw[key]
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise ConfigError(f"{where}.{key}: must be a non-empty string")
    return value


def _str_list(raw: Mapping[str, Any], key: str, where: str, default: list[str]) -> list[str]:
    value = raw.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key}: must be a list of strings")
    return value


def _int(
    raw: Mapping[str, Any], key: str, where: str, *, default: int, minimum: int, maximum: int
) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: must be an integer")
    if not minimum <= value <= maximum:
        raise ConfigError(f"{where}.{key}: must be between {minimum} and {maximum}, got {value}")
    return value
