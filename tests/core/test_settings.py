"""Settings read from the environment: ``CONSENT_PUBLIC_URL`` is checked and normalised."""

from __future__ import annotations

import pytest

from consent_service.settings import Settings, SettingsError, is_loopback, parse_public_url


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("https://consent.example.se", "https://consent.example.se"),
        (" https://Consent.Example.SE/ ", "https://consent.example.se"),
        ("https://consent.example.se:443", "https://consent.example.se"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("https://www.example.se/kakor/", "https://www.example.se/kakor"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://10.0.0.5:80/a/b", "http://10.0.0.5/a/b"),
    ],
)
def test_a_public_url_is_normalised(raw: str, url: str) -> None:
    assert parse_public_url(raw) == url
    assert Settings.from_env({"CONSENT_PUBLIC_URL": raw}).public_url == url


@pytest.mark.parametrize(
    "raw",
    [
        "consent.example.se",
        "ftp://consent.example.se",
        "https://",
        "https://user:pw@consent.example.se",
        "https://consent.example.se/?a=1",
        "https://consent.example.se?",
        "https://consent.example.se/#top",
        "https://consent.example.se:99999",
        "https://consent.example.se/a b",
        'https://consent.example.se/"x',
        "https://consent example.se",
    ],
)
def test_a_bad_public_url_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="CONSENT_PUBLIC_URL"):
        Settings.from_env({"CONSENT_PUBLIC_URL": raw})
    with pytest.raises(SettingsError, match="CONSENT_PUBLIC_URL"):
        Settings(public_url=raw)


def test_unset_or_empty_is_none() -> None:
    assert Settings.from_env({}).public_url is None
    assert Settings.from_env({"CONSENT_PUBLIC_URL": " "}).public_url is None


def test_public_origin_drops_the_path() -> None:
    assert Settings(public_url="https://www.example.se:8443/kakor").public_origin == (
        "https://www.example.se:8443"
    )
    assert Settings().public_origin is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
