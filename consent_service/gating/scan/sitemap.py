"""Sitemaps (sitemaps.org 0.9): a ``<urlset>`` of pages or a ``<sitemapindex>`` of sitemaps.

Pure parsing, no network. The crawl fetches each sitemap and hands the bytes here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from consent_service.gating.scan.errors import ScanError

#: A sitemap holds at most 50,000 URLs and 50 MB (sitemaps.org); refuse bigger input.
MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap: ``index`` is True for a sitemap index, whose ``locations`` are sitemaps."""

    index: bool
    locations: tuple[str, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def looks_like_sitemap(url: str) -> bool:
    """Whether a start URL names a sitemap rather than a page (its path ends in ``.xml``)."""
    path = url.split("#", 1)[0].split("?", 1)[0]
    return path.lower().endswith(".xml")


def parse_sitemap(data: bytes, where: str) -> Sitemap:
    """The page or sitemap URLs in ``data``; :class:`ScanError` when it is not a sitemap."""
    if len(data) > MAX_BYTES:
        raise ScanError(f"{where}: larger than a sitemap may be (50 MB)")
    try:
        # The site's own file. Python's expat refuses entity expansion attacks (billion
        # laughs) and never fetches external entities, so the stdlib parser is safe here.
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:
        raise ScanError(f"{where}: not XML ({exc})") from None
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise ScanError(f"{where}: not a sitemap (<{kind}> instead of <urlset> or <sitemapindex>)")
    child = "url" if kind == "urlset" else "sitemap"
    found = []
    for entry in root:
        if _local(entry.tag) != child:
            continue
        for part in entry:
            if _local(part.tag) == "loc" and part.text and part.text.strip():
                found.append(part.text.strip())
    return Sitemap(index=kind == "sitemapindex", locations=tuple(dict.fromkeys(found)))
