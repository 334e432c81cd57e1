"""No raw address and no full User-Agent are kept (C20)."""

from __future__ import annotations

import pytest

from consent_service.privacy import browser_family, minimise_ip


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("::ffff:203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:abcd:12:34::1", "2001:db8:abcd::/48"),
        ("not-an-ip", ""),
        (None, ""),
    ],
)
def test_c20_addresses_are_cut_to_their_network(address: str | None, kept: str) -> None:
    assert minimise_ip(address) == kept


def test_c20_keyed_hash_mode_hides_the_address() -> None:
    first = minimise_ip("203.0.113.77", mode="hash", key=b"k" * 32)
    assert first.startswith("h:") and "203.0.113" not in first
    assert first == minimise_ip("203.0.113.77", mode="hash", key=b"k" * 32)
    assert first != minimise_ip("203.0.113.77", mode="hash", key=b"j" * 32)
    with pytest.raises(ValueError, match="CONSENT_IP_HASH_KEY"):
        minimise_ip("203.0.113.77", mode="hash")


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        ("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "Firefox/Linux"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
            "Edge/Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Safari/iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Mobile Safari/537.36",
            "Chrome/Android",
        ),
        ("curl/8.0", "Bot/Unknown"),
        ("", "Unknown/Unknown"),
    ],
)
def test_c20_browser_is_a_coarse_family(agent: str, family: str) -> None:
    assert browser_family(agent) == family


def test_c20_fast_ipv4_path_agrees_with_the_ipaddress_module() -> None:
    import ipaddress
    import random

    rng = random.Random(7)
    for _ in range(2000):
        address = ".".join(str(rng.randrange(256)) for _ in range(4))
        expected = str(ipaddress.ip_network(f"{address}/24", strict=False))
        assert minimise_ip(address) == expected
    for odd in ("01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "１.2.3.4"):
        assert minimise_ip(odd) == ""
