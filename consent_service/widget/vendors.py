"""The vendors' own consent calls, appended to a site's widget (``static/vendors.js``).

A service template (:mod:`consent_service.sites.templates`) can name the calls a
vendor expects, such as Matomo's ``rememberConsentGiven`` or ``fbq('consent', …)``.
They live in their own small script, outside the size-budgeted bundle, and are
appended only for a site that has some: every other site's widget is byte for byte
what it was.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

VENDORS_FILE = Path(__file__).parent / "static" / "vendors.js"
PLACEHOLDER = "__KAKOR_VENDOR_CALLS__"


@cache
def _source() -> str:
    source = VENDORS_FILE.read_text(encoding="utf-8")
    if source.count(PLACEHOLDER) != 1:
        raise RuntimeError(f"{VENDORS_FILE} must contain {PLACEHOLDER} exactly once")
    # The file's opening comment is for its readers, not worth 300 B of every page view.
    if source.startswith("/*"):
        source = source.split("*/", 1)[1].lstrip()
    return source


def vendor_script(calls: list[dict[str, Any]]) -> str:
    """The script that makes ``calls`` (``Site.vendor_calls``); empty when there are none."""
    if not calls:
        return ""
    literal = json.dumps(calls, ensure_ascii=False, separators=(",", ":"))
    # A "</script>" can never end up in the literal: targets are identifiers and
    # args are validated scalars, but "<" is escaped anyway for an inlined copy.
    return "\n" + _source().replace(PLACEHOLDER, literal.replace("<", "\\u003c"))
