"""A crawl's result: every page's verdict, what was not visited and why, and the declaration.

It serialises to JSON (:meth:`CrawlReport.to_dict`), to a summary for a terminal
(:meth:`CrawlReport.to_text`) and to a self-contained HTML page
(:func:`~consent_service.gating.scan.crawl_html.render_html`); its
:attr:`~CrawlReport.exit_code` is what ``consent-service scan --crawl`` exits with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from consent_service.gating.scan.declaration_check import DeclarationCheck
from consent_service.gating.scan.frontier import Bounds
from consent_service.gating.scan.page_report import PageReport
from consent_service.gating.scan.report import counted, phase_title

#: Exit codes of a crawl, for CI.
EXIT_CLEAN = 0
EXIT_PROBLEMS = 1
EXIT_ERROR = 2
EXIT_INCOMPLETE = 3


@dataclass
class CrawlReport:
    """Every page's verdict, the URLs not visited, the declaration check, and notes."""

    start: str
    site: str | None
    started_at: str
    seconds: float
    bounds: Bounds
    labels: dict[str, str]
    pages: list[PageReport]
    skipped: dict[str, str]
    declaration: DeclarationCheck | None
    cookie_database: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> int:
        """Findings on all pages: leaks, undeclared cookies, missing withdrawal controls."""
        return sum(len(p.findings) for p in self.pages)

    @property
    def failed(self) -> list[PageReport]:
        """Pages that could not be scanned (unreachable, HTTP errors)."""
        return [p for p in self.pages if not p.scanned]

    @property
    def clean(self) -> bool:
        """True when no page has a finding and no cookie is undeclared."""
        return self.problems == 0 and not (self.declaration and self.declaration.undeclared)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 problems, 3 no problems but some pages could not be scanned."""
        if not self.clean:
            return EXIT_PROBLEMS
        return EXIT_INCOMPLETE if self.failed else EXIT_CLEAN

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``--json PATH``)."""
        return {
            "start": self.start,
            "site": self.site,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 1),
            "clean": self.clean,
            "exit_code": self.exit_code,
            "bounds": self.bounds.to_dict(),
            "summary": {
                "pages": len(self.pages),
                "clean_pages": sum(p.clean for p in self.pages),
                "failed_pages": len(self.failed),
                "problems": self.problems,
                "skipped": len(self.skipped),
            },
            "pages": [p.to_dict() for p in self.pages],
            "skipped": [{"url": u, "reason": r} for u, r in self.skipped.items()],
            "declaration": self.declaration.to_dict() if self.declaration else None,
            "cookie_database": dict(self.cookie_database),
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_text(self) -> str:
        """A summary for a person: one line per page, then the problems and the declaration."""
        lines = [
            f"kakor crawl of {self.start}" + (f" (site {self.site})" if self.site else ""),
            f"  {counted(len(self.pages), 'page')} in {self.seconds:.0f} s, "
            f"{len(self.skipped)} not visited",
        ]
        for p in self.pages:
            if not p.scanned:
                verdict = f"not scanned: {p.error}"
            elif p.clean:
                verdict = "clean"
            else:
                verdict = counted(len(p.findings), "problem")
            lines.append(f"  {p.url}: {verdict}")
        for p in self.pages:
            for f in p.findings:
                title = phase_title(f.phase, self.labels)
                lines.append(f"  [{p.url}] [{title}] {f.subject}: {f.detail}")
        check = self.declaration
        if check is not None:
            for u in check.undeclared:
                known = u.known
                what = f"{known.platform}, {known.category}" if known else "unknown to the database"
                lines.append(f"  undeclared cookie {u.sighting.name} ({what})")
            for name in check.never_seen:
                lines.append(f"  declared but never seen: {name}")
            if check.bump:
                lines.append(f"  policy_version: {check.bump}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.exit_code == EXIT_CLEAN:
            lines.append("CLEAN: every page kept everything off before consent and after refusal,")
            lines[-1] += " offers a withdrawal control, and sets only declared cookies."
        elif self.exit_code == EXIT_INCOMPLETE:
            lines.append(
                f"INCOMPLETE: no problems, but {counted(len(self.failed), 'page')} failed."
            )
        else:
            lines.append(
                f"PROBLEMS ({self.problems}) on {counted(sum(bool(p.findings) for p in self.pages), 'page')}."
            )
        if check is not None and check.fragment:
            lines += ["", "Proposed site-file entries:", check.fragment.rstrip()]
        return "\n".join(lines)
