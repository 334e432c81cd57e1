"""The widget as a page sees it: JS API, events, single-page apps, repeat visits, CSP, CLS."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Route

from .conftest import Service
from .helpers import (
    CONSENT_PATH,
    STATS,
    VIDEO,
    button,
    decide,
    dialog,
    open_banner,
    stats_events,
    wait_focus_in_dialog,
)

pytestmark = pytest.mark.browser

#: Recorded from the first byte of every document: layout shifts, and whether the
#: widget's host element was ever put into the page (a banner that flickers).
WATCH = """
window.__shifts = 0; window.__hostSeen = false;
new PerformanceObserver(l => { for (const e of l.getEntries())
  if (!e.hadRecentInput) window.__shifts += e.value; })
  .observe({type: 'layout-shift', buffered: true});
new MutationObserver(() => { if (document.querySelector('kakor-consent')) window.__hostSeen = true; })
  .observe(document, {childList: true, subtree: true});
"""


def test_js_api_and_change_event(context: Any, service: Service) -> None:
    """``kakor.get()``, ``kakor.on("change")``, the ``kakor:change`` event and ``kakor.show()``."""
    page = context.new_page()
    open_banner(page, service.url, "sv")
    assert page.evaluate("kakor.get()")["decided"] is False
    page.evaluate(
        """() => { window.__seen = [];
        kakor.on('change', d => __seen.push(['on', d.action, d.choices.statistics]));
        window.addEventListener('kakor:change', e => __seen.push(['event', e.detail.action])); }"""
    )
    answer = decide(page, "sv", "accept")
    assert page.evaluate("__seen") == [["on", "accept-all", True], ["event", "accept-all"]]
    page.wait_for_function("() => kakor.get().consent_id !== null")
    got = page.evaluate("kakor.get()")
    assert got["consent_id"] == answer["consent_id"]
    assert got["choices"] == {"necessary": True, "statistics": True, "third-party": True}
    assert got["policy_version"] == "2026-11-01"
    page.evaluate("kakor.show('settings')")
    # The second layer shows the consent ID and when it was given.
    assert answer["consent_id"] in dialog(page).inner_text()
    assert dialog(page).get_by_role("switch", name="Statistik").get_attribute("aria-checked") == (
        "true"
    )
    wait_focus_in_dialog(page)
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    assert dialog(page).count() == 0
    page.evaluate("kakor.show()")
    assert button(page, "sv", "reject").is_visible()


def test_content_added_later_is_gated_too(context: Any, service: Service) -> None:
    """Single-page apps: gated scripts and iframes inserted after load wait for consent."""
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url) if "?late" in r.url else None)
    page = context.new_page()
    open_banner(page, service.url, "sv")
    page.evaluate(
        """() => { const s = document.createElement('script'); s.type = 'text/plain';
        s.dataset.consent = 'statistics'; s.dataset.src = '/demo/assets/stats.js?late';
        const f = document.createElement('iframe'); f.dataset.consent = 'third-party';
        f.dataset.src = '/demo/assets/video.html?late'; f.title = 'late';
        const box = document.createElement('div'); box.append(s, f); document.body.append(box); }"""
    )
    page.wait_for_timeout(200)
    assert requests == []
    assert page.locator("kakor-embed").count() == 2
    decide(page, "sv", "accept")
    page.wait_for_function("() => window.demoStats !== undefined")
    page.wait_for_function("() => document.querySelectorAll('kakor-embed').length === 0")
    assert sorted(u.rsplit("/", 1)[1] for u in requests) == ["stats.js?late", "video.html?late"]


def test_repeat_visit_needs_no_network_and_never_shows_the_banner(
    context: Any, service: Service
) -> None:
    """A repeat visit reads the cookie: gated scripts run at once, no banner, no flicker,
    no request to the consent API (it is even blocked here)."""
    context.add_init_script(WATCH)
    page = context.new_page()
    open_banner(page, service.url, "sv")
    decide(page, "sv", "accept")
    calls: list[str] = []

    def refuse(route: Route) -> None:
        calls.append("x")
        route.abort()

    context.route("**/v1/sites/demo/consent", refuse)
    page.goto(service.url + "/")
    page.wait_for_function("() => window.demoStats && window.demoStats.events.length === 2")
    assert page.evaluate("window.__hostSeen") is False
    assert calls == []
    assert page.locator("iframe[data-consent]").get_attribute("src") == VIDEO


def test_no_layout_shift_and_no_csp_violation(context: Any, service: Service) -> None:
    """The banner and the embed placeholder shift nothing; nothing breaks the strict CSP."""
    violations: list[str] = []
    context.add_init_script(WATCH)
    page = context.new_page()
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: violations.append(str(e)))
    open_banner(page, service.url, "sv")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__shifts") == 0
    csp = page.evaluate("fetch('/').then(r => r.headers.get('content-security-policy'))")
    assert "unsafe-inline" not in csp
    decide(page, "sv", "accept")
    page.wait_for_function("() => window.demoStats && window.demoStats.events.length === 2")
    page.frame_locator("iframe[data-consent]").locator(".screen").wait_for()
    assert violations == []


def test_a_failed_recording_still_honours_the_choice(context: Any, service: Service) -> None:
    """If the service cannot be reached the choice still applies to this page, and no
    forged cookie is written: the next page asks again."""
    context.route("**" + CONSENT_PATH, lambda route: route.abort())
    page = context.new_page()
    open_banner(page, service.url, "sv")
    button(page, "sv", "reject").click()
    assert dialog(page).count() == 0
    page.wait_for_timeout(200)
    assert stats_events(page) is None
    assert context.cookies() == []
    page.reload()
    dialog(page).wait_for()
    assert STATS not in page.evaluate("performance.getEntries().map(e => e.name).join()")


def test_host_page_css_cannot_restyle_the_banner(browser: Any, service: Service) -> None:
    """The banner lives in a shadow root: aggressive page CSS leaves it as it was."""
    context = browser.new_context(bypass_csp=True)  # only so the test can add a <style>
    try:
        page = context.new_page()
        open_banner(page, service.url, "sv")
        accept = button(page, "sv", "accept")
        before = accept.evaluate(
            "b => { const s = getComputedStyle(b); return [s.backgroundColor, s.fontSize, s.display] }"
        )
        page.add_style_tag(
            content="button, div, [role=dialog], kakor-consent { background: red !important;"
            " font-size: 40px !important; display: none !important; }"
        )
        after = accept.evaluate(
            "b => { const s = getComputedStyle(b); return [s.backgroundColor, s.fontSize, s.display] }"
        )
        assert after == before
        assert dialog(page).is_visible()
    finally:
        context.close()
