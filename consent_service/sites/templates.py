"""Service templates: ``service = "matomo"`` in the site file pulls a bundled description.

A template (``templates/<name>.toml``, shipped as package data) holds what a site owner
would otherwise copy from the vendor's documentation: the cookies with lifetimes and
Swedish and English purposes, the origins for the CSP, where the data is processed
(``data_location``: ``"eu"`` or ``"third-country"``) and the vendor's own consent calls.
:func:`with_template` lays the site's service table over it field by field, before the
loader validates the result like any hand-written service, so a template can never
smuggle in what the site file itself could not say. Cookies merge by name: a site
cookie with a template cookie's name replaces it, others are added; ``calls`` merge by
``grant`` / ``deny``.
"""

from __future__ import annotations

import copy
import functools
import tomllib
from importlib import resources
from typing import Any

from consent_service.sites.rules import ConfigError

#: Keys a template may hold beyond what a service table takes: a link for the reader.
_TEMPLATE_ONLY = frozenset({"docs"})


_FOLDER = resources.files("consent_service.sites") / "templates"


@functools.cache
def template_names() -> tuple[str, ...]:
    """Every bundled template's name, sorted."""
    return tuple(
        sorted(p.name.removesuffix(".toml") for p in _FOLDER.iterdir() if p.name.endswith(".toml"))
    )


def _text(name: str) -> str:
    return (_FOLDER / f"{name}.toml").read_text(encoding="utf-8")


@functools.cache
def _load(name: str) -> dict[str, Any]:
    return tomllib.loads(_text(name))


def template(name: str) -> dict[str, Any]:
    """The template ``name`` as a fresh service table (cookies carry the provider).

    Raises :class:`ConfigError` naming the known templates when there is none by that name.
    """
    if name not in template_names():
        raise ConfigError(f"no service template {name!r}; known: {', '.join(template_names())}")
    raw = _load(name)
    # A deep copy: the parsed file is cached, and a site's table is laid over this one.
    table = copy.deepcopy({k: v for k, v in raw.items() if k not in _TEMPLATE_ONLY})
    table["cookies"] = [
        {"provider": raw.get("provider", ""), **cookie} for cookie in table.get("cookies", [])
    ]
    return table


def template_source(name: str) -> str:
    """The template file ``name`` as shipped (TOML with its comments)."""
    template(name)
    return _text(name)


def template_docs(name: str) -> str | None:
    """The vendor documentation link a template names, if any."""
    template(name)
    docs = _load(name).get("docs")
    return str(docs) if docs else None


def with_template(table: dict[str, Any], where: str) -> dict[str, Any]:
    """``table`` laid over the template its ``service`` key names (see the module docs)."""
    name = table.get("service")
    if not isinstance(name, str):
        raise ConfigError(f"{where}.service: must be a template name")
    try:
        base = template(name)
    except ConfigError as exc:
        raise ConfigError(f"{where}.service: {exc}") from None
    merged: dict[str, Any] = {**base, "id": name}
    for key, value in table.items():
        if key == "service":
            continue
        if key == "cookies" and isinstance(value, list):
            merged["cookies"] = _merge_cookies(base["cookies"], value)
        elif key == "calls" and isinstance(value, dict) and isinstance(base.get("calls"), dict):
            merged["calls"] = {**base["calls"], **value}
        else:
            merged[key] = value
    return merged


def _merge_cookies(base: list[dict[str, Any]], own: list[Any]) -> list[Any]:
    """The template's cookies with the site's laid over them by name, new ones after."""
    by_name = {c.get("name"): c for c in own if isinstance(c, dict)}
    merged: list[Any] = []
    for cookie in base:
        override = by_name.pop(cookie["name"], None)
        merged.append({**cookie, **override} if override is not None else cookie)
    return merged + [c for c in own if not isinstance(c, dict) or c.get("name") in by_name]
