"""What a site declares: its cookies and service origins by category, and its button labels.

The scanner reads it from the site's public config, the one the widget itself loads
(``GET /v1/sites/{site}/config``), or from a local config file.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consent_service.gating.scan.errors import ScanError
from consent_service.gating.scan.observation import origin_of
from consent_service.sites import load_sites

if TYPE_CHECKING:
    from playwright.async_api import Browser


@dataclass(frozen=True)
class Declared:
    """What a site declares: its cookies and service origins by category, and its button labels."""

    site: str | None
    cookies: Mapping[str, str]
    origins: Mapping[str, str]
    required: frozenset[str]
    accept_labels: tuple[str, ...]
    reject_labels: tuple[str, ...]
    #: The category ids in the site file's order, its languages and policy version.
    categories: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    policy_version: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Declared:
        """From a site's public config (``GET /v1/sites/{site}/config`` or ``Site.public_config``)."""
        cookies: dict[str, str] = {}
        origins: dict[str, str] = {}
        required = set()
        for category in config["categories"]:
            if category["required"]:
                required.add(category["id"])
            for service in category["services"]:
                for name in service.get("origins", []):
                    origins.setdefault(name, category["id"])
                script_origin = origin_of(service.get("script") or "")
                if script_origin:
                    origins.setdefault(script_origin, category["id"])
                for k in service.get("cookies", []):
                    cookies.setdefault(k["name"], category["id"])
        languages = [config.get("default_language"), *config.get("languages", [])]
        texts = config.get("texts", {})
        ordered = [lang for lang in dict.fromkeys(languages) if lang in texts]
        return cls(
            site=config.get("site"),
            cookies=cookies,
            origins=origins,
            required=frozenset(required),
            accept_labels=tuple(dict.fromkeys(texts[lang]["accept_all"] for lang in ordered)),
            reject_labels=tuple(dict.fromkeys(texts[lang]["reject_all"] for lang in ordered)),
            categories=tuple(c["id"] for c in config["categories"]),
            languages=tuple(lang for lang in dict.fromkeys(languages) if lang),
            policy_version=config.get("policy_version"),
        )

    @classmethod
    def nothing(cls) -> Declared:
        """No declaration at all: every cookie and every other origin is a finding."""
        return cls(None, {}, {}, frozenset(), (), ())

    def cookie_category(self, name: str) -> str | None:
        """The category of the declared cookie ``name`` matches (``*`` is a wildcard), or None."""
        if name in self.cookies:
            return self.cookies[name]
        for pattern, category in self.cookies.items():
            if "*" in pattern and fnmatch.fnmatchcase(name, pattern):
                return category
        return None

    def necessary_cookie(self, name: str) -> bool:
        """Whether ``name`` is declared in a required category."""
        return self.cookie_category(name) in self.required

    def origin_category(self, origin: str) -> str | None:
        """The category of the service that declares ``origin``; a declared
        ``https://*.example.com`` covers every subdomain of example.com, as in a CSP."""
        if origin in self.origins:
            return self.origins[origin]
        scheme, sep, host = origin.partition("://")
        for pattern, category in self.origins.items():
            p_scheme, _, p_host = pattern.partition("://")
            wildcard = p_host.startswith("*.")
            if sep and wildcard and p_scheme == scheme and host.endswith(p_host[1:]):
                return category
        return None

    def necessary_origin(self, origin: str) -> bool:
        """Whether a required category's service loads from ``origin``."""
        return self.origin_category(origin) in self.required


def load_declared(config_path: Path, site_id: str | None) -> Declared:
    """The declaration of ``site_id`` (or the file's only site) from a local config file."""
    registry = load_sites(config_path)
    if site_id is None:
        sites = list(registry)
        if len(sites) != 1:
            raise ScanError(f"{config_path} has {len(sites)} sites; name one with --site")
        site_id = sites[0].id
    if site_id not in registry:
        raise ScanError(f"{config_path} has no site {site_id!r}")
    return Declared.from_config(registry.get(site_id).public_config(""))


async def remote_declared(browser: Browser, base: str, site_id: str, timeout: float) -> Declared:
    """The declaration as the widget sees it: the service's public config of ``site_id``."""
    from playwright.async_api import Error as PlaywrightError

    context = await browser.new_context()
    try:
        answer = await context.request.get(
            f"{base}/v1/sites/{site_id}/config", timeout=timeout * 1000
        )
        if not answer.ok:
            raise ScanError(f"the consent service answered {answer.status} for site {site_id!r}")
        return Declared.from_config(await answer.json())
    except PlaywrightError as exc:
        raise ScanError(f"could not read the site config: {str(exc).splitlines()[0]}") from None
    finally:
        await context.close()
