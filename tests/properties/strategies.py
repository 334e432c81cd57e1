"""Hypothesis strategies shared by the property suites: JSON values, site configs, events."""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from consent_service.audit.events import ConsentEvent
from consent_service.sites import TEXT_KEYS, Site, parse_sites

#: Any JSON value, as ``json.loads`` could hand it to the service.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

#: Any value TOML could hand to the config loader (tables have string keys).
toml_values = st.recursive(
    st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

category_ids = st.from_regex(r"\A[a-z][a-z0-9-]{0,8}\Z").filter(lambda c: c != "necessary")


def site_document(optional: list[str], languages: tuple[str, ...] = ("sv", "en")) -> dict[str, Any]:
    """A valid config document with one site ``s`` and ``optional`` categories."""

    def texts(keys: tuple[str, ...]) -> dict[str, dict[str, str]]:
        return {lang: {k: f"{k} {lang}" for k in keys} for lang in languages}

    categories = [{"id": "necessary", "required": True, "texts": texts(("title", "description"))}]
    categories += [
        {
            "id": cid,
            "required": False,
            "texts": texts(("title", "description")),
            "services": [
                {
                    "id": f"{cid}-svc",
                    "name": "Service",
                    "provider": "Provider",
                    "origins": ["https://svc.example"],
                    "cookies": [
                        {"name": "_c", "provider": "Provider", "purpose": "why", "lifetime": "1y"}
                    ],
                }
            ],
        }
        for cid in optional
    ]
    site: dict[str, Any] = {
        "languages": list(languages),
        "origins": ["https://www.example.se"],
        "policy_version": "v1",
        "rate_limit": 30,
        "texts": texts(TEXT_KEYS),
        "categories": categories,
    }
    if optional:
        site["google_consent_mode"] = {"analytics_storage": optional[0]}
    return {"sites": {"s": site}}


#: Key names the loader knows, so an "added key" mutation often hits a real one.
config_keys = st.sampled_from(
    [
        "services",
        "cookies",
        "origins",
        "google_consent_mode",
        "legal_basis",
        "purpose",
        "lifetime",
        "cookie_domain",
        "retention_days",
        "ip_mode",
        "default_language",
        "script",
        "consent_lifetime_days",
        "cookie_name",
        "name",
        "provider",
        "required",
        "texts",
    ]
) | st.text(max_size=10)


@st.composite
def sites(draw: st.DrawFn) -> Site:
    """A valid site with 0–6 optional categories."""
    optional = draw(st.lists(category_ids, max_size=6, unique=True))
    return parse_sites(site_document(optional)).get("s")


#: Settings of every property test: no per-example deadline (CI machines are shared),
#: ``PROPERTY_EXAMPLES`` examples each (``make fuzz`` raises it).
PROPERTY = settings(
    deadline=None, max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "60")), database=None
)


def consent_events(
    text: st.SearchStrategy[str],
    *,
    choices: st.SearchStrategy[Any],
    created_at: st.SearchStrategy[datetime],
    detail: st.SearchStrategy[Any],
) -> st.SearchStrategy[ConsentEvent]:
    """Events whose every string field (the dataclass's, whatever they are) is drawn from
    ``text``: what a stored row may hold once someone with database access wrote it."""
    special: dict[str, st.SearchStrategy[Any]] = {
        "choices": choices,
        "gpc": st.booleans(),
        "created_at": created_at,
        "detail": detail,
    }
    fields = {f.name: special.get(f.name, text) for f in dataclasses.fields(ConsentEvent)}
    return st.builds(ConsentEvent, **fields)
