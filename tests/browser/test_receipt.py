"""The visitor's receipt (issue 16): downloaded from the settings after a decision, then
checked by ``consent-service receipt verify`` against the running service's log."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from consent_service.cli.main import main

from .conftest import Service
from .helpers import LABELS, LANGS, button, decide, dialog, open_banner

pytestmark = pytest.mark.browser

RECEIPT = {"sv": "Ladda ner kvitto", "en": "Download receipt"}
FILE = {"sv": "kvitto", "en": "receipt"}
FAILED = {"sv": "Kvittot kunde inte hämtas.", "en": "The receipt could not be fetched."}


def _settings_after_accept(page: Any, url: str, lang: str) -> dict[str, Any]:
    """Accept all, then reopen the dialog from the footer link and go to the settings."""
    open_banner(page, url, lang)
    answer = decide(page, lang, "accept")
    # The consent ID is known once the service's answer is stored.
    page.wait_for_function("() => !!window.kakor.get().consent_id")
    page.locator("footer [data-consent-open]").click()
    button(page, lang, "settings").click()
    dialog(page).get_by_role("heading", name=re.compile(LABELS[lang]["settings"], re.I)).wait_for()
    return answer


def _verify(*args: str) -> int:
    return main(["receipt", "verify", *args])


@pytest.mark.parametrize("lang", LANGS)
def test_a_downloaded_receipt_verifies_against_the_log_and_a_tampered_one_does_not(
    context: Any,
    service: Service,
    lang: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    answer = _settings_after_accept(page, service.url, lang)
    receipt = dialog(page).get_by_role("button", name=RECEIPT[lang], exact=True)
    # Keyboard only: the button takes focus and Enter presses it.
    receipt.focus()
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert re.fullmatch(
        rf"kakor-{FILE[lang]}-demo-\d{{4}}-\d{{2}}-\d{{2}}\.json", download.value.suggested_filename
    )
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert all(u.startswith((service.url, "blob:", "data:")) for u in requests), requests

    document = json.loads(path.read_text(encoding="utf-8"))
    row = document["receipt"]["row"]
    assert row["consent_id"] == answer["consent_id"]
    assert row["action"] == "accept-all"
    assert row["language"] == lang
    capsys.readouterr()
    assert _verify(str(path), "--log", service.url) == 0
    out = capsys.readouterr().out
    assert "inclusion: verified" in out and out.rstrip().endswith("verified")

    document["receipt"]["row"]["action"] = "reject-all"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document), encoding="utf-8")
    assert _verify(str(tampered), "--log", service.url) == 1
    assert "not verified" in capsys.readouterr().out


@pytest.mark.parametrize("lang", LANGS)
def test_a_failed_download_is_announced(context: Any, service: Service, lang: str) -> None:
    page = context.new_page()
    page.route("**/v1/sites/demo/receipt", lambda route: route.fulfill(status=503, body="{}"))
    _settings_after_accept(page, service.url, lang)
    dialog(page).get_by_role("button", name=RECEIPT[lang], exact=True).click()
    status = page.get_by_role("status")
    page.wait_for_function(
        "text => document.querySelector('kakor-consent').shadowRoot"
        ".querySelector('[role=status]').textContent === text",
        arg=FAILED[lang],
    )
    assert status.text_content() == FAILED[lang]


def test_no_receipt_button_before_a_decision(context: Any, service: Service) -> None:
    page = context.new_page()
    open_banner(page, service.url, "sv")
    button(page, "sv", "settings").click()
    dialog(page).get_by_role("switch").first.wait_for()
    assert dialog(page).get_by_role("button", name=RECEIPT["sv"]).count() == 0
