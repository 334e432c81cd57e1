"""The proposed site-file entries for undeclared cookies, as a TOML fragment to paste.

Cookies are grouped into services by the database's platform, each under the site's
category that fits the database's category (Functional and Security: the required
one; Analytics: one named like statistics; Marketing: one named like marketing or
third-party). Purposes come from the database in English; a language the database
has no text for (Swedish, always) is left as a comment, so the file does not load
until a person writes it: a proposal never ships an English text as Swedish, nor a
guessed lifetime.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from consent_service.gating.cookiedb.database import site_lifetime
from consent_service.gating.scan.declared import Declared

if TYPE_CHECKING:
    from consent_service.gating.scan.declaration_check import Undeclared

#: The database's categories and the site category ids that look like each.
_FITS = {
    "analytics": re.compile(r"stat|analy|measure|matning"),
    "marketing": re.compile(r"market|advert|ads|third|social|tredje"),
    "personalization": re.compile(r"pref|personal|function|funktion"),
}
_NECESSARY = ("functional", "necessary", "security")


def _q(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _target(declared: Declared, category: str | None, phases: set[str]) -> str | None:
    """The site's category for a database category, or None when none fits.

    A cookie that appeared only after "Godkänn alla" is behaving as one that needs
    consent, whatever the database calls it: never proposed as necessary.
    """
    key = (category or "").lower()
    if key in _NECESSARY and phases == {"accept"}:
        return None
    if key in _NECESSARY:
        return next((c for c in declared.categories if c in declared.required), "necessary")
    fit = _FITS.get(key)
    if fit is None:
        return None
    return next(
        (c for c in declared.categories if c not in declared.required and fit.search(c)), None
    )


def _service_id(platform: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", platform.lower()).strip("-")[:40].strip("-")
    return slug if slug[:1].isalpha() else f"service-{slug}".strip("-")


def _cookie_lines(prefix: str, u: Undeclared, languages: Sequence[str]) -> list[str]:
    known = u.known
    name = known.pattern() if known else u.sighting.name
    lines = [f"[[{prefix}.categories.services.cookies]]", f"name = {_q(name)}"]
    if known is None:
        lines.append("# provider, lifetime, purpose: unknown to the Open Cookie Database")
        return lines
    lines.append(f"provider = {_q(known.controller or known.platform)}")
    lifetime = site_lifetime(known.retention)
    if lifetime:
        lines.append(f"lifetime = {_q(lifetime)}")
    else:
        lines.append(f"# lifetime = ?  the database says {_q(known.retention)}: find out, write it")
    for lang in languages:
        if lang == "en" and known.description:
            lines.append(f"purpose.en = {_q(known.description)}")
        else:
            lines.append(f'# purpose.{lang} = "…"  write it: the file does not load without it')
    return lines


def toml_fragment(
    declared: Declared,
    undeclared: Sequence[Undeclared],
    source: Mapping[str, Any],
    today: date,
) -> str:
    """Site-file entries for ``undeclared``, grouped by category and platform, to paste."""
    site = declared.site or "SITE"
    prefix = f"sites.{site}"
    languages = declared.languages or ("sv", "en")
    pinned = source.get("commit") or source.get("sha256") or "unknown"
    out = [
        f"# Proposed by `consent-service scan` on {today.isoformat()} for site {site!r}, from",
        f"# the Open Cookie Database (Apache-2.0; copy {str(pinned)[:12]}). Paste each service",
        "# under the category named above it, check every text, then bump policy_version.",
    ]
    groups: dict[tuple[str | None, str], list[Undeclared]] = {}  # (category, platform)
    seen_patterns: set[str] = set()
    for u in undeclared:
        pattern = u.known.pattern() if u.known else u.sighting.name
        if pattern in seen_patterns:
            continue  # two names one prefix row covers (_pk_id.1.a, _pk_id.2.b): one entry
        seen_patterns.add(pattern)
        category = _target(declared, u.known.category, u.sighting.phases) if u.known else None
        platform = u.known.platform if u.known else ""
        groups.setdefault((category, platform), []).append(u)
    for (category, platform), members in groups.items():
        out.append("")
        known = members[0].known
        if known is None:
            out.append("# --- unknown to the Open Cookie Database: find out who sets these and why")
        elif category is None and known.category.lower() in _NECESSARY:
            out.append(
                f"# --- under a category that needs consent: the database calls it "
                f"{known.category}, but it appeared only after accepting"
            )
        elif category is None:
            out.append(
                f"# --- under a category for {known.category} cookies "
                "(none of this site's categories looks like one)"
            )
        else:
            out.append(f"# --- under the category {category!r} ({known.category} in the database)")
        out.append(f"[[{prefix}.categories.services]]")
        if known is not None:
            out.append(f"id = {_q(_service_id(platform))}")
            out.append(f"name = {_q(platform)}")
            out.append(f"provider = {_q(known.controller or platform)}")
            if known.privacy_url:
                out.append(f"# privacy: {known.privacy_url}")
        else:
            out.append('# id = "…"  name = "…"  provider = "…"')
        for u in members:
            out.extend(_cookie_lines(prefix, u, languages))
    return "\n".join(out) + "\n"
