"""Starting Debian's Chromium for a scan, with the errors a person can act on.

Playwright is imported only here and only when a scan starts: it is an optional extra.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from consent_service.gating.chromium import CHROMIUM_ARGS
from consent_service.gating.scan.errors import ScanError

if TYPE_CHECKING:
    from playwright.async_api import Browser

MISSING_PLAYWRIGHT = (
    "the scanner needs Playwright: pip install 'consent-service[scan]' and Debian's chromium "
    "(apt-get install chromium); it never downloads a browser"
)


@asynccontextmanager
async def open_browser(chromium: str) -> AsyncIterator[Browser]:
    """Headless Chromium at ``chromium``, closed on exit; :class:`ScanError` when it cannot start."""
    try:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import async_playwright
    except ImportError:
        raise ScanError(MISSING_PLAYWRIGHT) from None
    if not Path(chromium).exists():
        raise ScanError(
            f"no Chromium at {chromium}; install Debian's chromium or pass --chromium PATH "
            "(or set CONSENT_CHROMIUM)"
        )
    async with async_playwright() as pw:
        try:
            browser = await pw.chromium.launch(
                executable_path=chromium, args=list(CHROMIUM_ARGS), headless=True
            )
        except PlaywrightError as exc:
            raise ScanError(f"could not start Chromium: {str(exc).splitlines()[0]}") from None
        try:
            yield browser
        finally:
            await browser.close()
