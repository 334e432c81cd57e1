"""One page of a crawl in its three phases, and what the crawl learns from each.

Before any choice the page is loaded in an empty profile. For "after Neka alla" and
"after Godkänn alla" the first page whose banner shows is clicked, as a one-URL scan
does; the browser state that click leaves (the consent cookie) is kept, and every later
page is loaded with it, as by a visitor who decided on an earlier page. Each phase
also records the page's links (before any choice), whether a withdrawal control is
reachable, and a screenshot, kept only for pages with problems.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from consent_service.gating.scan.declared import Declared
from consent_service.gating.scan.errors import ScanError
from consent_service.gating.scan.observation import Observation
from consent_service.gating.scan.phases import Inspect, run_phase
from consent_service.gating.scan.recorder import Recorder

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, StorageState

#: What lets a visitor withdraw consent: the site's ``data-consent-open`` links, which the
#: widget opens, and the widget's own floating reopen button (``reopen_button = true``:
#: ``button.f`` in the ``<kakor-consent>`` shadow root, which Playwright's CSS pierces; the
#: class is set in ``widget/src/ui.js``).
WITHDRAWAL_SELECTORS = ("[data-consent-open]", "kakor-consent button.f")
#: At most this many candidates are checked for visibility per selector.
_CANDIDATES = 20
# A link, a button or anything else the Tab key reaches; a <span data-consent-open> is not.
_FOCUSABLE = """(el) => !el.disabled && (el.matches("a[href], button, input, select, summary")
  || (el.hasAttribute("tabindex") && el.tabIndex >= 0))"""
_LINKS = """() => Array.from(document.querySelectorAll("a[href], area[href]"), (a) => a.href)"""
PHASES = ("before", "reject", "accept")


@dataclass
class PhaseFacts:
    """What the crawl looks at in a phase besides the leaks."""

    links: list[str] = field(default_factory=list)
    control: bool = False
    screenshot: bytes | None = None
    state: StorageState | None = None


@dataclass
class PageVisit:
    """One page's three phases and what each showed."""

    url: str
    observations: list[Observation] = field(default_factory=list)
    recorders: dict[str, Recorder] = field(default_factory=dict)
    facts: dict[str, PhaseFacts] = field(default_factory=dict)
    error: str | None = None

    def merge(self, other: PageVisit) -> None:
        """Add the phases of another visit of the same page."""
        self.observations += other.observations
        self.recorders.update(other.recorders)
        self.facts.update(other.facts)
        self.error = self.error or other.error


async def _control_visible(page: Page) -> bool:
    """Whether a withdrawal control is visible and reachable by keyboard (C13)."""
    for selector in WITHDRAWAL_SELECTORS:
        found = page.locator(selector)
        for i in range(min(await found.count(), _CANDIDATES)):
            candidate = found.nth(i)
            if await candidate.is_visible() and await candidate.evaluate(_FOCUSABLE):
                return True
    return False


def _inspector(facts: PhaseFacts, *, links: bool, keep_state: bool) -> Inspect:
    async def inspect(page: Page, context: BrowserContext, recorder: Recorder) -> None:
        try:
            if links:
                facts.links = [str(u) for u in await page.evaluate(_LINKS)]
            facts.control = await _control_visible(page)
            facts.screenshot = await page.screenshot(type="jpeg", quality=60)
        except Exception:  # a page that navigated away mid-look: nothing more to see
            return
        if keep_state:
            facts.state = await context.storage_state()

    return inspect


async def visit(
    browser: Browser,
    url: str,
    declared: Declared,
    decisions: dict[str, StorageState],
    *,
    timeout: float,
    settle: float,
    phases: tuple[str, ...] = PHASES,
) -> PageVisit:
    """Run ``url`` in ``phases``, at once; a click phase adds the state it left to ``decisions``.

    The crawl's first page may run "before" alone first: its widget names the
    declaration the click phases need.
    """
    result = PageVisit(url)
    labels = {"reject": declared.reject_labels, "accept": declared.accept_labels}
    runs = []
    for phase in phases:
        facts = PhaseFacts()
        result.facts[phase] = facts
        state = decisions.get(phase)
        hook = _inspector(
            facts, links=phase == "before", keep_state=phase != "before" and state is None
        )
        runs.append(
            run_phase(
                browser,
                url,
                phase,
                labels.get(phase, ()),
                timeout,
                settle=settle,
                state=state,
                inspect=hook,
            )
        )
    outcomes = await asyncio.gather(*runs, return_exceptions=True)
    for phase, outcome in zip(phases, outcomes, strict=True):
        if isinstance(outcome, ScanError):
            result.error = str(outcome)
            continue
        if isinstance(outcome, BaseException):
            raise outcome
        observation, recorder = outcome
        result.observations.append(observation)
        result.recorders[phase] = recorder
        state = result.facts[phase].state
        if observation.ran and state is not None and phase not in decisions:
            decisions[phase] = decision_only(state, declared)
    return result


def decision_only(state: StorageState, declared: Declared) -> StorageState:
    """The part of a browser state that is the decision: what is declared as necessary.

    Anything else the click phase left (a tracker's cookie after accept, or one leaked
    after refusal) is dropped, so each later page is judged on what it sets itself.
    """
    cookies = [c for c in state.get("cookies", []) if declared.necessary_cookie(c["name"])]
    origins = []
    for o in state.get("origins", []):
        kept = [e for e in o["localStorage"] if declared.necessary_cookie(e["name"])]
        origins.append(o | {"localStorage": kept})
    return {"cookies": cookies, "origins": origins}
