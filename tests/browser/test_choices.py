"""Choosing, changing and withdrawing, and how long a choice holds (C10–C17)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .conftest import Service
from .helpers import (
    CONSENT_PATH,
    LABELS,
    LANGS,
    STATS,
    VIDEO,
    button,
    consent_calls,
    cookie_names,
    decide,
    dialog,
    open_banner,
    stats_events,
)

pytestmark = pytest.mark.browser

SIGNALS = ["analytics_storage", "ad_storage", "ad_user_data", "ad_personalization"]
TRACKER_COOKIES = {"_pk_id", "_pk_ses", "VISITOR_INFO1_LIVE"}


def _switch(page: Any, lang: str, category: str) -> Any:
    return dialog(page).get_by_role("switch", name=LABELS[lang][category])


def _settings(page: Any, url: str, lang: str) -> None:
    open_banner(page, url, lang)
    button(page, lang, "settings").click()
    _switch(page, lang, "statistics").wait_for()


def _video_loaded(page: Any) -> bool:
    return bool(page.locator("iframe[data-consent]").get_attribute("src") == VIDEO)


@pytest.mark.parametrize("lang", LANGS)
def test_c10_nothing_pre_ticked_and_necessary_locked_on(
    context: Any, service: Service, lang: str
) -> None:
    """C10: optional switches start off; necessary is on and cannot be turned off: it
    reads "Alltid aktiv" / "Always active" and is no switch at all (issue 18)."""
    page = context.new_page()
    _settings(page, service.url, lang)
    assert dialog(page).get_by_role("switch").count() == 2
    for category in ("statistics", "third-party"):
        switch = _switch(page, lang, category)
        assert switch.get_attribute("aria-checked") == "false"
        assert switch.is_enabled()
    heading = dialog(page).get_by_role("heading", name=LABELS[lang]["necessary"], exact=True)
    row = heading.locator("xpath=..")
    assert row.get_by_text(LABELS[lang]["always"], exact=True).is_visible()
    assert row.get_by_role("switch").count() == 0 and row.get_by_role("button").count() == 0
    # Each category lists its services and their cookies (in a closed <details>).
    codes = dialog(page).locator("code").all_text_contents()
    assert sorted(codes) == sorted(
        ["consent", "kakor_lang", "_pk_id", "_pk_ses", "VISITOR_INFO1_LIVE", "fr"]
    )
    assert "Matomo" in dialog(page).locator("strong").all_text_contents()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    ("statistics", "third_party"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_c11_each_combination_runs_exactly_its_scripts(
    context: Any, service: Service, lang: str, statistics: bool, third_party: bool
) -> None:
    """C11: one switch per category; Save runs exactly what was allowed, nothing ticked = reject."""
    page = context.new_page()
    _settings(page, service.url, lang)
    if statistics:
        _switch(page, lang, "statistics").click()
    if third_party:
        _switch(page, lang, "third-party").click()
    with page.expect_response(lambda r: CONSENT_PATH in r.url) as answer:
        button(page, lang, "save").click()
    body = answer.value.json()
    expected = {"necessary": True, "statistics": statistics, "third-party": third_party}
    assert body["choices"] == expected
    assert json.loads(answer.value.request.post_data)["action"] == "save"
    if statistics:
        page.wait_for_function("() => window.demoStats && window.demoStats.events.length === 2")
        assert stats_events(page) == ["pageview", "inline"], "src first, then inline: in order"
    else:
        assert stats_events(page) is None
    assert _video_loaded(page) is third_party
    rows = service.events_for(body["consent_id"], 1)
    assert [(r["action"], json.loads(r["choices"])) for r in rows] == [("save", expected)]
    # The next page reads the choice from the cookie and does the same at once.
    page.reload()
    page.wait_for_load_state("load")
    assert dialog(page).count() == 0
    assert (stats_events(page) is not None) is statistics
    assert _video_loaded(page) is third_party


@pytest.mark.parametrize("lang", LANGS)
def test_c12_embed_is_click_to_load(context: Any, service: Service, lang: str) -> None:
    """C12: no request for the embed until its placeholder's "Tillåt alltid" allows its
    category, recorded with its own action."""
    videos: list[str] = []
    context.on("request", lambda r: videos.append(r.url) if VIDEO in r.url else None)
    page = context.new_page()
    open_banner(page, service.url, lang)
    placeholder = page.locator("kakor-embed")
    allow = placeholder.get_by_role("button", name=LABELS[lang]["allow_always"])
    assert allow.inner_text() == f"{LABELS[lang]['allow_always']}: {LABELS[lang]['third-party']}"
    assert placeholder.get_attribute("lang") is None  # the lang is set inside its shadow root
    assert placeholder.locator("[lang]").get_attribute("lang") == lang
    page.wait_for_timeout(200)
    assert videos == []
    # The first layer is modal: a choice there first, then the placeholder's button.
    decide(page, lang, "reject")
    assert videos == []
    with page.expect_response(lambda r: CONSENT_PATH in r.url) as answer:
        allow.click()
    body = answer.value.json()
    assert body["choices"] == {
        "necessary": True,
        "statistics": False,
        "third-party": True,
    }
    assert answer.value.request.post_data_json["action"] == "placeholder"
    page.wait_for_function("() => document.querySelector('iframe[data-consent]').offsetHeight > 0")
    assert len(videos) == 1
    assert page.locator("kakor-embed").count() == 0
    assert stats_events(page) is None
    rows = service.events_for(body["consent_id"], 2)
    assert [r["action"] for r in rows] == ["reject-all", "placeholder"]


@pytest.mark.parametrize("lang", LANGS)
def test_c12_allow_this_time_loads_this_embed_on_this_page_and_stores_nothing(
    context: Any, service: Service, lang: str
) -> None:
    """C12: "Tillåt den här gången" loads the one embed now, sends and stores nothing, and
    the next page view asks again."""
    videos: list[str] = []
    writes: list[str] = []
    context.on("request", lambda r: videos.append(r.url) if VIDEO in r.url else None)
    context.on("request", lambda r: writes.append(r.method) if CONSENT_PATH in r.url else None)
    page = context.new_page()
    open_banner(page, service.url, lang)
    decide(page, lang, "reject")
    page.wait_for_function("() => document.cookie.includes('consent=')")
    cookie = [c for c in context.cookies() if c["name"] == "consent"]
    assert writes == ["POST"] and videos == []
    page.locator("kakor-embed").get_by_role("button", name=LABELS[lang]["allow_once"]).click()
    page.wait_for_function("() => document.querySelector('iframe[data-consent]').offsetHeight > 0")
    assert len(videos) == 1 and page.locator("kakor-embed").count() == 0
    assert writes == ["POST"]  # nothing sent
    assert [c for c in context.cookies() if c["name"] == "consent"] == cookie
    assert page.evaluate("kakor.get().choices['third-party']") is False
    page.reload()
    page.locator("kakor-embed").wait_for()
    assert len(videos) == 1 and not _video_loaded(page)


@pytest.mark.parametrize("lang", LANGS)
def test_c13_withdrawing_takes_no_more_clicks_than_consenting(
    context: Any, service: Service, lang: str
) -> None:
    """C13: from the footer link (reached by keyboard) one more click withdraws or consents."""
    page = context.new_page()
    open_banner(page, service.url, lang)
    decide(page, lang, "accept")  # giving: one click on the banner
    # Withdrawing: the settings link, then one button.
    page.locator("[data-consent-open]").click()
    decide(page, lang, "reject")
    # Consenting again the same way takes as many.
    page.locator("[data-consent-open]").click()
    decide(page, lang, "accept")
    # The link is reachable by keyboard.
    page.locator("body").focus()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.hasAttribute('data-consent-open')"):
            break
    else:
        pytest.fail("Tab never reached the data-consent-open link")
    page.keyboard.press("Enter")
    assert button(page, lang, "reject").is_visible()


@pytest.mark.parametrize("lang", LANGS)
def test_c14_withdrawal_deletes_cookies_and_stops_loading(
    context: Any, service: Service, lang: str
) -> None:
    """C14: after withdrawal the trackers' cookies are gone, Consent Mode is denied,
    the embed is unloaded and nothing gated is requested again."""
    page = context.new_page()
    open_banner(page, service.url, lang)
    given = decide(page, lang, "accept")
    page.wait_for_function("() => document.cookie.includes('VISITOR_INFO1_LIVE')", timeout=15000)
    assert cookie_names(context) >= TRACKER_COOKIES
    page.locator("[data-consent-open]").click()
    with page.expect_response(lambda r: CONSENT_PATH in r.url) as answer:
        button(page, lang, "reject").click()
    assert answer.value.request.method == "DELETE"
    assert answer.value.json()["choices"] == {
        "necessary": True,
        "statistics": False,
        "third-party": False,
    }
    # Only necessary cookies stay: the consent and, in English, the language choice.
    assert cookie_names(context) == {"consent"} | ({"kakor_lang"} if lang == "en" else set())
    assert consent_calls(page)[-1] == ["consent", "update", dict.fromkeys(SIGNALS, "denied")]
    assert page.locator("kakor-embed").count() == 1
    assert page.locator("iframe[data-consent]").get_attribute("src") == "about:blank"
    rows = service.events_for(given["consent_id"], 2)
    assert [r["action"] for r in rows] == ["accept-all", "withdraw"]
    gated: list[str] = []
    context.on(
        "request", lambda r: gated.append(r.url) if STATS in r.url or VIDEO in r.url else None
    )
    page.reload()
    page.wait_for_load_state("networkidle")
    page.evaluate(
        """() => { const s = document.createElement('script'); s.type = 'text/plain';
        s.dataset.consent = 'statistics'; s.dataset.src = '/demo/assets/stats.js?late';
        document.body.append(s); }"""
    )
    page.wait_for_timeout(300)
    assert gated == []
    assert cookie_names(context) == {"consent"} | ({"kakor_lang"} if lang == "en" else set())
    assert dialog(page).count() == 0


def test_c15_refusal_holds_for_months_and_a_new_policy_asks_again(
    context: Any, service: Service, service_new_policy: Service
) -> None:
    """C15: no banner on day 179 after a refusal, a banner once expired (365 days)
    or when the policy version changed; the refusal lasts as long as a consent."""
    now = time.time()
    page = context.new_page()
    page.clock.install(time=now)
    open_banner(page, service.url, "sv")
    decide(page, "sv", "reject")
    (cookie,) = context.cookies()
    assert cookie["expires"] == pytest.approx(now + 365 * 86400, abs=120)
    page.clock.set_fixed_time(now + 179 * 86400)
    page.reload()
    page.wait_for_load_state("load")
    assert page.evaluate("kakor.get().decided") is True
    assert dialog(page).count() == 0
    page.clock.set_fixed_time(now + 366 * 86400)
    page.reload()
    dialog(page).wait_for()
    # Same browser, same cookie, but the site's policy_version changed.
    page.clock.set_fixed_time(now + 86400)
    page.goto(service_new_policy.url + "/")
    dialog(page).wait_for()
    assert page.evaluate("kakor.get().decided") is False


def test_c16_gpc_is_a_refusal_recorded_once(browser: Any, service: Service) -> None:
    """C16: with GPC the widget records one refusal (action gpc), shows no banner,
    and the visitor can still opt in from the settings link."""
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"})
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
    )
    try:
        writes: list[str] = []
        context.on("request", lambda r: writes.append(r.method) if CONSENT_PATH in r.url else None)
        page = context.new_page()
        with page.expect_response(lambda r: CONSENT_PATH in r.url) as answer:
            page.goto(service.url + "/")
        body = answer.value.json()
        assert body["choices"] == {"necessary": True, "statistics": False, "third-party": False}
        assert dialog(page).count() == 0
        (row,) = service.events_for(body["consent_id"], 1)
        assert row["action"] == "gpc"
        assert row["gpc"] == 1
        page.reload()
        page.wait_for_load_state("networkidle")
        assert writes == ["POST"], "recorded once, not on every page"
        assert stats_events(page) is None
        page.locator("[data-consent-open]").click()
        opted_in = decide(page, "sv", "accept")
        assert opted_in["consent_id"] == body["consent_id"]
        assert opted_in["choices"]["statistics"] is True
        page.wait_for_function("() => window.demoStats !== undefined")
        rows = service.events_for(body["consent_id"], 2)
        assert [r["action"] for r in rows] == ["gpc", "accept-all"]
    finally:
        context.close()


def test_c17_consent_mode_default_denied_then_one_update_per_decision(
    context: Any, service: Service
) -> None:
    """C17: gtag consent default (all denied) comes first; each decision adds one update."""
    page = context.new_page()
    open_banner(page, service.url, "sv")
    denied = dict.fromkeys(SIGNALS, "denied")
    assert page.evaluate("Array.from(window.dataLayer[0])") == ["consent", "default", denied]
    assert consent_calls(page) == [["consent", "default", denied]]
    button(page, "sv", "settings").click()
    dialog(page).get_by_role("switch", name="Statistik").click()
    with page.expect_response(lambda r: CONSENT_PATH in r.url):
        button(page, "sv", "save").click()
    # What a decision newly allows is applied once the response is read, a task later.
    page.wait_for_function("(window.dataLayer || []).filter(a => a[0] === 'consent').length >= 2")
    partial = {**denied, "analytics_storage": "granted"}
    assert consent_calls(page) == [
        ["consent", "default", denied],
        ["consent", "update", partial],
    ]
    page.reload()
    page.wait_for_load_state("load")
    assert consent_calls(page) == [
        ["consent", "default", denied],
        ["consent", "update", partial],
    ]
