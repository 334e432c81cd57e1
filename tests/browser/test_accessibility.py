"""Keyboard, focus, contrast, reflow and the accessibility tree (C24–C26), with axe-core."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Service
from .helpers import (
    ACTIVE,
    CONSENT_PATH,
    LABELS,
    LANGS,
    button,
    contrast,
    dialog,
    open_banner,
    stats_events,
    wait_focus_in_dialog,
)

pytestmark = pytest.mark.browser

#: axe-core rule tags for WCAG 2.0/2.1/2.2 A and AA.
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def _focused(page: Any) -> Any:
    """The deepest focused element's text and whether it is inside the dialog."""
    return page.evaluate(
        f"""() => {{ const e = {ACTIVE};
        return {{ text: (e.textContent || '').trim(), tag: e.tagName,
                 inDialog: !!(e.closest && e.closest('[role=dialog]')),
                 outline: getComputedStyle(e).outlineStyle,
                 outlineColor: getComputedStyle(e).outlineColor,
                 outlineWidth: parseFloat(getComputedStyle(e).outlineWidth) }} }}"""
    )


def _tab_to(page: Any, text: str, limit: int = 15) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused(page)["text"] == text:
            return
    pytest.fail(f"Tab never reached {text!r}")


@pytest.mark.parametrize("lang", LANGS)
def test_c24_keyboard_only_rejects_then_accepts(context: Any, service: Service, lang: str) -> None:
    """C24: focus moves into the dialog, stays there, focus is visible, Enter decides,
    and focus comes back to the link that reopened it."""
    page = context.new_page()
    open_banner(page, service.url, lang)
    wait_focus_in_dialog(page)
    for _ in range(12):  # focus is trapped: Tab never leaves the dialog
        page.keyboard.press("Tab")
        focused = _focused(page)
        assert focused["inDialog"], focused
    _tab_to(page, LABELS[lang]["reject"])
    focused = _focused(page)
    assert focused["outline"] != "none"
    assert focused["outlineWidth"] >= 2
    # C25: the focus ring (drawn outside the button, on the dialog's white) at least 3:1.
    assert contrast(focused["outlineColor"], "rgb(255, 255, 255)") >= 3
    with page.expect_response(lambda r: CONSENT_PATH in r.url) as answer:
        page.keyboard.press("Enter")
    assert answer.value.json()["choices"]["statistics"] is False
    assert dialog(page).count() == 0
    # Reopen from the footer link by keyboard, accept, and land back on the link.
    page.locator("[data-consent-open]").focus()
    page.keyboard.press("Enter")
    dialog(page).wait_for()
    wait_focus_in_dialog(page)
    # The language chosen earlier on this page is kept when the dialog reopens.
    assert dialog(page).get_attribute("lang") == lang
    _tab_to(page, LABELS[lang]["accept"])
    with page.expect_response(lambda r: CONSENT_PATH in r.url):
        page.keyboard.press("Enter")
    page.wait_for_function("() => window.demoStats !== undefined")
    assert page.evaluate("document.activeElement.hasAttribute('data-consent-open')")
    assert stats_events(page) is not None


def test_c24_escape_goes_back_a_layer_and_closes_only_after_a_choice(
    context: Any, service: Service
) -> None:
    page = context.new_page()
    open_banner(page, service.url, "sv")
    button(page, "sv", "settings").click()
    wait_focus_in_dialog(page)
    page.keyboard.press("Escape")
    assert button(page, "sv", "accept").is_visible()
    page.keyboard.press("Escape")
    assert dialog(page).is_visible(), "Esc is not a choice: the banner stays"
    with page.expect_response(lambda r: CONSENT_PATH in r.url):
        button(page, "sv", "reject").click()
    page.locator("[data-consent-open]").click()
    wait_focus_in_dialog(page)
    page.keyboard.press("Escape")
    assert dialog(page).count() == 0


