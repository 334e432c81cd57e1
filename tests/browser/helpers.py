"""What the browser tests share: labels per language, and small page helpers."""

from __future__ import annotations

import re
from typing import Any

#: The banner's words per language, as the demo site.toml sets them.
LABELS = {
    "sv": {
        "accept": "Godkänn alla",
        "reject": "Neka alla",
        "settings": "Inställningar",
        "save": "Spara val",
        "switch": "In English",
        "saved": "Dina val är sparade.",
        "statistics": "Statistik",
        "third-party": "Tredjepartstjänster",
        "necessary": "Nödvändiga",
        "always": "Alltid aktiv",
        "allow_once": "Tillåt den här gången",
        "allow_always": "Tillåt alltid",
    },
    "en": {
        "accept": "Accept all",
        "reject": "Reject all",
        "settings": "Settings",
        "save": "Save choices",
        "switch": "På svenska",
        "saved": "Your choices have been saved.",
        "statistics": "Statistics",
        "third-party": "Third-party services",
        "necessary": "Necessary",
        "always": "Always active",
        "allow_once": "Allow this time",
        "allow_always": "Always allow",
    },
}
LANGS = ["sv", "en"]
CONSENT_PATH = "/v1/sites/demo/consent"
STATS = "/demo/assets/stats.js"
VIDEO = "/demo/assets/video.html"


def dialog(page: Any) -> Any:
    """The consent dialog (Playwright's locators pierce the open shadow root)."""
    return page.get_by_role("dialog")


def button(page: Any, lang: str, key: str) -> Any:
    return dialog(page).get_by_role("button", name=LABELS[lang][key], exact=True)


def open_banner(page: Any, url: str, lang: str) -> None:
    """Load the demo page and show its banner in ``lang`` (sv is the page's own)."""
    page.goto(url + "/")
    dialog(page).wait_for()
    if lang == "en":
        dialog(page).get_by_role("button", name="In English").click()
        dialog(page).get_by_role("button", name="Accept all").wait_for()


def decide(page: Any, lang: str, key: str) -> dict[str, Any]:
    """Click a first-layer button and return the service's JSON answer."""
    with page.expect_response(lambda r: CONSENT_PATH in r.url) as answer:
        button(page, lang, key).click()
    result: dict[str, Any] = answer.value.json()
    return result


#: The deepest focused element, through open shadow roots.
ACTIVE = "(() => { let e = document.activeElement; while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement; return e; })()"


def wait_focus_in_dialog(page: Any) -> None:
    """Focus moves in right after the frame that shows the dialog is drawn."""
    page.wait_for_function(f"() => !!{ACTIVE}.closest('[role=dialog]')", timeout=10_000)


def cookie_names(context: Any) -> set[str]:
    return {c["name"] for c in context.cookies()}


def stats_events(page: Any) -> list[str] | None:
    """What the gated statistics scripts recorded, or None if they never ran."""
    events: list[str] | None = page.evaluate("window.demoStats ? window.demoStats.events : null")
    return events


def consent_calls(page: Any) -> list[Any]:
    """The dataLayer's gtag('consent', …) entries, in order."""
    calls: list[Any] = page.evaluate(
        "(window.dataLayer || []).map(a => Array.from(a)).filter(a => a[0] === 'consent')"
    )
    return calls


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    """Whether bounding box ``inner`` lies within ``outer``."""
    return (
        outer["x"] <= inner["x"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
        and outer["y"] <= inner["y"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
    )


def luminance(rgb: str) -> float:
    r, g, b = (int(x) / 255 for x in re.findall(r"\d+", rgb)[:3])

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(fg: str, bg: str) -> float:
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)
