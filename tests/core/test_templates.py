"""Service templates: ``service = "matomo"`` pulls a bundled, validated description (C2, C7).

What the widget and the scanner do with one is shown in the browser suites
(tests/gating/test_templates_scan.py); here: that every template is a valid service,
that the site file overrides it field by field, and what it adds to the public config,
the declaration and the served widget.
"""

from __future__ import annotations

import copy
import re
import tomllib
from typing import Any

import pytest

from consent_service.gating.declaration_data import declaration_data
from consent_service.gating.declaration_html import render_page
from consent_service.settings import DEMO_CONFIG
from consent_service.sites import ConfigError, Site, parse_sites
from consent_service.sites.rules import DATA_LOCATIONS, LIFETIME
from consent_service.sites.templates import template, template_docs, template_names
from consent_service.widget.route import built_widget, render, widget_config

#: What the issue names, each with its vendor's consent calls (if it has any).
EXPECTED = {
    "matomo": ("_paq", "rememberConsentGiven"),
    "clarity": ("clarity", "consent"),
    "meta-pixel": ("fbq", "consent"),
    "youtube": None,
    "vimeo": None,
    "google-maps": None,
    "siteimprove": None,
    "readspeaker": None,
    "linkedin": None,
    "hotjar": None,
}


def demo_doc() -> dict[str, Any]:
    with DEMO_CONFIG.open("rb") as f:
        return tomllib.load(f)


def site_with(*services: dict[str, Any], languages: list[str] | None = None) -> Site:
    """The demo site with ``services`` as its statistics category's only services."""
    doc = copy.deepcopy(demo_doc())
    site = doc["sites"]["demo"]
    site["categories"][1]["services"] = list(services)
    if languages is not None:
        site["languages"] = languages
        site["texts"] = {lang: site["texts"]["sv"] for lang in languages}
        for category in site["categories"]:
            category["texts"] = {lang: category["texts"]["sv"] for lang in languages}
            for service in category["services"]:
                for cookie in service.get("cookies", []):
                    if isinstance(cookie.get("purpose"), dict):
                        cookie["purpose"] = cookie["purpose"]["sv"]
    return parse_sites(doc).get("demo")