def _axe(page: Any, axe_source: str) -> list[dict[str, Any]]:
    page.add_script_tag(content=axe_source)
    result: list[dict[str, Any]] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(r => r.violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target)})))",
        WCAG,
    )
    return result


@pytest.mark.parametrize("lang", LANGS)
def test_c25_axe_finds_no_violations(
    browser: Any, service: Service, axe_source: str, lang: str
) -> None:
    """C25: axe-core (WCAG 2.2 A/AA rules) on the page with each layer open."""
    context = browser.new_context(bypass_csp=True)  # only so the test can inject axe-core
    try:
        page = context.new_page()
        open_banner(page, service.url, lang)
        assert _axe(page, axe_source) == []
        button(page, lang, "settings").click()
        dialog(page).locator("details").first.evaluate("d => d.open = true")
        assert _axe(page, axe_source) == []
    finally:
        context.close()


@pytest.mark.parametrize("width", [320, 640])
def test_c25_reflow_and_target_size(
    browser: Any, service: Service, width: int, tmp_path: Path
) -> None:
    """C25: at 320 px (and 640 px, i.e. 1280 px at 200 % zoom) nothing scrolls sideways,
    every button fits, and every target is at least 24×24 px."""
    context = browser.new_context(viewport={"width": width, "height": 640})
    try:
        page = context.new_page()
        open_banner(page, service.url, "sv")
        for layer in ("first", "settings"):
            if layer == "settings":
                button(page, "sv", "settings").click()
            page.screenshot(path=str(tmp_path / f"{layer}-{width}.png"))
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            box = dialog(page).bounding_box()
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= width
            assert dialog(page).evaluate("d => d.scrollWidth <= d.clientWidth")
            for target in dialog(page).locator("button:not([disabled]), a, summary").all():
                r = target.bounding_box()
                assert r["width"] >= 24, target.inner_text()
                assert r["height"] >= 24, target.inner_text()
                assert r["x"] >= 0
                assert r["x"] + r["width"] <= width
    finally:
        context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_c26_switch_state_status_and_language(context: Any, service: Service, lang: str) -> None:
    """C26: switches expose name, role and state; saving is announced; lang is set."""
    page = context.new_page()
    open_banner(page, service.url, lang)
    assert dialog(page).get_attribute("lang") == lang
    assert dialog(page).get_attribute("aria-modal") == "true"
    assert (
        dialog(page).evaluate(
            "d => d.getRootNode().getElementById(d.getAttribute('aria-labelledby')).textContent"
        )
        != ""
    )
    button(page, lang, "settings").click()
    switch = dialog(page).get_by_role("switch", name=LABELS[lang]["statistics"])
    assert switch.get_attribute("aria-checked") == "false"
    switch.press("Space")
    assert switch.get_attribute("aria-checked") == "true"
    switch.press("Enter")
    assert switch.get_attribute("aria-checked") == "false"
    switch.click()
    with page.expect_response(lambda r: CONSENT_PATH in r.url):
        button(page, lang, "save").click()
    status = page.get_by_role("status")
    assert status.text_content() == LABELS[lang]["saved"]


def test_c26_both_languages_have_the_same_buttons_in_the_same_order(
    context: Any, service: Service
) -> None:
    page = context.new_page()
    order = {}
    for lang in LANGS:
        open_banner(page, service.url, lang)
        first = dialog(page).get_by_role("button").all_text_contents()
        button(page, lang, "settings").click()
        dialog(page).get_by_role("switch").first.wait_for()
        second = [
            b.get_attribute("aria-checked") or b.text_content()
            for b in dialog(page).locator("button").all()
        ]
        order[lang] = (first, second)
    keys = ["switch", "accept", "reject", "settings"]
    for lang in LANGS:
        assert order[lang][0] == [LABELS[lang][k] for k in keys]
        assert order[lang][1] == [
            "false",
            "false",
            LABELS[lang]["switch"],
            LABELS[lang]["accept"],
            LABELS[lang]["reject"],
            LABELS[lang]["save"],
        ]
