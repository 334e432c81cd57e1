"""No raw address and no full User-Agent are kept (C20)."""

from __future__ import annotations

import pytest

from consent_service.consent.privacy import browser_family, minimise_ip


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


# 192.0.2.33 inside IPv6 addresses, each minimised as that IPv4 address would be.
EMBEDDED = {
    "IPv4-mapped": "::ffff:192.0.2.33",
    "IPv4-compatible": "::192.0.2.33",
    "6to4": "2002:c000:221:7::1",
    "Teredo (server 65.54.227.120, client port 40000)": "2001:0:4136:e378:8000:63bf:3fff:fdde",
    "NAT64 well-known prefix": "64:ff9b::c000:221",
    "zone id": "::ffff:192.0.2.33%eth0",
}


@pytest.mark.parametrize("address", EMBEDDED.values(), ids=EMBEDDED.keys())
def test_c20_an_embedded_ipv4_address_is_cut_as_ipv4(address: str) -> None:
    """C20: a 6to4 /48 would keep all of 192.0.2.33; every embedding keeps its /24 only."""
    assert minimise_ip(address) == "192.0.2.0/24"
    key = b"k" * 32
    assert minimise_ip(address, mode="hash", key=key) == minimise_ip(
        "192.0.2.33", mode="hash", key=key
    )


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("::1", "::/48"),
        ("::", "::/48"),
        ("fe80::1%eth0", "fe80::/48"),
        ("2001:db8:1::%eth0", "2001:db8:1::/48"),
        ("2001:db8::1%", ""),
        ("[2001:db8::1]", ""),
        ("64:ff9b:1:c000:221::", "64:ff9b:1::/48"),
        ("2001:1::1", "2001:1::/48"),
        (" 192.0.2.33\n", "192.0.2.0/24"),
        ("192.0.2.33:443", ""),
        ("192.0.2.033", ""),
    ],
)
def test_c20_other_forms_stay_ipv6_or_give_nothing(address: str, kept: str) -> None:
    """C20: loopback, zone ids, local-use NAT64 and non-addresses never give a full address."""
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
