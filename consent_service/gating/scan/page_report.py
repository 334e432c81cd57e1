"""One crawled page's verdict: its leaks, its withdrawal control, and a picture if it fails.

Built from a :class:`~consent_service.gating.scan.page_visit.PageVisit` by
:func:`judge_page`, with the same leak rules as a one-URL scan
(:func:`~consent_service.gating.scan.leaks.analyse`) plus one of its own: PTS asks for a
way to change or withdraw consent on every page (C13). The control is looked for after
"Godkänn alla" (when a visitor has something to withdraw), or before any choice when
that phase could not run, and counts only when the page also loads a kakor widget to
open it (on a kakor site: one where some page loads the widget).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from consent_service.gating.scan.declared import Declared
from consent_service.gating.scan.leaks import analyse
from consent_service.gating.scan.observation import Observation, origin_of, unique_cookies
from consent_service.gating.scan.page_visit import WITHDRAWAL_SELECTORS, PageVisit
from consent_service.gating.scan.report import Finding


@dataclass
class PageReport:
    """What one page did in each phase, and what is wrong with it."""

    url: str
    depth: int
    found_on: str | None
    #: The origin the page ended up on (after redirects).
    page_origin: str | None = None
    status: int | None = None
    error: str | None = None
    widget: bool = False
    withdrawal_control: bool | None = None
    observations: list[Observation] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: A JPEG of the page in the phase of its first finding; only for pages with findings.
    screenshot: bytes | None = None
    screenshot_phase: str | None = None

    @property
    def scanned(self) -> bool:
        """True when the page loaded and was judged."""
        return self.error is None

    @property
    def clean(self) -> bool:
        """True when the page loaded and nothing is wrong with it."""
        return self.scanned and not self.findings

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per phase the cookies, storage keys and requests to other origins."""
        origin = self.page_origin or _origin(self.url)
        return {
            "url": self.url,
            "page_origin": self.page_origin,
            "depth": self.depth,
            "found_on": self.found_on,
            "status": self.status,
            "error": self.error,
            "clean": self.clean,
            "widget": self.widget,
            "withdrawal_control": self.withdrawal_control,
            "phases": {
                o.phase: {
                    "ran": o.ran,
                    "note": o.note,
                    "cookies": [asdict(c) for c in unique_cookies(o.cookies)],
                    "storage": [asdict(s) for s in dict.fromkeys(o.storage)],
                    "other_origin_requests": [asdict(r) for r in o.requests if r.origin != origin],
                }
                for o in self.observations
            },
            "findings": [asdict(f) for f in self.findings],
            "screenshot": self.screenshot_phase,
        }


def _origin(url: str) -> str:
    return origin_of(url) or url


def judge_page(
    visit: PageVisit,
    depth: int,
    found_on: str | None,
    declared: Declared,
    service_origin: str | None,
    first_party: set[str],
) -> PageReport:
    """The verdict on ``visit``: leaks, undeclared cookies, and the withdrawal control."""
    report = PageReport(visit.url, depth, found_on, error=visit.error)
    before = visit.recorders.get("before")
    if before is not None:
        report.status = before.status
        report.page_origin = before.page_origin
        report.widget = any(r.widget for r in visit.recorders.values())
        if before.status is not None and before.status >= 400:
            report.error = report.error or f"the page answered HTTP {before.status}"
    if report.error is not None:
        return report
    order = {"before": 0, "reject": 1, "accept": 2}
    report.observations = sorted(visit.observations, key=lambda o: order[o.phase])
    report.findings = analyse(
        declared,
        before.page_origin if before else _origin(visit.url),
        service_origin,
        report.observations,
        first_party=first_party,
    )
    ran = {o.phase for o in report.observations if o.ran}
    where = "accept" if "accept" in ran else "before"
    facts = visit.facts.get(where)
    if facts is not None:
        # A data-consent-open link does nothing on a kakor site's page without the widget.
        report.withdrawal_control = facts.control and (report.widget or service_origin is None)
        if not report.withdrawal_control:
            report.findings.append(
                Finding(where, "withdrawal", "no withdrawal control", _why(facts.control))
            )
    if report.findings:
        phase = report.findings[0].phase
        shot = visit.facts.get(phase)
        if shot is not None and shot.screenshot:
            report.screenshot, report.screenshot_phase = shot.screenshot, phase
    return report


def _why(control: bool) -> str:
    if control:
        return (
            "a data-consent-open control is on the page, but no kakor widget loads to open it; "
            "PTS asks for a way to change or withdraw consent on every page (C13)"
        )
    selectors = ", ".join(WITHDRAWAL_SELECTORS)
    return (
        f"nothing visible and reachable by keyboard matches {selectors}: PTS asks for a way "
        "to change or withdraw consent on every page (C13)"
    )
