"""What a browser saw in one phase of a scan: cookies, storage writes and requests.

Plain data, filled by :mod:`consent_service.gating.scan.recorder` and judged by
:mod:`consent_service.gating.scan.leaks`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class CookieSeen:
    """A cookie present in the browser, or written through ``document.cookie``."""

    name: str
    domain: str
    source: str


@dataclass(frozen=True)
class StorageWrite:
    """A write to ``localStorage``, ``sessionStorage`` or an IndexedDB open, by origin."""

    kind: str
    key: str
    origin: str


@dataclass(frozen=True)
class RequestSeen:
    """A request the page made, with the origin it went to."""

    url: str
    origin: str
    resource_type: str


@dataclass
class Observation:
    """Everything one phase saw; ``ran`` is False when the phase could not be run."""

    phase: str
    ran: bool = True
    note: str | None = None
    cookies: list[CookieSeen] = field(default_factory=list)
    storage: list[StorageWrite] = field(default_factory=list)
    requests: list[RequestSeen] = field(default_factory=list)


def unique_cookies(cookies: Iterable[CookieSeen]) -> list[CookieSeen]:
    """Each cookie once by name and domain (a cookie is seen both in the jar and when written)."""
    seen: dict[tuple[str, str], CookieSeen] = {}
    for c in cookies:
        seen.setdefault((c.name, c.domain), c)
    return list(seen.values())


def origin_of(url: str) -> str | None:
    """The ``scheme://host[:port]`` of an http(s) URL, or None for anything else."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def parse_cookie_write(value: str) -> str | None:
    """The cookie name a ``document.cookie = …`` assignment sets, or None for a deletion."""
    first, _, attributes = value.partition(";")
    name, eq, _value = first.partition("=")
    name = name.strip()
    if not eq or not name:
        return None
    attrs = attributes.lower().replace(" ", "")
    if re.search(r"(^|;)max-age=(0|-\d+)(;|$)", attrs) or "expires=thu,01jan1970" in attrs:
        return None
    return name
