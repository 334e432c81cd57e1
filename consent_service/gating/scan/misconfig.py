"""What the widget itself says is wrong with the page: its console errors and warnings.

The widget reports a site that is misconfigured for it in the console (``kakor: …``):
an origin the site does not list (every decision is refused and nothing gated runs),
an ``<iframe data-consent>`` with ``src`` instead of ``data-src`` (it loads ungated).
One extra visit that clicks the accept button collects them as scan notes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage

#: How long the page may take to answer a decision before the messages are read.
SETTLE_MS = 1500


async def widget_problems(
    browser: Browser, url: str, accept_labels: tuple[str, ...], timeout: float
) -> list[str]:
    """The widget's own complaints on ``url``, once loaded and once accepted, each once."""
    from playwright.async_api import Error as PlaywrightError

    said: list[str] = []

    def heard(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning") and message.text.startswith("kakor:"):
            text = f"the widget reports: {message.text[len('kakor:') :].strip()}"
            if text not in said:
                said.append(text)

    context = await browser.new_context(service_workers="block")
    try:
        page = await context.new_page()
        page.on("console", heard)
        try:
            await page.goto(url, wait_until="load", timeout=timeout * 1000)
            if accept_labels:
                pattern = re.compile("^(" + "|".join(re.escape(x) for x in accept_labels) + ")$")
                button = page.get_by_role("button", name=pattern).first
                await button.click(timeout=min(timeout, 2.5) * 1000)
            await page.wait_for_timeout(SETTLE_MS)
        except PlaywrightError:
            pass  # no banner, or the page failed: the phases report that themselves
    finally:
        await context.close()
    return said
