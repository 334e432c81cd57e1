"""The banner before any choice: nothing runs, the three buttons are equal (C1, C4–C8)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from .conftest import Service
from .helpers import (
    LABELS,
    LANGS,
    STATS,
    VIDEO,
    button,
    consent_calls,
    contrast,
    dialog,
    inside,
    open_banner,
    stats_events,
)

pytestmark = pytest.mark.browser

#: Everything a first visit may fetch before any choice: the page, its own
#: assets and the widget. No consent endpoint, no config, nothing gated.
FIRST_VISIT = {
    "/",
    "/demo/assets/site.css",
    "/demo/assets/logo.svg",
    "/demo/assets/stage.svg",
    "/v1/sites/demo/widget.js",
}


def test_c1_nothing_before_consent(context: Any, service: Service) -> None:
    """C1: a first visit makes no gated request and writes no cookie or storage."""
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.goto(service.url + "/")
    dialog(page).wait_for()
    page.wait_for_load_state("networkidle")
    assert {urlsplit(u).netloc for u in requests} == {urlsplit(service.url).netloc}
    assert {urlsplit(u).path for u in requests} <= FIRST_VISIT
    assert context.cookies() == []
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert page.evaluate("indexedDB.databases().then(d => d.length)") == 0
    assert stats_events(page) is None
    assert page.locator("iframe[data-consent]").get_attribute("src") is None


def test_c1_one_request_for_the_widget(context: Any, service: Service) -> None:
    """The widget and its config arrive in one request; no second round-trip."""
    api: list[str] = []
    context.on("request", lambda r: api.append(urlsplit(r.url).path) if "/v1/" in r.url else None)
    page = context.new_page()
    page.goto(service.url + "/")
    dialog(page).wait_for()
    page.wait_for_load_state("networkidle")
    assert api == ["/v1/sites/demo/widget.js"]


@pytest.mark.parametrize("lang", LANGS)
def test_c4_c5_reject_is_a_first_layer_button_inside_the_dialog(
    context: Any, service: Service, lang: str
) -> None:
    """C4, C5: accept, reject and settings are <button>s in the dialog, visible unscrolled."""
    page = context.new_page()
    open_banner(page, service.url, lang)
    box = dialog(page).bounding_box()
    for key in ("accept", "reject", "settings"):
        b = button(page, lang, key)
        assert b.evaluate("e => e.tagName") == "BUTTON"
        assert b.evaluate("e => e.closest('p, a') === null")
        r = b.bounding_box()
        assert inside(r, box)
        assert inside(r, {"x": 0, "y": 0, "width": 1280, "height": 720}), "visible unscrolled"


@pytest.mark.parametrize("lang", LANGS)
def test_c6_no_steering_by_size_weight_or_colour(context: Any, service: Service, lang: str) -> None:
    """C6: the three buttons share box size, font weight and colours; text contrast ≥ 4.5:1."""
    page = context.new_page()
    open_banner(page, service.url, lang)
    styles = []
    for key in ("accept", "reject", "settings"):
        b = button(page, lang, key)
        r = b.bounding_box()
        css = b.evaluate(
            "e => { const s = getComputedStyle(e); return [s.fontWeight, s.fontSize,"
            " s.color, s.backgroundColor, s.borderTopColor, s.borderTopWidth] }"
        )
        styles.append((round(r["width"]), round(r["height"]), *css))
    assert styles[0] == styles[1] == styles[2]
    _, _, _, _, color, background, _, _ = styles[0]
    assert contrast(color, background) >= 4.5


@pytest.mark.parametrize("lang", LANGS)
def test_c7_first_layer_names_purposes_third_parties_and_withdrawal(
    context: Any, service: Service, lang: str
) -> None:
    """C7: the purposes, who the third parties are, and that consent can be withdrawn."""
    page = context.new_page()
    open_banner(page, service.url, lang)
    text = dialog(page).inner_text().lower()
    words = {
        "sv": ["nödvändiga", "statistik", "tredjepartstjänster", "youtube", "återkalla"],
        "en": ["necessary", "statistics", "third-party", "youtube", "withdraw"],
    }[lang]
    for word in words:
        assert word in text
    assert dialog(page).get_attribute("lang") == lang


@pytest.mark.parametrize("lang", LANGS)
def test_c8_escape_outside_click_scroll_and_navigation_are_not_consent(
    context: Any, service: Service, lang: str
) -> None:
    """C8: Esc, a click outside, scrolling and leaving record nothing and run nothing."""
    writes: list[str] = []
    gated: list[str] = []
    context.on(
        "request",
        lambda r: (
            (writes if r.method in ("POST", "DELETE") else gated).append(r.url)
            if (r.method != "GET" or STATS in r.url or VIDEO in r.url)
            else None
        ),
    )
    page = context.new_page()
    open_banner(page, service.url, lang)
    page.keyboard.press("Escape")
    page.mouse.click(20, 20)
    # The dialog is modal (issue 18): a click on the page lands on its backdrop.
    box = page.get_by_role("heading", level=1).bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    page.mouse.wheel(0, 2000)
    page.keyboard.press("End")
    page.wait_for_timeout(200)
    assert dialog(page).is_visible(), "the banner stays until a choice"
    page.reload()
    dialog(page).wait_for()
    page.wait_for_load_state("networkidle")
    assert writes == []
    assert gated == []
    assert stats_events(page) is None
    # Only the language the visitor switched to, a declared necessary session cookie.
    kept = [c["name"] for c in context.cookies()]
    assert kept == ([] if lang == "sv" else ["kakor_lang"])
    assert consent_calls(page) == [
        [
            "consent",
            "default",
            dict.fromkeys(
                ["analytics_storage", "ad_storage", "ad_user_data", "ad_personalization"], "denied"
            ),
        ]
    ]


def test_language_switch_rerenders_in_place_and_sets_lang(context: Any, service: Service) -> None:
    """The In English / På svenska switch re-renders the same dialog and moves focus with it."""
    page = context.new_page()
    open_banner(page, service.url, "sv")
    switch = dialog(page).get_by_role("button", name=LABELS["sv"]["switch"])
    assert switch.get_attribute("lang") == "en"
    switch.click()
    # setLang is asynchronous (it stores the language cookie first): wait for the re-render.
    expect(dialog(page)).to_have_attribute("lang", "en")
    assert button(page, "en", "accept").is_visible()
    page.wait_for_function(
        "document.activeElement?.shadowRoot?.activeElement?.textContent === 'På svenska'"
    )
    dialog(page).get_by_role("button", name="På svenska").click()
    expect(dialog(page)).to_have_attribute("lang", "sv")
    assert page.get_by_role("dialog").count() == 1
