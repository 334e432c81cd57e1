"""The cookie declaration as data: every category, service and cookie of a site, in one language.

What ``GET /v1/sites/{site}/declaration?format=json`` answers, and the words a cookie's
lifetime is shown in (C2, C7).
"""

from __future__ import annotations

import re
from typing import Any

from consent_service.gating.gate import service_origins
from consent_service.sites import Service, Site

#: Lifetime units, singular and plural, per language.
UNITS: dict[str, dict[str, tuple[str, str]]] = {
    "sv": {
        "min": ("minut", "minuter"),
        "h": ("timme", "timmar"),
        "d": ("dag", "dagar"),
        "mo": ("månad", "månader"),
        "y": ("år", "år"),
    },
    "en": {
        "min": ("minute", "minutes"),
        "h": ("hour", "hours"),
        "d": ("day", "days"),
        "mo": ("month", "months"),
        "y": ("year", "years"),
    },
}
SESSION = {"sv": "Sessionen", "en": "Session"}
#: Where a service processes data (``Service.data_location``), in words.
DATA_LOCATION = {
    "sv": {
        "eu": "Uppgifterna behandlas inom EU/EES.",
        "third-country": "Uppgifterna kan föras över till ett land utanför EU/EES (tredjeland).",
    },
    "en": {
        "eu": "The data is processed within the EU/EEA.",
        "third-country": "The data may be transferred to a country outside the EU/EEA "
        "(a third country).",
    },
}


def data_location_text(location: str | None, language: str) -> str | None:
    """``"eu"`` / ``"third-country"`` in words, or None when the site file does not say."""
    if location is None:
        return None
    return DATA_LOCATION["sv" if language == "sv" else "en"][location]


_LIFETIME = re.compile(r"^(\d+)(min|h|d|mo|y)$")


def lifetime_text(lifetime: str, language: str) -> str:
    """A config lifetime in words: ``"13mo"`` → ``"13 månader"`` / ``"13 months"``."""
    lang = language if language in UNITS else "en"
    if lifetime == "session":
        return SESSION[lang]
    match = _LIFETIME.match(lifetime)
    if match is None:
        return lifetime
    number, unit = int(match[1]), match[2]
    singular, plural = UNITS[lang][unit]
    return f"{number} {singular if number == 1 else plural}"


def declaration_data(site: Site, language: str) -> dict[str, Any]:
    """The declaration as plain data in one language (what the JSON format answers)."""
    return {
        "site": site.id,
        "name": site.name,
        "language": language,
        "policy_version": site.policy_version,
        "categories": [
            {
                "id": c.id,
                "required": c.required,
                "title": c.texts[language]["title"],
                "description": c.texts[language]["description"],
                "services": [_service_data(s, language) for s in c.services],
            }
            for c in site.categories
        ],
    }


def _service_data(service: Service, language: str) -> dict[str, Any]:
    return {
        "id": service.id,
        "name": service.name,
        "provider": service.provider,
        "origins": list(service_origins(service)),
        "data_location": service.data_location,
        "data_location_text": data_location_text(service.data_location, language),
        "cookies": [
            {
                "name": k.name,
                "provider": k.provider,
                "purpose": k.purpose[language],
                "lifetime": k.lifetime,
                "lifetime_text": lifetime_text(k.lifetime, language),
            }
            for k in service.cookies
        ],
    }
