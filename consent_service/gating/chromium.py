"""How kakor starts Debian's Chromium: the scanner, the browser tests and the benchmarks.

Headless, sandbox off (it runs as a service user or root in containers), and none of
Chromium's own background traffic, so a scan sees only what the page itself does.
"""

from __future__ import annotations

#: Debian's package installs it here; ``CONSENT_CHROMIUM`` or ``--chromium`` override it.
DEFAULT_CHROMIUM = "/usr/bin/chromium"

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
