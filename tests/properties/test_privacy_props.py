"""Properties of address minimisation (C20): no stored value keeps a full address.

The oracles are the ``ipaddress`` module's own readings of an IPv6 address
(``ipv4_mapped``, ``sixtofour``, ``teredo``), not the bit arithmetic of the code under test.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address

from hypothesis import given
from hypothesis import strategies as st

from consent_service.consent.privacy import minimise_ip

from .strategies import PROPERTY

KEY = b"property-key-0123456789abcdef012"

#: Any IPv6 address, with the ranges that carry an IPv4 address drawn often enough.
ipv6_addresses = st.one_of(
    st.ip_addresses(v=6),
    *(
        st.ip_addresses(network=network)
        for network in (
            "::ffff:0:0/96",
            "::/96",
            "2002::/16",
            "2001::/32",
            "64:ff9b::/96",
            "64:ff9b:1::/48",
        )
    ),
)


def _embeddings(ip: IPv4Address, rest: int) -> dict[str, IPv6Address]:
    """``ip`` inside each IPv6 form that carries an IPv4 address; ``rest`` fills the other bits."""
    n = int(ip)
    forms = {
        "IPv4-mapped": IPv6Address(0xFFFF << 32 | n),
        "6to4": IPv6Address(0x2002 << 112 | n << 80 | rest & (1 << 80) - 1),
        # Teredo: server address, flags and port in the middle, the client's address inverted.
        "Teredo": IPv6Address(0x2001_0000 << 96 | (rest & (1 << 64) - 1) << 32 | n ^ 0xFFFF_FFFF),
        "NAT64": IPv6Address(0x64_FF9B << 96 | n),
    }
    if n >> 24:  # ``::`` and ``::1`` are not IPv4-compatible addresses
        forms["IPv4-compatible"] = IPv6Address(n)
    return forms


def _carried_ipv4(ip: IPv6Address) -> tuple[IPv4Address, int] | None:
    """The IPv4 address ``ip`` carries per the ``ipaddress`` module, and its shift in ``ip``."""
    if ip.teredo is not None:
        return ip.teredo[1], 0
    if ip.sixtofour is not None:
        return ip.sixtofour, 80
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, 0
    if ip in ipaddress.ip_network("64:ff9b::/96") or (int(ip) >> 32 == 0 and int(ip) >> 24):
        return IPv4Address(int(ip) & 0xFFFF_FFFF), 0
    return None


@PROPERTY
@given(ip=st.ip_addresses(v=4), rest=st.integers(0, (1 << 80) - 1))
def test_c20_each_embedding_stores_what_the_ipv4_address_stores(ip: IPv4Address, rest: int) -> None:
    """C20: one visitor, one value: mapped, compatible, 6to4, Teredo or NAT64 as plain IPv4."""
    plain = minimise_ip(str(ip))
    hashed = minimise_ip(str(ip), mode="hash", key=KEY)
    for form, address in _embeddings(ip, rest).items():
        assert minimise_ip(str(address)) == plain, form
        assert minimise_ip(str(address), mode="hash", key=KEY) == hashed, form


@PROPERTY
@given(ip=st.ip_addresses(v=4), last=st.integers(0, 255), rest=st.integers(0, (1 << 80) - 1))
def test_c20_no_embedding_keeps_the_fourth_octet(ip: IPv4Address, last: int, rest: int) -> None:
    """C20: the stored value is the same whatever the fourth octet of the embedded address."""
    other = IPv4Address(int(ip) & ~0xFF | last)
    for form, address in _embeddings(ip, rest).items():
        stored = minimise_ip(str(address))
        assert stored == minimise_ip(str(_embeddings(other, rest)[form])), form
        assert stored.endswith(".0/24"), form


@PROPERTY
@given(ip=ipv6_addresses)
def test_c20_any_ipv6_address_keeps_its_48_or_the_24_of_its_ipv4(ip: IPv6Address) -> None:
    """C20: a /48 that holds the address, or the /24 of the IPv4 address it carries."""
    stored = minimise_ip(str(ip))
    carried = _carried_ipv4(ip)
    if carried is None:
        network = ipaddress.ip_network(stored)
        assert network.prefixlen == 48 and ip in network
        return
    embedded, shift = carried
    assert stored == minimise_ip(str(embedded))
    # Another fourth octet of the carried address gives the same value: it is not kept.
    assert minimise_ip(str(IPv6Address(int(ip) ^ 0xFF << shift))) == stored


@PROPERTY
@given(ip=ipv6_addresses, zone=st.from_regex(r"\A[A-Za-z0-9]{1,8}\Z"))
def test_c20_a_zone_id_is_never_stored(ip: IPv6Address, zone: str) -> None:
    """C20: ``fe80::1%eth0`` is minimised as ``fe80::1``; the zone goes nowhere."""
    assert minimise_ip(f"{ip}%{zone}") == minimise_ip(str(ip))
