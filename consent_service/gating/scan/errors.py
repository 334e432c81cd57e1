"""The one error of the scanner."""

from __future__ import annotations


class ScanError(Exception):
    """The scan could not run (no Playwright, no Chromium, page unreachable, bad arguments)."""
