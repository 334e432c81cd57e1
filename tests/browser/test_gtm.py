"""The Google Tag Manager recipe: sdk/gtm/kakor-consent-mode.tpl beside the real widget (C17).

Google's container cannot run here (no network), so the template's sandboxed code runs
against a stub of the APIs it asks for, which keeps Consent Mode state the way GTM
documents it (an unset signal counts as granted; a listener hears each flip of its
signal; a default never undoes an update) and records every dataLayer command in order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import Service
from .helpers import button, decide, dialog

TEMPLATE = Path(__file__).resolve().parents[2] / "sdk" / "gtm" / "kakor-consent-mode.tpl"
SIGNALS = ("analytics_storage", "ad_storage", "ad_user_data", "ad_personalization")
RECIPE = "/gtm-recipe"


def sections() -> dict[str, str]:
    """The template file's ``___NAME___`` sections."""
    parts = re.split(r"^___([A-Z_]+)___$", TEMPLATE.read_text(encoding="utf-8"), flags=re.M)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


#: GTM as far as the template and the widget see it, recording the order of things.
STUB = """
window.__order = [];
const state = {}, updated = {}, listeners = [];
const granted = (t) => state[t] !== 'denied';
function consent(kind, signals) {
  const before = Object.fromEntries(listeners.map(([t]) => [t, granted(t)]));
  const values = {};
  for (const [k, v] of Object.entries(signals)) {
    if (k === 'wait_for_update' || (kind === 'default' && updated[k])) continue;
    state[k] = v; values[k] = v;
    if (kind === 'update') updated[k] = true;
  }
  __order.push(['consent', kind, values]);
  for (const [t, fn] of listeners) if (before[t] !== granted(t)) fn(t, granted(t));
}
window.dataLayer = [];
window.dataLayer.push = function (entry) {
  const a = Array.from(entry.length !== undefined && !Array.isArray(entry) ? entry : [entry]);
  if (a[0] === 'consent') consent(a[1], a[2]);
  else __order.push(['event', a[0].event, a[0].kakor_consent]);
  return Array.prototype.push.call(this, entry);
};
const api = {
  setDefaultConsentState: (s) => consent('default', s),
  addConsentListener: (t, fn) => listeners.push([t, fn]),
  isConsentGranted: granted,
  createQueue: (name) => (value) => window[name].push(value),
  callLater: (fn) => setTimeout(fn, 0),
  makeNumber: Number,
};
window.__runTemplate = (code) => new Function('require', 'data', code)(
  (name) => api[name],
  { waitForUpdate: '500', eventName: 'kakor_consent_update',
    gtmOnSuccess: () => __order.push(['tag', 'success']),
    gtmOnFailure: () => __order.push(['tag', 'failure']) });
"""


def page_html() -> str:
    """A site page: GTM's Consent Initialization first, then the deferred widget."""
    code = json.dumps(sections()["SANDBOXED_JS_FOR_WEB_TEMPLATE"])
    return (
        '<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>GTM</title>'
        f"<script>{STUB}</script><script>__runTemplate({code});</script>"
        '<script src="/v1/sites/demo/widget.js" defer></script>'
        "</head><body><p>Sidan</p></body></html>"
    )


def open_recipe(context: Any, service: Service) -> Any:
    """The recipe's page on the service's origin, its banner shown."""
    page = context.new_page()
    html = page_html()
    page.route(service.url + RECIPE, lambda r: r.fulfill(body=html, content_type="text/html"))
    page.goto(service.url + RECIPE)
    dialog(page).wait_for()
    return page


def signals(value: str, **changed: str) -> dict[str, str]:
    return {**dict.fromkeys(SIGNALS, value), **changed}


def order(page: Any) -> list[Any]:
    page.wait_for_timeout(50)  # callLater's turn
    recorded: list[Any] = page.evaluate("__order")
    return recorded


def test_the_template_file_is_well_formed() -> None:
    parts = sections()
    assert set(parts) >= {"INFO", "TEMPLATE_PARAMETERS", "SANDBOXED_JS_FOR_WEB_TEMPLATE"}
    assert json.loads(parts["INFO"])["type"] == "TAG"
    assert [p["name"] for p in json.loads(parts["TEMPLATE_PARAMETERS"])] == [
        "waitForUpdate",
        "eventName",
    ]
    permissions = {p["instance"]["key"]["publicId"] for p in json.loads(parts["WEB_PERMISSIONS"])}
    assert permissions == {"access_consent", "access_globals"}


@pytest.mark.browser
def test_c17_default_first_one_update_per_decision_one_event_per_change(
    context: Any, service: Service
) -> None:
    page = open_recipe(context, service)
    start = [
        ["consent", "default", signals("denied")],  # the template, at Consent Initialization
        ["tag", "success"],
        ["consent", "default", signals("denied")],  # the widget's own, as it starts
    ]
    assert order(page) == start
    decide(page, "sv", "accept")
    accepted = [
        ["consent", "update", signals("granted")],  # the widget: one update (C17)
        ["event", "kakor_consent_update", signals("granted")],  # the template: one event
    ]
    assert order(page) == start + accepted
    page.evaluate("kakor.show()")
    decide(page, "sv", "reject")
    rejected = [
        ["consent", "update", signals("denied")],
        ["event", "kakor_consent_update", signals("denied")],
    ]
    assert order(page) == start + accepted + rejected
    assert dialog(page).count() == 0


@pytest.mark.browser
def test_c17_a_stored_choice_is_one_update_and_one_event_on_the_next_page(
    context: Any, service: Service
) -> None:
    page = open_recipe(context, service)
    page.evaluate("kakor.show('settings')")
    dialog(page).get_by_role("switch", name="Statistik").click()
    with page.expect_response(lambda r: "/consent" in r.url):
        button(page, "sv", "save").click()
    page.goto(service.url + RECIPE)
    page.wait_for_function("() => window.kakor && kakor.get().decided")
    only_statistics = signals("denied", analytics_storage="granted")
    assert order(page) == [
        ["consent", "default", signals("denied")],
        ["tag", "success"],
        ["consent", "default", signals("denied")],
        ["consent", "update", only_statistics],  # restored from the cookie
        ["event", "kakor_consent_update", only_statistics],
    ]
