"""The scan as the command line runs it: Chromium, the declaration, three phases, a verdict.

``consent-service scan URL`` calls :func:`run_scan`. The declaration comes from a local
config file, or else from the consent service whose widget the page loads; each phase
is run by :func:`~consent_service.gating.scan.phases.run_phase`, and
:func:`~consent_service.gating.scan.leaks.analyse` turns what they saw into findings.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from consent_service.gating.chromium import DEFAULT_CHROMIUM
from consent_service.gating.scan.browser import open_browser
from consent_service.gating.scan.declared import Declared, load_declared, remote_declared
from consent_service.gating.scan.errors import ScanError
from consent_service.gating.scan.leaks import analyse
from consent_service.gating.scan.misconfig import widget_problems
from consent_service.gating.scan.observation import origin_of
from consent_service.gating.scan.phases import run_phase
from consent_service.gating.scan.report import Report


async def run_scan(
    url: str,
    *,
    site: str | None = None,
    config_path: Path | None = None,
    chromium: str = DEFAULT_CHROMIUM,
    timeout: float = 30.0,
    settle: float = 2.0,
) -> Report:
    """Scan ``url`` in the three phases and analyse what it did.

    The declaration comes from ``config_path`` when given; otherwise from the consent
    service whose ``…/v1/sites/{site}/widget.js`` the page loads (its public config).
    Each phase waits for network quiet plus ``settle`` seconds before taking stock.
    """
    if origin_of(url) is None:
        raise ScanError(f"{url!r} is not an http(s) URL")
    declared = load_declared(config_path, site) if config_path else None
    start_origin = origin_of(url) or url
    async with open_browser(chromium) as browser:
        notes: list[str] = []
        if declared is not None:
            # The declaration is known: the three phases are independent, run them at once.
            (before, recorder), reject, accept = await asyncio.gather(
                run_phase(browser, url, "before", (), timeout, settle=settle),
                run_phase(browser, url, "reject", declared.reject_labels, timeout, settle=settle),
                run_phase(browser, url, "accept", declared.accept_labels, timeout, settle=settle),
            )
        else:
            # The declaration comes from the widget the page loads: look first.
            before, recorder = await run_phase(browser, url, "before", (), timeout, settle=settle)
            if recorder.widget:
                base, widget_site = recorder.widget
                declared = await remote_declared(browser, base, site or widget_site, timeout)
            else:
                declared = Declared.nothing()
                notes.append(
                    "no kakor widget on the page and no --config: nothing is declared, so "
                    "every cookie and every other origin counts"
                )
            reject, accept = await asyncio.gather(
                run_phase(browser, url, "reject", declared.reject_labels, timeout, settle=settle),
                run_phase(browser, url, "accept", declared.accept_labels, timeout, settle=settle),
            )
        service_origin = origin_of(recorder.widget[0]) if recorder.widget else None
        page_origin = recorder.page_origin
        if page_origin != start_origin:
            notes.append(f"{url} redirected to {page_origin}; both count as the page's origin")
        if recorder.widget is not None:
            notes += await widget_problems(browser, url, declared.accept_labels, timeout)
        if recorder.widget is None and declared.site is not None:
            notes.append(f"the page does not load a kakor widget for site {declared.site!r}")
    observations = [before, reject[0], accept[0]]
    labels = {
        "reject": declared.reject_labels[0] if declared.reject_labels else "Neka alla",
        "accept": declared.accept_labels[0] if declared.accept_labels else "Godkänn alla",
    }
    return Report(
        url=url,
        site=declared.site,
        page_origin=page_origin,
        service_origin=service_origin,
        labels=labels,
        observations=observations,
        findings=analyse(
            declared, page_origin, service_origin, observations, first_party=[start_origin]
        ),
        notes=notes,
    )
