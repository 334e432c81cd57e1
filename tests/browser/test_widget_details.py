"""The smaller things users expect (issue 18), each in both languages: C7's third
parties named from the config, language kept from page to page, a repeat "saved"
announcement, distinct disclosure names, switches described by their category text,
a modal that is modal for the mouse too, the placeholder naming its embed, the
optional reopen button, and the declaration page's way back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Service, free_port
from .helpers import LABELS, LANGS, button, decide, dialog, open_banner
from .static_site import service_for

pytestmark = pytest.mark.browser

OTHER = {"sv": "en", "en": "sv"}
SHADOW = "document.querySelector('kakor-consent').shadowRoot"


@pytest.mark.parametrize("lang", LANGS)
def test_c7_first_layer_names_every_declared_third_party(
    context: Any, service: Service, lang: str
) -> None:
    page = context.new_page()
    open_banner(page, service.url, lang)
    text = dialog(page).inner_text()
    for provider in ("Google Ireland Ltd / Vimeo Inc.", "Meta Platforms Ireland Ltd"):
        assert provider in text


@pytest.mark.parametrize("lang", LANGS)
def test_c26_language_choice_is_kept_from_page_to_page(
    context: Any, service: Service, lang: str
) -> None:
    """On pages in the other language, switch to ``lang``: the next page is in ``lang``."""
    page = context.new_page()
    if lang == "sv":  # the demo page is Swedish: make every page English before the widget runs
        page.add_init_script(
            "document.addEventListener('readystatechange', () =>"
            " document.readyState === 'interactive' && (document.documentElement.lang = 'en'))"
        )
    page.goto(service.url + "/")
    button(page, OTHER[lang], "accept").wait_for()
    dialog(page).get_by_role("button", name=LABELS[OTHER[lang]]["switch"]).click()
    button(page, lang, "accept").wait_for()
    page.goto(service.url + "/")
    button(page, lang, "accept").wait_for()
    assert dialog(page).get_attribute("lang") == lang
    kept = [c for c in context.cookies() if c["name"] == "kakor_lang"]
    assert [(c["value"], c["expires"]) for c in kept] == [(lang, -1)]  # a session cookie


@pytest.mark.parametrize("lang", LANGS)
def test_c26_saved_is_cleared_so_a_repeat_is_announced(
    context: Any, service: Service, lang: str
) -> None:
    page = context.new_page()
    open_banner(page, service.url, lang)
    page.evaluate(
        f"""() => {{ const s = {SHADOW}.querySelector('[role=status]');
        window.said = [];
        new MutationObserver(() => said.push(s.textContent)).observe(s, {{childList: true}}); }}"""
    )
    decide(page, lang, "accept")
    page.wait_for_function(f"said.includes({LABELS[lang]['saved']!r})")
    page.evaluate("kakor.show()")
    decide(page, lang, "reject")
    page.wait_for_function(f"said.filter(t => t === {LABELS[lang]['saved']!r}).length === 2")
    said = page.evaluate("said")
    second = len(said) - 1 - said[::-1].index(LABELS[lang]["saved"])
    assert "" in said[said.index(LABELS[lang]["saved"]) + 1 : second]


@pytest.mark.parametrize("lang", LANGS)
def test_c26_settings_names_and_descriptions(context: Any, service: Service, lang: str) -> None:
    page = context.new_page()
    open_banner(page, service.url, lang)
    button(page, lang, "settings").click()
    dialog(page).get_by_role("switch").first.wait_for()
    names = dialog(page).locator("summary").evaluate_all("s => s.map(e => e.ariaLabel)")
    assert len(set(names)) == len(names) == 3
    assert all(LABELS[lang][k] in " ".join(names) for k in ("statistics", "third-party"))
    for switch in dialog(page).get_by_role("switch").all():
        described = switch.evaluate(
            "s => s.getRootNode().getElementById(s.getAttribute('aria-describedby')).textContent"
        )
        assert len(described) > 40  # the category's description


@pytest.mark.parametrize("lang", LANGS)
def test_c24_modal_dialog_keeps_the_mouse_off_the_page(
    context: Any, service: Service, lang: str
) -> None:
    page = context.new_page()
    open_banner(page, service.url, lang)
    assert dialog(page).get_attribute("aria-modal") == "true"
    box = page.get_by_role("heading", level=1).bounding_box()
    assert box is not None
    hit = page.evaluate(f"document.elementFromPoint({box['x'] + 5}, {box['y'] + 5}).localName")
    assert hit == "kakor-consent"
    decide(page, lang, "reject")
    hit = page.evaluate(f"document.elementFromPoint({box['x'] + 5}, {box['y'] + 5}).localName")
    assert hit == "h1"


@pytest.mark.parametrize("lang", LANGS)
def test_c12_placeholder_names_the_embed(context: Any, service: Service, lang: str) -> None:
    page = context.new_page()
    open_banner(page, service.url, lang)
    strong = page.locator("kakor-embed strong").inner_text()
    assert strong == LABELS[lang]["third-party"] + ": Film: panelsamtal om framtidens arbetsmarknad"


@pytest.fixture(scope="module")
def reopen_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("reopen")
    with service_for(workdir, f"http://localhost:{free_port()}", "reopen_button = true") as svc:
        yield svc


@pytest.mark.parametrize("lang", LANGS)
def test_c13_floating_reopen_button(context: Any, reopen_service: Service, lang: str) -> None:
    page = context.new_page()
    open_banner(page, reopen_service.url, lang)
    reopen = page.get_by_role(
        "button", name={"sv": "Cookie-inställningar", "en": "Cookie settings"}[lang]
    )
    assert reopen.count() == 0  # no choice yet: the banner is all there is
    decide(page, lang, "reject")
    reopen.click()
    button(page, lang, "accept").wait_for()
    # Under the modal's backdrop while the dialog is open, and focus goes back to it.
    box = reopen.bounding_box()
    assert box is not None
    centre = f"{box['x'] + box['width'] / 2}, {box['y'] + box['height'] / 2}"
    assert page.evaluate(f"{SHADOW}.elementFromPoint({centre}).className") == "b"
    page.keyboard.press("Escape")
    page.wait_for_function(f"{SHADOW}.activeElement?.className === 'f'")
    page.goto(reopen_service.url + "/")  # a repeat visit shows it at once
    reopen.wait_for()


@pytest.mark.parametrize("lang", LANGS)
def test_c2_c13_c25_declaration_page_h1_way_back_and_change_button(
    browser: Any, service: Service, lang: str
) -> None:
    ctx = browser.new_context(viewport={"width": 320, "height": 640})
    try:
        page = ctx.new_page()
        open_banner(page, service.url, lang)
        decide(page, lang, "reject")
        page.goto(f"{service.url}/v1/sites/demo/declaration?lang={lang}", referer=service.url + "/")
        assert page.get_by_role("heading", level=1).count() == 1
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 320
        back = {"sv": "Tillbaka till webbplatsen", "en": "Back to the website"}[lang]
        assert page.get_by_role("link", name=back).get_attribute("href") == service.url + "/"
        change = {"sv": "Ändra dina val", "en": "Change your choices"}[lang]
        page.get_by_role("link", name=change).click()
        dialog(page).get_by_role("switch").first.wait_for()  # the widget opened its settings
    finally:
        ctx.close()
