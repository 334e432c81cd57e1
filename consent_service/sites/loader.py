"""Reading the site file: one TOML file describes every site (docs/configuration.md).

:func:`load_sites` validates it completely and refuses an invalid file with a message
that names the key and the problem, so a site can never go live with an undeclared
cookie (C2) or a non-necessary category claimed as "legitimate interest" (C3).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from consent_service.sites.model import (
    Category,
    ScanSchedule,
    Site,
    SiteRegistry,
)
from consent_service.sites.rules import (
    CATEGORY_ID,
    CONSENT_MODE_SIGNALS,
    COOKIE_DOMAIN,
    COOKIE_NAME,
    LANGUAGE,
    LEGITIMATE_INTEREST,
    ORIGIN,
    POLICY_VERSION,
    SITE_ID,
    SITE_KEYS,
    TEXT_KEYS,
    ConfigError,
)
from consent_service.sites.services import read_service
from consent_service.sites.values import (
    read_int,
    read_list,
    read_str,
    read_str_list,
    read_table,
    read_texts,
)


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
        parsed[site_id] = _site(site_id, read_table(raw, where), where)
    return SiteRegistry(parsed)


def _site(site_id: str, raw: dict[str, Any], where: str) -> Site:
    unknown = set(raw) - SITE_KEYS
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    languages = tuple(read_str_list(raw, "languages", where, default=["sv", "en"]))
    if not languages:
        raise ConfigError(f"{where}.languages: at least one language is required")
    for lang in languages:
        if not LANGUAGE.fullmatch(lang):
            raise ConfigError(f"{where}.languages: {lang!r} is not a language code like 'sv'")
    default_language = read_str(raw, "default_language", where, default=languages[0])
    if default_language not in languages:
        raise ConfigError(f"{where}.default_language: {default_language!r} is not in languages")
    policy_version = read_str(raw, "policy_version", where)
    if not POLICY_VERSION.fullmatch(policy_version):
        raise ConfigError(
            f"{where}.policy_version: 1-24 characters of letters, digits, '.', '_' or '-'"
        )
    lifetime = read_int(raw, "consent_lifetime_days", where, default=365, minimum=180, maximum=3650)
    cookie_name = read_str(raw, "cookie_name", where, default="consent")
    if not COOKIE_NAME.fullmatch(cookie_name):
        raise ConfigError(f"{where}.cookie_name: not a valid cookie name")
    cookie_domain = raw.get("cookie_domain") or None
    if cookie_domain is not None and not COOKIE_DOMAIN.fullmatch(str(cookie_domain)):
        raise ConfigError(f"{where}.cookie_domain: not a domain name")
    origins = tuple(read_str_list(raw, "origins", where, default=[]))
    for origin in origins:
        if origin != "self" and not ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"{where}.origins: {origin!r} is not an origin like 'https://www.example.se' or 'self'"
            )
    ip_mode = read_str(raw, "ip_mode", where, default="truncate")
    if ip_mode not in ("truncate", "hash"):
        raise ConfigError(f"{where}.ip_mode: must be 'truncate' or 'hash'")
    retention = raw.get("retention_days")
    if retention is not None:
        retention = read_int(raw, "retention_days", where, default=0, minimum=1, maximum=36500)
    texts = read_texts(raw.get("texts"), f"{where}.texts", languages, TEXT_KEYS)
    categories = _categories(raw.get("categories"), f"{where}.categories", languages)
    ids = {c.id for c in categories}
    consent_mode = read_table(raw.get("google_consent_mode", {}), f"{where}.google_consent_mode")
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
        name=read_str(raw, "name", where, default=site_id),
        origins=origins,
        languages=languages,
        default_language=default_language,
        policy_version=policy_version,
        consent_lifetime_days=lifetime,
        cookie_name=cookie_name,
        cookie_domain=str(cookie_domain) if cookie_domain else None,
        rate_limit=read_int(raw, "rate_limit", where, default=30, minimum=0, maximum=1_000_000),
        ip_mode=ip_mode,
        google_consent_mode=dict(consent_mode),
        texts=texts,
        categories=categories,
        retention_days=retention,
        scan=_scan(raw.get("scan"), f"{where}.scan"),
        reopen_button=_read_bool(raw, "reopen_button", where),
    )


def _scan(raw: Any, where: str) -> ScanSchedule | None:
    if raw is None:
        return None
    table = read_table(raw, where)
    unknown = set(table) - {"start", "every_days", "max_pages", "max_minutes"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    start = read_str(table, "start", where)
    if not start.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.start: the page or sitemap URL to scan from (http or https)")
    return ScanSchedule(
        start=start,
        every_days=read_int(table, "every_days", where, default=30, minimum=1, maximum=366),
        max_pages=read_int(table, "max_pages", where, default=50, minimum=1, maximum=10_000),
        max_minutes=read_int(table, "max_minutes", where, default=15, minimum=1, maximum=240),
    )


def _read_bool(raw: dict[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: must be true or false")
    return value


def _categories(raw: Any, where: str, languages: tuple[str, ...]) -> tuple[Category, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: at least one [[categories]] entry is required")
    categories: list[Category] = []
    seen_services: set[str] = set()
    for i, item in enumerate(raw):
        here = f"{where}[{i}]"
        table = read_table(item, here)
        unknown = set(table) - {"id", "required", "texts", "services", "legal_basis"}
        if unknown:
            raise ConfigError(f"{here}.{sorted(unknown)[0]}: unknown key")
        cid = read_str(table, "id", here)
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
        if basis in LEGITIMATE_INTEREST:
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
        for j, svc in enumerate(read_list(table, "services", here)):
            service = read_service(svc, f"{here}.services[{j}]", languages)
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
                texts=read_texts(
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