def refused(*services: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        site_with(*services)
    return str(info.value)


def test_every_named_vendor_has_a_template() -> None:
    assert set(template_names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_c2_each_template_is_a_complete_declared_service(name: str) -> None:
    """C2: every cookie has a lifetime and a purpose in sv and en; C7: the provider,
    its origins and where the data goes are named."""
    site = site_with({"service": name})
    _, service = site.service(name) or (None, None)
    assert service is not None and service.template == name
    assert service.cookies, "a template declares the cookies the vendor sets"
    for cookie in service.cookies:
        assert LIFETIME.fullmatch(cookie.lifetime)
        assert cookie.purpose["sv"] != cookie.purpose["en"]
        assert cookie.provider.startswith(service.provider.split()[0])
    assert service.origins and all(o.startswith(("https://", "wss://")) for o in service.origins)
    assert service.data_location in DATA_LOCATIONS
    assert (template_docs(name) or "").startswith("https://")
    expected = EXPECTED[name]
    if expected is None:
        assert not service.grant and not service.deny
    else:
        target, first = expected
        grant, deny = service.grant[0], service.deny[0]
        assert (grant.target, grant.args[0]) == (target, first)
        assert deny.target == target and deny.args != grant.args


def test_the_site_file_overrides_a_template_field_by_field() -> None:
    site = site_with(
        {
            "service": "matomo",
            "id": "stats",
            "provider": "Region Västmanland",
            "origins": ["https://matomo.regionvastmanland.se"],
            "data_location": "eu",
            "cookies": [
                {"name": "_pk_id.*", "lifetime": "6mo"},
                {
                    "name": "_pk_testcookie.*",
                    "provider": "Region Västmanland",
                    "lifetime": "session",
                    "purpose": {"sv": "Testar kakor.", "en": "Tests cookies."},
                },
            ],
            "calls": {"deny": [{"push": "_paq", "args": ["optUserOut"]}]},
        }
    )
    _, service = site.service("stats") or (None, None)
    assert service is not None and service.template == "matomo"
    assert service.name == "Matomo"  # not overridden: the template's
    assert service.provider == "Region Västmanland"
    assert service.origins == ("https://matomo.regionvastmanland.se",)
    cookies = {c.name: c for c in service.cookies}
    # Merged by name: the lifetime is the site's, the purpose still the template's.
    assert cookies["_pk_id.*"].lifetime == "6mo"
    assert cookies["_pk_id.*"].purpose == template("matomo")["cookies"][0]["purpose"]
    assert cookies["_pk_ses.*"].lifetime == "30min"
    assert list(cookies)[-1] == "_pk_testcookie.*"
    # calls merge by grant / deny: the grant is the template's, the deny the site's.
    assert [c.args for c in service.grant] == [("rememberConsentGiven",)]
    assert [c.args for c in service.deny] == [("optUserOut",)]


def test_an_unknown_template_is_refused_naming_the_known_ones() -> None:
    message = refused({"service": "matomoo"})
    assert message.startswith("sites.demo.categories[1].services[0].service: no service template")
    assert "'matomoo'" in message and "matomo, meta-pixel" in message


def test_a_template_does_not_open_the_door_to_unknown_keys_or_bad_values() -> None:
    assert refused({"service": "hotjar", "colour": "red"}).endswith(".colour: unknown key")
    assert "data_location: must be one of eu, third-country" in refused(
        {"service": "hotjar", "data_location": "mars"}
    )
    assert "is not an origin like" in refused({"service": "hotjar", "origins": ["https://*"]})
    message = refused({"service": "hotjar", "cookies": [{"name": "_hjNew"}]})
    assert message.endswith("cookies[2].lifetime: missing; every cookie declares its lifetime (C2)")


@pytest.mark.parametrize(
    ("calls", "message"),
    [
        (
            {"grant": [{"call": "alert('x')"}]},
            "calls.grant[0].call: not a JavaScript global's name",
        ),
        ({"grant": [{"push": "_paq", "call": "f"}]}, "calls.grant[0]: one of push or call"),
        ({"deny": [{"call": "f", "args": [{"a": 1}]}]}, "calls.deny[0].args: a list of at most 8"),
        ({"revoke": []}, "calls.revoke: unknown key; use grant or deny"),
    ],
)
def test_bad_vendor_calls_are_refused(calls: dict[str, Any], message: str) -> None:
    assert message in refused({"service": "clarity", "calls": calls})


def test_a_template_in_a_language_it_lacks_needs_the_purpose_from_the_site() -> None:
    with pytest.raises(ConfigError) as info:
        site_with({"service": "vimeo"}, languages=["sv", "fi"])
    assert str(info.value).endswith("cookies[0].purpose.fi: missing or empty text")


def test_c7_the_declaration_says_where_each_service_processes_data() -> None:
    site = site_with({"service": "matomo"}, {"service": "meta-pixel"})
    data = declaration_data(site, "sv")
    services = {s["id"]: s for s in data["categories"][1]["services"]}
    assert services["matomo"]["data_location"] == "eu"
    assert services["matomo"]["data_location_text"] == "Uppgifterna behandlas inom EU/EES."
    assert services["meta-pixel"]["data_location"] == "third-country"
    html = render_page(site, "en")
    assert "The data may be transferred to a country outside the EU/EEA" in html
    # A hand-written service that does not say gets no sentence.
    demo = parse_sites(demo_doc()).get("demo")
    assert all(
        s["data_location"] is None
        for c in declaration_data(demo, "sv")["categories"]
        for s in c["services"]
    )
    assert "EU/EES" not in render_page(demo, "sv")


def test_the_widget_of_a_site_with_vendor_calls_carries_them_and_no_other_does() -> None:
    site = site_with({"service": "matomo"}, {"service": "youtube"})
    config = site.public_config("https://kakor.example.se")
    assert config["vendor_calls"] == [
        {
            "service": "matomo",
            "category": "statistics",
            "grant": [{"push": "_paq", "args": ["rememberConsentGiven"]}],
            "deny": [{"push": "_paq", "args": ["forgetConsentGiven"]}],
        }
    ]
    config["vendor_calls"][0]["grant"].clear()  # a caller changing its copy …
    again = site.public_config("https://kakor.example.se")
    assert again["vendor_calls"][0]["grant"] == [{"push": "_paq", "args": ["rememberConsentGiven"]}]
    config = again  # … changes no other
    body = render(built_widget(), config).decode()
    assert "vendor_calls" not in widget_config(config)
    assert body.count('"rememberConsentGiven"') == 1
    assert re.search(r"\}\)\(\[\{\"service\":\"matomo\",\"category\":\"statistics\"", body)
    demo = parse_sites(demo_doc()).get("demo").public_config("https://kakor.example.se")
    assert "vendor_calls" not in demo
    assert "vendorCalls" not in render(built_widget(), demo).decode()


def test_the_templates_command_lists_them_and_shows_one(capsys: pytest.CaptureFixture[str]) -> None:
    from consent_service.cli.main import main

    assert main(["templates"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(template_names())
    matomo = next(line for line in lines if line.startswith("matomo"))
    assert "· eu ·" in matomo and "_pk_id.*" in matomo and matomo.endswith("consent calls")
    assert main(["templates", "hotjar"]) == 0
    shown = tomllib.loads(capsys.readouterr().out)
    assert shown["origins"] == template("hotjar")["origins"]
    assert "wss://*.hotjar.com" in shown["origins"]
    assert main(["templates", "hotjarr"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no service template 'hotjarr'; known: clarity,")
