"""The scanner's rules, without a browser: what counts as a leak in which phase (C1, C2, C14)."""

from __future__ import annotations

import pytest

from consent_service.gating.scan.declared import Declared
from consent_service.gating.scan.leaks import analyse
from consent_service.gating.scan.observation import (
    CookieSeen,
    Observation,
    RequestSeen,
    StorageWrite,
    parse_cookie_write,
)
from consent_service.gating.scan.report import Finding
from consent_service.settings import DEMO_CONFIG
from consent_service.sites import load_sites

PAGE = "https://www.example.se"
SERVICE = "https://consent.example.se"


def demo() -> Declared:
    return Declared.from_config(load_sites(DEMO_CONFIG).get("demo").public_config(""))


def observe(
    phase: str,
    *,
    cookies: tuple[str, ...] = (),
    storage: tuple[str, ...] = (),
    origins: tuple[str, ...] = (),
) -> Observation:
    return Observation(
        phase,
        cookies=[CookieSeen(name, "www.example.se", "browser") for name in cookies],
        storage=[StorageWrite("localStorage", key, PAGE) for key in storage],
        requests=[RequestSeen(f"{o}/x.js", o, "script") for o in origins],
    )


def kinds(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.phase, f.kind, f.subject) for f in findings]


def test_the_demo_declaration() -> None:
    d = demo()
    assert d.site == "demo"
    assert d.reject_labels == ("Neka alla", "Reject all")
    assert d.accept_labels == ("Godkänn alla", "Accept all")
    assert d.cookie_category("consent") == "necessary"
    assert d.cookie_category("_pk_id") == "statistics"
    assert d.cookie_category("_ga") is None
    assert d.origins["https://player.vimeo.com"] == "third-party"
    assert d.necessary_cookie("consent")
    assert not d.necessary_cookie("_pk_ses")


def test_a_clean_run_has_no_findings() -> None:
    observations = [
        observe("before", origins=(PAGE, SERVICE)),
        observe("reject", cookies=("consent",), origins=(PAGE, SERVICE)),
        observe(
            "accept",
            cookies=("consent", "_pk_id", "_pk_ses", "VISITOR_INFO1_LIVE"),
            origins=(PAGE, "https://www.youtube-nocookie.com"),
        ),
    ]
    assert analyse(demo(), PAGE, SERVICE, observations) == []


def test_before_consent_only_necessary_things_c1() -> None:
    observations = [
        observe(
            "before",
            cookies=("consent", "_pk_id", "_ga"),
            storage=("tracker-id",),
            origins=(
                PAGE,
                SERVICE,
                "https://www.youtube-nocookie.com",
                "https://tracker.example.com",
            ),
        )
    ]
    findings = analyse(demo(), PAGE, SERVICE, observations)
    assert kinds(findings) == [
        ("before", "cookie", "cookie _pk_id (www.example.se)"),
        ("before", "cookie", "cookie _ga (www.example.se)"),
        ("before", "storage", f"localStorage 'tracker-id' ({PAGE})"),
        ("before", "request", "requests to https://www.youtube-nocookie.com"),
        ("before", "request", "requests to https://tracker.example.com"),
    ]
    assert "declared as statistics" in findings[0].detail
    assert "not declared by any service" in findings[1].detail
    assert "declared for third-party" in findings[3].detail


def test_after_refusal_is_as_strict_as_before_c14() -> None:
    findings = analyse(
        demo(),
        PAGE,
        SERVICE,
        [observe("reject", cookies=("consent", "_pk_ses"), origins=("https://player.vimeo.com",))],
    )
    assert kinds(findings) == [
        ("reject", "cookie", "cookie _pk_ses (www.example.se)"),
        ("reject", "request", "requests to https://player.vimeo.com"),
    ]
    assert "after refusal" in findings[0].detail


def test_after_accept_only_undeclared_cookies_count_c2() -> None:
    findings = analyse(
        demo(),
        PAGE,
        SERVICE,
        [
            observe(
                "accept",
                cookies=("_pk_id", "_hjid"),
                storage=("x",),
                origins=("https://a.example",),
            )
        ],
    )
    assert kinds(findings) == [("accept", "cookie", "cookie _hjid (www.example.se)")]


def test_necessary_services_may_load_before_consent() -> None:
    config = load_sites(DEMO_CONFIG).get("demo").public_config("")
    config["categories"][0]["services"][0]["origins"] = ["https://cdn.example.se"]
    config["categories"][0]["services"][0]["cookies"].append(
        {"name": "session*", "provider": "x", "purpose": {}, "lifetime": "session"}
    )
    declared = Declared.from_config(config)
    observations = [
        observe("before", cookies=("session_abc",), origins=("https://cdn.example.se",))
    ]
    assert analyse(declared, PAGE, None, observations) == []
    # Without the consent service's origin, a request to it is a finding like any other.
    assert kinds(analyse(declared, PAGE, None, [observe("before", origins=(SERVICE,))])) == [
        ("before", "request", f"requests to {SERVICE}")
    ]


def test_phases_that_did_not_run_are_not_judged() -> None:
    skipped = Observation(
        "reject", ran=False, note="no banner", cookies=[CookieSeen("_ga", "x", "browser")]
    )
    assert analyse(demo(), PAGE, SERVICE, [skipped]) == []


def test_nothing_declared_means_everything_counts() -> None:
    findings = analyse(Declared.nothing(), PAGE, None, [observe("before", cookies=("consent",))])
    assert kinds(findings) == [("before", "cookie", "cookie consent (www.example.se)")]


@pytest.mark.parametrize(
    ("write", "name"),
    [
        ("_ga=GA1.2.3; path=/; max-age=63072000", "_ga"),
        ("a=b", "a"),
        (" spaced = v ; Secure", "spaced"),
        ("_ga=; Max-Age=0; path=/", None),
        ("_ga=; expires=Thu, 01 Jan 1970 00:00:00 GMT", None),
        ("x=; max-age=-1", None),
        ("novalue", None),
    ],
)
def test_document_cookie_writes(write: str, name: str | None) -> None:
    assert parse_cookie_write(write) == name


def test_a_redirect_origin_is_first_party() -> None:
    seen = [observe("before", origins=("http://www.example.se",))]
    assert kinds(analyse(demo(), PAGE, None, seen)) == [
        ("before", "request", "requests to http://www.example.se")
    ]
    assert analyse(demo(), PAGE, None, seen, first_party=["http://www.example.se"]) == []


def test_c14_a_wildcard_origin_covers_subdomains_as_a_csp_source_does() -> None:
    """A template's ``https://*.hotjar.com`` declares script.hotjar.com, not hotjar.com
    itself, not another scheme and not a look-alike domain."""
    d = Declared(
        "x",
        {},
        {"https://*.hotjar.com": "statistics", "https://*.cdn.example.se": "necessary"},
        frozenset({"necessary"}),
        (),
        (),
    )
    assert d.origin_category("https://script.hotjar.com") == "statistics"
    assert d.origin_category("https://a.b.hotjar.com") == "statistics"
    assert d.origin_category("https://hotjar.com") is None
    assert d.origin_category("http://script.hotjar.com") is None
    assert d.origin_category("https://evilhotjar.com") is None
    assert d.necessary_origin("https://img.cdn.example.se")
    findings = analyse(
        d,
        PAGE,
        SERVICE,
        [observe("before", origins=("https://script.hotjar.com", "https://img.cdn.example.se"))],
    )
    assert [(f.subject, f.detail.split("(")[1].split(")")[0]) for f in findings] == [
        ("requests to https://script.hotjar.com", "declared for statistics")
    ]
