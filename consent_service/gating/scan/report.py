"""The scan's result: what each phase saw, the leaks found, and notes, as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from consent_service.gating.scan.observation import Observation, unique_cookies


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

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

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
                f"{len(third)} to {counted(len(origins), 'other origin')}{_names(origins)}"
                if third
                else "none to other origins"
            )
            cookies = unique_cookies(o.cookies)
            lines.append(
                f"  {title}: {counted(len(cookies), 'cookie')}{_names(c.name for c in cookies)}, "
                f"{counted(len(o.storage), 'storage write')}, "
                f"{counted(len(o.requests), 'request')}, {elsewhere}"
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


def counted(n: int, noun: str) -> str:
    """``1 request``, ``3 requests``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _names(names: Iterable[str]) -> str:
    listed = list(names)
    return f" ({', '.join(listed)})" if listed else ""
