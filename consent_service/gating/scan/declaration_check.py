"""The declaration from the scan: what was seen against what the site file declares (C2).

Pure, no browser. Every cookie a crawl saw, in any phase on any page, is either
declared (a name or ``*`` pattern in the site file) or *undeclared*; an undeclared one
is looked up in the Open Cookie Database, which proposes a site-file entry for it
(:mod:`consent_service.gating.scan.fragment`). Declared cookies that no page set are
listed too: they may be stale, or set only where the crawl did not go. A new
undeclared cookie means the declaration the visitors agreed to was incomplete, so the
site should bump ``policy_version`` once it is declared (C15: a new version asks again).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from consent_service.gating.cookiedb.database import CookieDatabase, KnownCookie
from consent_service.gating.scan.declared import Declared
from consent_service.gating.scan.fragment import toml_fragment


@dataclass
class Sighting:
    """One cookie name as the crawl saw it: on which hosts, pages and in which phases."""

    name: str
    domains: set[str] = field(default_factory=set)
    pages: list[str] = field(default_factory=list)
    phases: set[str] = field(default_factory=set)

    def saw(self, domain: str, page: str, phase: str) -> None:
        """Add one sighting."""
        self.domains.add(domain)
        if page not in self.pages:
            self.pages.append(page)
        self.phases.add(phase)


@dataclass(frozen=True)
class Undeclared:
    """A cookie the site file does not declare, and what the database knows of it."""

    sighting: Sighting
    known: KnownCookie | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the report."""
        s = self.sighting
        return {
            "name": s.name,
            "domains": sorted(s.domains),
            "phases": [p for p in ("before", "reject", "accept") if p in s.phases],
            "pages": s.pages[:10],
            "open_cookie_database": self.known.to_dict() if self.known else None,
        }


@dataclass(frozen=True)
class DeclarationCheck:
    """The verdict on the declaration: undeclared, never seen, the proposal, and a bump."""

    site: str | None
    policy_version: str | None
    undeclared: list[Undeclared]
    never_seen: list[str]
    fragment: str
    bump: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the report."""
        return {
            "site": self.site,
            "policy_version": self.policy_version,
            "undeclared": [u.to_dict() for u in self.undeclared],
            "never_seen": list(self.never_seen),
            "proposed_toml": self.fragment,
            "bump_policy_version": self.bump,
        }


def _declared(declared: Declared, name: str) -> bool:
    return declared.cookie_category(name) is not None


def _never_seen(declared: Declared, names: Iterable[str]) -> list[str]:
    seen = list(names)
    return [
        pattern
        for pattern in declared.cookies
        if not any(
            n == pattern or ("*" in pattern and fnmatch.fnmatchcase(n, pattern)) for n in seen
        )
    ]


def check_declaration(
    declared: Declared,
    sightings: Iterable[Sighting],
    database: CookieDatabase,
    *,
    today: date,
) -> DeclarationCheck:
    """Compare the cookies seen with ``declared``; propose entries from ``database``."""
    seen = sorted(sightings, key=lambda s: s.name)
    undeclared = [
        Undeclared(s, database.match(s.name)) for s in seen if not _declared(declared, s.name)
    ]
    bump = None
    if undeclared and declared.site is not None:
        names = ", ".join(u.sighting.name for u in undeclared)
        bump = (
            f"{len(undeclared)} cookie{'' if len(undeclared) == 1 else 's'} not in the site file "
            f"({names}): declare {'it' if len(undeclared) == 1 else 'them'} and bump "
            f"policy_version (now {declared.policy_version!r}), so that visitors are asked again "
            "under a declaration that names every cookie (C2, C15)"
        )
    return DeclarationCheck(
        site=declared.site,
        policy_version=declared.policy_version,
        undeclared=undeclared,
        never_seen=_never_seen(declared, (s.name for s in seen)),
        fragment=toml_fragment(declared, undeclared, database.source, today) if undeclared else "",
        bump=bump,
    )
