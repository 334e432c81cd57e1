"""Minimise what the service keeps about a visitor (C20).

The raw IP address and the full User-Agent never reach the store: an address is cut
to its network (IPv4 /24, IPv6 /48) or replaced by a keyed hash, and a User-Agent
is reduced to a coarse ``Browser/OS`` family from a small fixed vocabulary.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re


def minimise_ip(address: str | None, *, mode: str = "truncate", key: bytes | None = None) -> str:
    """``192.0.2.0/24``, ``2001:db8:1::/48``, or ``h:<keyed hash>``; ``""`` when unknown."""
    if not address:
        return ""
    if mode == "truncate":
        fast = _ipv4_network(address)
        if fast:
            return fast
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if mode == "hash":
        if not key:
            raise ValueError("ip_mode 'hash' needs CONSENT_IP_HASH_KEY")
        return "h:" + hmac.new(key, ip.packed, hashlib.sha256).hexdigest()[:24]
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


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
