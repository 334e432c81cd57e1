"""Which pages a crawl visits, in which order: bounds, same origin, robots.txt, no repeats.

Pure, no browser: the crawl adds every link it finds and takes the next page from
here. Breadth first, so the pages closest to the start are scanned before a bound
stops the crawl. Everything not visited is remembered with the reason, for the report.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from consent_service.gating.scan.observation import origin_of

#: The user-agent token robots.txt rules are read for (``*`` applies when none names it).
ROBOTS_AGENT = "kakor-scan"
#: Links to files a browser would download or show raw, not pages: never visited.
_NOT_PAGES = (
    ".pdf", ".zip", ".gz", ".tar", ".rar", ".7z", ".doc", ".docx", ".xls", ".xlsx",
    ".ppt", ".pptx", ".odt", ".ods", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg",
    ".ico", ".mp3", ".mp4", ".webm", ".mov", ".avi", ".css", ".js", ".json", ".xml",
    ".txt", ".csv", ".ics", ".exe", ".dmg",
)  # fmt: skip


@dataclass(frozen=True)
class Bounds:
    """How far a crawl goes and how long it waits."""

    #: Pages scanned at most (each in three phases).
    max_pages: int = 50
    #: Links followed from a start page (0: only the start or the sitemap's pages).
    max_depth: int = 3
    #: Seconds for the whole crawl; no new page starts after that.
    max_seconds: float = 900.0
    #: Seconds of network quiet awaited before a phase takes stock (late trackers).
    settle: float = 2.0
    #: Seconds a page may take to load.
    timeout: float = 30.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the report."""
        return asdict(self)


def normalise(url: str) -> str | None:
    """``url`` without its fragment, host lowercased, ``/`` for an empty path; None if not http(s)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))


class Frontier:
    """The queue of pages to visit: breadth first, same origin, robots.txt honoured, once each."""

    def __init__(self, origins: set[str], robots: RobotFileParser | None, max_depth: int) -> None:
        self.origins = set(origins)
        self.robots = robots
        self.max_depth = max_depth
        #: URL prefixes never visited, with the reason (the consent service's own pages).
        self.excluded: dict[str, str] = {}
        self._queue: deque[tuple[str, int, str | None]] = deque()
        self._known: set[str] = set()
        #: Every URL not visited, with why: off-origin, robots.txt, depth, not a page, excluded.
        self.skipped: dict[str, str] = {}

    def add(self, url: str, depth: int, found_on: str | None = None) -> bool:
        """Queue ``url`` (found on ``found_on``) if the crawl may visit it; True when queued."""
        clean = normalise(url)
        if clean is None or clean in self._known:
            return False
        self._known.add(clean)
        reason = self._refusal(clean, depth)
        if reason:
            self.skipped[clean] = reason
            return False
        self._queue.append((clean, depth, found_on))
        return True

    def _refusal(self, url: str, depth: int) -> str | None:
        if origin_of(url) not in self.origins:
            return "another origin (the crawl stays on the site's own)"
        for prefix, reason in self.excluded.items():
            if url.startswith(prefix):
                return reason
        if urlsplit(url).path.lower().endswith(_NOT_PAGES):
            return "not a page (a file by its extension)"
        if self.robots is not None and not self.robots.can_fetch(ROBOTS_AGENT, url):
            return "disallowed by robots.txt"
        if depth > self.max_depth:
            return f"deeper than --max-depth {self.max_depth}"
        return None

    def pop(self) -> tuple[str, int, str | None] | None:
        """The next page to visit (URL, depth, the page it was found on), or None."""
        return self._queue.popleft() if self._queue else None

    def pending(self) -> list[str]:
        """The pages queued but not visited (when a bound stops the crawl)."""
        return [url for url, _, _ in self._queue]


def robots_from(text: str) -> RobotFileParser:
    """A robots.txt's rules, parsed."""
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    return parser
