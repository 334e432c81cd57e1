"""What counts as a leak: a site's declaration, what a browser saw, and the verdict (C1, C2, C14).

Pure data and rules, no browser: :mod:`consent_service.gating.scan.scanner` fills :class:`Observation`
objects from Chromium, and :func:`analyse` compares them with a :class:`Declared`:

- before any choice and after refusal, only cookies and storage keys declared in a
  *necessary* category may appear, and only the page's origin, the consent service's
  and the necessary services' origins may be contacted;
- in every phase, every cookie must be declared by some service.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Declared:
    """What a site declares: its cookies and service origins by category, and its button labels."""

    site: str | None
    cookies: Mapping[str, str]
    origins: Mapping[str, str]
    required: frozenset[str]
    accept_labels: tuple[str, ...]
    reject_labels: tuple[str, ...]

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

    def necessary_origin(self, origin: str) -> bool:
        """Whether a required category's service loads from ``origin``."""
        return self.origins.get(origin) in self.required


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


@dataclass(frozen=True)
class Finding:
    """One leak: what, in which phase, and why it is one."""

    phase: str
    kind: str
    subject: str
    detail: str


@dataclass
class Report:
    """The scan's result: observations per phase, findings, and notes."""

    url: str
    site: str | None
    page_origin: str
    service_origin: str | None
    labels: dict[str, str]
    observations: list[Observation]
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when nothing leaked."""
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``--format json``)."""
        return {
            "url": self.url,
            "site": self.site,
            "clean": self.clean,
            "page_origin": self.page_origin,
            "service_origin": self.service_origin,
            "phases": {
                o.phase: {
                    "ran": o.ran,
                    "note": o.note,
                    "cookies": [asdict(c) for c in o.cookies],
                    "storage": [asdict(s) for s in o.storage],
                    "requests": [asdict(r) for r in o.requests],
                }
                for o in self.observations
            },
            "findings": [asdict(f) for f in self.findings],
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        """The report for a person (the default output)."""
        lines = [f"kakor scan of {self.url}" + (f" (site {self.site})" if self.site else "")]
        for o in self.observations:
            title = phase_title(o.phase, self.labels)
            if not o.ran:
                lines.append(f"  {title}: not run ({o.note})")
                continue
            third = [r for r in o.requests if r.origin != self.page_origin]
            origins = sorted({r.origin for r in third})
            elsewhere = (
                f"{len(third)} to {_count(len(origins), 'other origin')}{_names(origins)}"
                if third
                else "none to other origins"
            )
            cookies = _unique_cookies(o.cookies)
            lines.append(
                f"  {title}: {_count(len(cookies), 'cookie')}{_names(c.name for c in cookies)}, "
                f"{_count(len(o.storage), 'storage write')}, "
                f"{_count(len(o.requests), 'request')}, {elsewhere}"
            )
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.clean:
            lines.append("CLEAN: nothing was stored or sent before consent or after refusal, ")
            lines[-1] += "and every cookie is declared."
        else:
            lines.append(f"LEAKS ({len(self.findings)}):")
            for f in self.findings:
                lines.append(f"  [{phase_title(f.phase, self.labels)}] {f.subject}: {f.detail}")
        return "\n".join(lines)


def phase_title(phase: str, labels: Mapping[str, str]) -> str:
    """``before any choice`` / ``after "Neka alla"`` / ``after "Godkänn alla"``."""
    if phase == "before":
        return "before any choice"
    return f'after "{labels.get(phase, phase)}"'


def analyse(
    declared: Declared,
    page_origin: str,
    service_origin: str | None,
    observations: Iterable[Observation],
    *,
    first_party: Iterable[str] = (),
) -> list[Finding]:
    """The leaks in ``observations`` given what the site declares (pure; see module docs).

    ``first_party`` lists more origins that count as the page's own, such as the one
    a scanned URL redirected from.
    """
    findings: list[Finding] = []
    allowed_origins = {page_origin, *first_party, *([service_origin] if service_origin else [])}
    for o in observations:
        if not o.ran:
            continue
        strict = o.phase in ("before", "reject")
        when = "before consent" if o.phase == "before" else "after refusal"
        for c in _unique_cookies(o.cookies):
            category = declared.cookie_category(c.name)
            subject = f"cookie {c.name} ({c.domain})"
            if category is None:
                reason = "not declared by any service"
                if strict:
                    reason = f"set {when}, and {reason}"
                findings.append(Finding(o.phase, "cookie", subject, reason))
            elif strict and category not in declared.required:
                findings.append(
                    Finding(o.phase, "cookie", subject, f"set {when}; declared as {category}")
                )
        if not strict:
            continue
        for s in _unique_storage(o.storage):
            if not declared.necessary_cookie(s.key):
                findings.append(
                    Finding(
                        o.phase,
                        "storage",
                        f"{s.kind} {s.key!r} ({s.origin})",
                        f"written {when}; not declared as necessary",
                    )
                )
        by_origin: dict[str, list[RequestSeen]] = {}
        for r in o.requests:
            if r.origin in allowed_origins or declared.necessary_origin(r.origin):
                continue
            by_origin.setdefault(r.origin, []).append(r)
        for origin, requests in by_origin.items():
            category = declared.origins.get(origin)
            why = f"declared for {category}" if category else "not declared by any service"
            findings.append(
                Finding(
                    o.phase,
                    "request",
                    f"requests to {origin}",
                    f"{_count(len(requests), 'request')} {when} ({why}), "
                    f"first {requests[0].url[:200]}",
                )
            )
    return findings


def _unique_cookies(cookies: Iterable[CookieSeen]) -> list[CookieSeen]:
    seen: dict[tuple[str, str], CookieSeen] = {}
    for c in cookies:
        seen.setdefault((c.name, c.domain), c)
    return list(seen.values())


def _unique_storage(writes: Iterable[StorageWrite]) -> list[StorageWrite]:
    return list(dict.fromkeys(writes))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _names(names: Iterable[str]) -> str:
    listed = list(names)
    return f" ({', '.join(listed)})" if listed else ""


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
