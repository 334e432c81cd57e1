"""One phase of a scan in a fresh browser context: load, and for reject or accept, click.

Each phase starts from an empty profile. Reject and accept click the banner's own
button, wait for the network to settle, then reload: a repeat visit with the decision
in place must keep gated scripts off too (C14). A crawl passes the browser state a
first click left (``state``) instead, so that later pages are visited as a visitor
who has decided, with no click; everything they do counts.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from consent_service.gating.scan.errors import ScanError
from consent_service.gating.scan.observation import Observation, origin_of
from consent_service.gating.scan.recorder import Recorder

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, StorageState

#: Called at the end of a phase that ran, before its context closes (the crawl's look around).
Inspect = Callable[["Page", "BrowserContext", Recorder], Awaitable[None]]


async def run_phase(
    browser: Browser,
    url: str,
    phase: str,
    labels: tuple[str, ...],
    timeout: float,
    *,
    settle: float = 0.0,
    state: StorageState | None = None,
    inspect: Inspect | None = None,
) -> tuple[Observation, Recorder]:
    """Run one phase in a fresh context; for reject/accept, click the first button in ``labels``.

    ``settle`` is the window of quiet awaited before the phase takes stock (see
    :meth:`Recorder.settle`). With ``state`` (a Playwright storage state) the context
    starts with it and nothing is clicked.
    """
    from playwright.async_api import Error as PlaywrightError

    page_origin = origin_of(url) or url
    recorder = Recorder(page_origin, phase, decided=state is not None)
    context = await browser.new_context(service_workers="block", storage_state=state)
    try:
        await recorder.attach(context)
        page = await context.new_page()
        page.set_default_timeout(timeout * 1000)
        try:
            response = await page.goto(url, wait_until="load", timeout=timeout * 1000)
        except PlaywrightError as exc:
            raise ScanError(f"could not load {url}: {str(exc).splitlines()[0]}") from None
        recorder.status = response.status if response else None
        recorder.media_type = (response.headers.get("content-type", "") if response else "") or ""
        recorder.page_origin = origin_of(page.url) or page_origin
        await recorder.settle(timeout, settle if phase == "before" or state else 0.0)
        if phase != "before" and state is None:
            if not labels:
                recorder.observed.ran = False
                recorder.observed.note = "no banner labels known (no site declaration)"
                return recorder.observed, recorder
            pattern = re.compile("^(" + "|".join(re.escape(x) for x in labels) + ")$")
            button = page.get_by_role("button", name=pattern).first
            try:
                await button.wait_for(state="visible", timeout=min(timeout, 2.5) * 1000)
            except PlaywrightError:
                recorder.observed.ran = False
                recorder.observed.note = f'no visible "{labels[0]}" button: the banner did not show'
                return recorder.observed, recorder
            recorder.after_click = True
            await button.click()
            await recorder.settle(timeout)
            await page.reload(wait_until="load")
            await recorder.settle(timeout, settle)
        await recorder.take_stock(context, page)
        if inspect is not None:
            await inspect(page, context, recorder)
        return recorder.observed, recorder
    finally:
        await context.close()
