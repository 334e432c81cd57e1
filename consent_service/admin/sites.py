"""A site as the admin page shows it: its name and its categories' titles per language."""

from __future__ import annotations

from typing import Any

from consent_service.sites import Site


def site_summary(site: Site) -> dict[str, Any]:
    """One entry of ``GET /admin/v1/me``'s ``sites``.

    The page names categories by their titles in its own language, never by their ids
    ("Tillåter Statistik", not "Tillåter statistics"), and says until when a consent
    holds from the site's lifetime.
    """
    return {
        "id": site.id,
        "name": site.name,
        "languages": list(site.languages),
        "consent_lifetime_days": site.consent_lifetime_days,
        "categories": [
            {
                "id": c.id,
                "required": c.required,
                "title": {lang: texts["title"] for lang, texts in c.texts.items()},
            }
            for c in site.categories
        ],
    }
