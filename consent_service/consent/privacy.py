"""Minimise what the service keeps about a visitor (C20).

The raw IP address and the full User-Agent never reach the store: an address is cut
to its network (IPv4 /24, IPv6 /48, an IPv4 address inside an IPv6 one as IPv4) or
replaced by a keyed hash, and a User-Agent is reduced to a coarse ``Browser/OS`` family
from a small fixed vocabulary.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re


def minimise_ip(address: str | None, *, mode: str = "truncate", key: bytes | None = None) -> str:
    """``192.0.2.0/24``, ``2001:db8:1::/48``, or ``h:<keyed hash>``; ``""`` when unknown.

    An IPv6 address that carries a client's IPv4 address (IPv4-mapped or -compatible,
    6to4, Teredo, NAT64's well-known prefix) is minimised as that IPv4 address, so one
    visitor gives one value whichever way their packets came: a /48 of a 6to4 address
    would keep the whole IPv4 address. Zone ids are dropped; anything that is not an
    address gives ``""``.
    """
    if not address:
        return ""
    if mode == "truncate":
        fast = _ipv4_network(address)
        if fast:
            return fast
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.strip())
    except ValueError:
        return ""
    if ip.version == 6:
        ip = _embedded_ipv4(int(ip)) or ip
    if mode == "hash":
        if not key:
            raise ValueError("ip_mode 'hash' needs CONSENT_IP_HASH_KEY")
        return "h:" + hmac.new(key, ip.packed, hashlib.sha256).hexdigest()[:24]
    if ip.version == 4:
        number = int(ip)
        return f"{number >> 24}.{number >> 16 & 255}.{number >> 8 & 255}.0/24"
    # Built from the number, not the text: the zone id (``%eth0``) never reaches the row.
    return f"{ipaddress.IPv6Address(int(ip) >> 80 << 80)}/48"


def _embedded_ipv4(number: int) -> ipaddress.IPv4Address | None:
    """The client's IPv4 address inside an IPv6 address, if it carries one.

    Not here: NAT64's local-use ``64:ff9b:1::/48`` and other network-specific prefixes,
    where the operator picks where the IPv4 address sits (RFC 6052); their /48 holds at
    most 16 bits of it, less than a /24 does.
    """
    if number >> 96 == 0x2001_0000:  # Teredo: the client's address, bits inverted, at the end
        return ipaddress.IPv4Address(~number & 0xFFFF_FFFF)
    if number >> 112 == 0x2002:  # 6to4: the site's address in bits 16-47
        return ipaddress.IPv4Address(number >> 80 & 0xFFFF_FFFF)
    high = number >> 32
    # ``::ffff:a.b.c.d``, ``64:ff9b::a.b.c.d`` and ``::a.b.c.d``; the last without
    # 0.0.0.0/8, so that ``::`` and ``::1`` stay IPv6.
    if high in _LAST_32_BITS_PREFIXES or (high == 0 and number >> 24):
        return ipaddress.IPv4Address(number & 0xFFFF_FFFF)
    return None


# The first 96 bits of IPv4-mapped addresses and of NAT64's well-known prefix (RFC 6052).
_LAST_32_BITS_PREFIXES = frozenset({0xFFFF, 0x64_FF9B << 64})


def _ipv4_network(address: str) -> str:
    """The /24 of a plain dotted-quad IPv4 address, cheaply; "" for anything else."""
    match = _DOTTED_QUAD.fullmatch(address)
    return "" if match is None else f"{match[1]}.{match[2]}.{match[3]}.0/24"


# 0-255 in ASCII digits without a leading zero, as the ipaddress module accepts them.
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(r"\.".join([_OCTET] * 4))


_BROWSERS = (
    ("edg/", "Edge"),
    ("edga/", "Edge"),
    ("edgios/", "Edge"),
    ("opr/", "Opera"),
    ("samsungbrowser/", "Samsung"),
    ("firefox/", "Firefox"),
    ("fxios/", "Firefox"),
    ("crios/", "Chrome"),
    ("chromium/", "Chromium"),
    ("chrome/", "Chrome"),
    ("safari/", "Safari"),
)
_SYSTEMS = (
    ("android", "Android"),
    ("iphone", "iOS"),
    ("ipad", "iOS"),
    ("windows", "Windows"),
    ("cros", "ChromeOS"),
    ("mac os x", "macOS"),
    ("macintosh", "macOS"),
    ("linux", "Linux"),
)
_BOTS = ("bot", "crawler", "spider", "curl/", "python-", "httpx", "wget/")


def browser_family(user_agent: str | None) -> str:
    """A coarse ``Browser/OS`` label such as ``Firefox/Linux``; never the full string."""
    if not user_agent:
        return "Unknown/Unknown"
    return _family(user_agent[:512])


@functools.lru_cache(maxsize=2048)
def _family(user_agent: str) -> str:
    # Cached: a site sees a few hundred distinct User-Agents, and the cache keeps
    # nothing but what the process already holds for the duration of a request.
    ua = user_agent.lower()
    if any(b in ua for b in _BOTS):
        return "Bot/Unknown"
    browser = next((name for needle, name in _BROWSERS if needle in ua), "Other")
    system = next((name for needle, name in _SYSTEMS if needle in ua), "Other")
    return f"{browser}/{system}"
