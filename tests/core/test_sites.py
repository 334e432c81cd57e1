"""The config loader accepts the demo and refuses invalid files, naming the key (C2, C3)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from consent_service.settings import DEMO_CONFIG
from consent_service.sites import ConfigError, load_sites, parse_sites


def demo_doc() -> dict[str, Any]:
    with DEMO_CONFIG.open("rb") as f:
        return tomllib.load(f)


def test_demo_config_loads_with_three_categories() -> None:
    site = load_sites(DEMO_CONFIG).get("demo")
    assert site.category_ids == ("necessary", "statistics", "third-party")
    assert site.required_ids == ("necessary",)
    assert site.languages == ("sv", "en")
    assert site.texts["sv"]["title"] == "Godkänn vårt användande av kakor (cookies)"
    assert site.texts["sv"]["reject_all"] == "Neka alla"


def _broken(mutate: Any) -> str:
    doc = copy.deepcopy(demo_doc())
    mutate(doc["sites"]["demo"])
    with pytest.raises(ConfigError) as info:
        parse_sites(doc)
    return str(info.value)


def test_c2_cookie_without_lifetime_is_refused() -> None:
    message = _broken(lambda s: s["categories"][1]["services"][0]["cookies"][0].pop("lifetime"))
    assert message.startswith("sites.demo.categories[1].services[0].cookies[0].lifetime")
    assert "C2" in message


def test_c2_cookie_without_purpose_is_refused() -> None:
    message = _broken(lambda s: s["categories"][1]["services"][0]["cookies"][0].pop("purpose"))
    assert "cookies[0].purpose" in message and "C2" in message


def test_c2_purpose_missing_in_one_language_is_refused() -> None:
    message = _broken(
        lambda s: s["categories"][1]["services"][0]["cookies"][0]["purpose"].pop("en")
    )
    assert message.endswith("purpose.en: missing or empty text")


def test_c3_legitimate_interest_is_refused() -> None:
    def mutate(site: dict[str, Any]) -> None:
        site["categories"][1]["legal_basis"] = "legitimate-interest"

    message = _broken(mutate)
    assert "categories[1].legal_basis" in message and "C3" in message


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda s: s.pop("policy_version"), "sites.demo.policy_version: missing"),
        (lambda s: s.update(policy_version="x" * 30), "sites.demo.policy_version"),
        (lambda s: s.update(consent_lifetime_days=30), "sites.demo.consent_lifetime_days"),
        (lambda s: s.update(origins=["not an origin"]), "sites.demo.origins"),
        (lambda s: s.update(rate_limit="many"), "sites.demo.rate_limit: must be an integer"),
        (lambda s: s.update(colour="red"), "sites.demo.colour: unknown key"),
        (lambda s: s["texts"]["en"].pop("reject_all"), "sites.demo.texts.en.reject_all"),
        (lambda s: s["categories"].pop(0), "a category with id 'necessary'"),
        (lambda s: s["categories"][1].update(required="yes"), "categories[1].required"),
        (
            lambda s: s["google_consent_mode"].update(ad_storage="marketing"),
            "google_consent_mode.ad_storage: no category 'marketing'",
        ),
        (
            lambda s: s["categories"][2]["services"][0].update(id="matomo"),
            "service 'matomo' is listed twice",
        ),
        (
            lambda s: s["categories"][1]["services"][0]["cookies"][0].update(lifetime="forever"),
            "lifetime: 'forever'",
        ),
    ],
)
def test_invalid_config_names_key_and_problem(mutate: Any, key: str) -> None:
    assert key in _broken(mutate)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sites.demo\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_sites(bad)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_sites(tmp_path / "absent.toml")


def test_texts_hash_differs_per_language_and_changes_with_text() -> None:
    doc = demo_doc()
    site = parse_sites(doc).get("demo")
    assert site.texts_hash("sv") != site.texts_hash("en")
    doc["sites"]["demo"]["texts"]["sv"]["title"] += "!"
    assert parse_sites(doc).get("demo").texts_hash("sv") != site.texts_hash("sv")
    assert parse_sites(doc).get("demo").texts_hash("en") == site.texts_hash("en")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("policy_version", "2026-11-01\n"),
        ("cookie_name", "consent\n"),
        ("origins", ["https://www.example.se\n"]),
    ],
)
def test_a_pattern_matches_the_whole_value_not_up_to_a_newline(field: str, value: Any) -> None:
    """A value that only a trailing newline stops from matching is refused: it would be
    stored, hashed and compared with that newline."""
    message = _broken(lambda s: s.__setitem__(field, value))
    assert message.startswith(f"sites.demo.{field}")


def test_a_scan_schedule_is_read_with_its_bounds() -> None:
    doc = copy.deepcopy(demo_doc())
    doc["sites"]["demo"]["scan"] = {"start": "https://www.example.se/sitemap.xml"}
    plan = parse_sites(doc).get("demo").scan
    assert plan is not None
    assert (plan.every_days, plan.max_pages, plan.max_minutes) == (30, 50, 15)
    doc["sites"]["demo"]["scan"] |= {"every_days": 7, "max_pages": 500, "max_minutes": 60}
    plan = parse_sites(doc).get("demo").scan
    assert plan is not None and (plan.every_days, plan.max_pages, plan.max_minutes) == (7, 500, 60)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"max_minutes": 0}, "scan.max_minutes: must be between 1 and 240, got 0"),
        ({"max_minutes": 241}, "scan.max_minutes: must be between 1 and 240, got 241"),
        ({"max_minutes": "15"}, "scan.max_minutes: must be an integer"),
        ({"max_time": 15}, "scan.max_time: unknown key"),
        ({"start": "ftp://x"}, "scan.start: the page or sitemap URL to scan from"),
    ],
)
def test_a_bad_scan_schedule_is_refused(extra: dict[str, Any], message: str) -> None:
    def mutate(site: dict[str, Any]) -> None:
        site["scan"] = {"start": "https://www.example.se/", **extra}

    assert message in _broken(mutate)
