"""C24 / C25 for keyboard and low-vision visitors (issue 18): 320 px, 200 % and 400 %
zoom, focus after a first-visit choice, forced colours, dark mode, theming, hover."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Service
from .helpers import (
    ACTIVE,
    LABELS,
    LANGS,
    button,
    contrast,
    dialog,
    open_banner,
    wait_focus_in_dialog,
)

pytestmark = pytest.mark.browser

#: Whether the focused element's centre is its own, not under the sticky row or outside
#: the dialog's visible box (WCAG 2.4.11, focus not obscured).
UNOBSCURED = f"""() => {{
  const a = {ACTIVE};
  const root = a.getRootNode();
  const r = a.getBoundingClientRect();
  const hit = root.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  return !!hit && (hit === a || a.contains(hit));
}}"""


def _zoomed(browser: Any, width: int, height: int, scale: int) -> Any:
    return browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=scale
    )


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("width", "height", "scale"), [(640, 400, 2), (320, 256, 4)])
def test_c25_zoom_never_hides_the_focused_control(
    browser: Any, service: Service, lang: str, width: int, height: int, scale: int
) -> None:
    """200 % (640×400) and 400 % (320×256): every Tab stop of both layers is visible."""
    ctx = _zoomed(browser, width, height, scale)
    try:
        page = ctx.new_page()
        open_banner(page, service.url, lang)
        button(page, lang, "settings").click()
        dialog(page).get_by_role("switch").first.wait_for()
        for _ in range(12):
            page.keyboard.press("Tab")
            assert page.evaluate(UNOBSCURED), page.evaluate(f"{ACTIVE}.outerHTML")
        # The button row does not hold most of a short viewport still.
        row = page.evaluate(
            "getComputedStyle(document.querySelector('kakor-consent').shadowRoot"
            ".querySelector('.r')).position"
        )
        assert row == "static"
    finally:
        ctx.close()


@pytest.mark.parametrize("lang", LANGS)
def test_c25_placeholder_grows_with_its_text_at_320px(
    browser: Any, service: Service, lang: str
) -> None:
    ctx = browser.new_context(viewport={"width": 320, "height": 640})
    try:
        page = ctx.new_page()
        open_banner(page, service.url, lang)
        page.locator("kakor-embed").wait_for()
        box, inner = page.evaluate(
            """() => { const e = document.querySelector('kakor-embed');
              return [e.getBoundingClientRect().height,
                      e.shadowRoot.querySelector('.p').scrollHeight]; }"""
        )
        assert inner <= box + 1
        caption = page.locator("figure:has(kakor-embed) figcaption").bounding_box()
        embed = page.locator("kakor-embed").bounding_box()
        assert caption and embed and embed["y"] + embed["height"] <= caption["y"] + 1
    finally:
        ctx.close()


@pytest.mark.parametrize("lang", LANGS)
def test_c24_focus_returns_where_it_was_after_a_first_visit_choice(
    context: Any, service: Service, lang: str
) -> None:
    """A page that focuses its own element at DOMContentLoaded (after the banner opened,
    before it took focus) gets focus back there after a keyboard choice, not on <body>."""
    page = context.new_page()
    page.add_init_script(
        "document.addEventListener('DOMContentLoaded',"
        " () => document.querySelector('a.skip').focus())"
    )
    open_banner(page, service.url, lang)
    wait_focus_in_dialog(page)
    button(page, lang, "reject").focus()
    with page.expect_response(lambda r: "/consent" in r.url):
        page.keyboard.press("Enter")
    page.wait_for_function(f"{ACTIVE}.textContent === 'Hoppa till innehållet'")


def _switch_colours(page: Any) -> list[tuple[str, str]]:
    colours: list[tuple[str, str]] = page.evaluate(
        """() => [...document.querySelector('kakor-consent').shadowRoot
              .querySelectorAll('[role=switch]')].map(s =>
              [getComputedStyle(s).backgroundColor, getComputedStyle(s, '::after').backgroundColor])"""
    )
    return colours


@pytest.mark.parametrize("lang", LANGS)
def test_c25_forced_colours_keep_the_knob_and_tell_on_from_off(
    context: Any, service: Service, lang: str
) -> None:
    page = context.new_page()
    page.emulate_media(forced_colors="active")
    open_banner(page, service.url, lang)
    button(page, lang, "settings").click()
    dialog(page).get_by_role("switch", name=LABELS[lang]["statistics"]).click()
    (on_track, on_knob), (off_track, off_knob) = _switch_colours(page)
    assert on_track != on_knob and off_track != off_knob
    assert on_track != off_track


@pytest.mark.parametrize("lang", LANGS)
def test_c25_dark_mode_theming_and_hover(context: Any, service: Service, lang: str) -> None:
    page = context.new_page()
    page.emulate_media(color_scheme="dark")
    open_banner(page, service.url, lang)
    style = "(s => [getComputedStyle(s).color, getComputedStyle(s).backgroundColor])"
    pick = "document.querySelector('kakor-consent').shadowRoot.querySelector"
    text, ground = page.evaluate(f"{style}({pick}('.d'))")
    assert contrast(text, ground) >= 4.5 and sum(map(int, ground[4:-1].split(","))) < 120
    accept = button(page, lang, "accept")
    fg, bg = page.evaluate(f"{style}({pick}('.r button'))")
    assert contrast(fg, bg) >= 4.5
    assert accept.evaluate("b => getComputedStyle(b).boxShadow") == "none"
    accept.hover()
    assert accept.evaluate("b => getComputedStyle(b).boxShadow") != "none"
    # The site overrides through documented custom properties.
    page.evaluate(
        "(r => { r.setProperty('--kakor-color-scheme', 'light');"
        " r.setProperty('--kakor-accent', '#006400'); })(document.documentElement.style)"
    )
    text, ground = page.evaluate(f"{style}({pick}('.d'))")
    assert ground == "rgb(255, 255, 255)"
    assert page.evaluate(f"{style}({pick}('.r button'))")[1] == "rgb(0, 100, 0)"
