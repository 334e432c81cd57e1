"""The database itself: its rows, parsed from the CSV, and matching a cookie name to one.

A row's name is either exact (``_ga``) or, where the CSV's last column says
``Wildcard match = 1``, a prefix (``_ga_`` matches ``_ga_XYZ123``). An exact row wins
over a prefix, and a longer prefix over a shorter one.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
#: The pinned copy that ships with kakor.
BUNDLED = DATA / "open-cookie-database.csv"
#: The columns kakor reads; the CSV has these headers (and may gain others).
COLUMNS = {
    "platform": "Platform",
    "category": "Category",
    "name": "Cookie / Data Key name",
    "domain": "Domain",
    "description": "Description",
    "retention": "Retention period",
    "controller": "Data Controller",
    "privacy_url": "User Privacy & GDPR Rights Portals",
    "wildcard": "Wildcard match",
}


class CookieDbError(Exception):
    """The file is not an Open Cookie Database CSV (missing columns, no rows)."""


@dataclass(frozen=True)
class KnownCookie:
    """One row of the database: a cookie (or a prefix of cookie names) and what it is for."""

    name: str
    platform: str
    category: str
    domain: str
    description: str
    retention: str
    controller: str
    privacy_url: str
    wildcard: bool

    def pattern(self) -> str:
        """The name as the site file writes it: a prefix row ends in ``*``."""
        return f"{self.name}*" if self.wildcard else self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the report."""
        return {
            "name": self.name,
            "pattern": self.pattern(),
            "platform": self.platform,
            "category": self.category,
            "domain": self.domain,
            "description": self.description,
            "retention": self.retention,
            "controller": self.controller,
            "privacy_url": self.privacy_url,
        }


class CookieDatabase:
    """Known cookies, looked up by exact name first, then by the longest matching prefix."""

    def __init__(self, rows: list[KnownCookie], source: dict[str, Any] | None = None) -> None:
        self.rows = rows
        #: Where the copy came from (the ``….source.json`` beside it), when known.
        self.source = source or {}
        self._exact: dict[str, KnownCookie] = {}
        for row in rows:
            self._exact.setdefault(row.name, row)
        self._prefixes = sorted(
            (r for r in rows if r.wildcard), key=lambda r: len(r.name), reverse=True
        )

    def __len__(self) -> int:
        return len(self.rows)

    def match(self, name: str) -> KnownCookie | None:
        """The row that describes cookie ``name``, or None when the database does not know it."""
        exact = self._exact.get(name)
        if exact is not None:
            return exact
        for row in self._prefixes:
            if name.startswith(row.name):
                return row
        return None

    @classmethod
    def parse(cls, text: str, source: dict[str, Any] | None = None) -> CookieDatabase:
        """Parse the CSV text; :class:`CookieDbError` when it is not the database's format."""
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        missing = [h for h in COLUMNS.values() if h not in (reader.fieldnames or [])]
        if missing:
            raise CookieDbError(f"not an Open Cookie Database CSV: no column {missing[0]!r}")
        rows = []
        for raw in reader:
            values = {key: (raw.get(header) or "").strip() for key, header in COLUMNS.items()}
            if not values["name"]:
                continue
            rows.append(
                KnownCookie(
                    name=values["name"],
                    platform=values["platform"],
                    category=values["category"],
                    domain=values["domain"],
                    description=values["description"],
                    retention=values["retention"],
                    controller=values["controller"],
                    privacy_url=values["privacy_url"],
                    wildcard=values["wildcard"] == "1",
                )
            )
        if not rows:
            raise CookieDbError("not an Open Cookie Database CSV: no cookie rows")
        return cls(rows, source)

    @classmethod
    def load(cls, path: Path = BUNDLED) -> CookieDatabase:
        """Read the copy at ``path`` (default: the pinned one) and its source note, if any."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CookieDbError(f"cannot read {path}: {exc.strerror}") from None
        note = source_note(path)
        source = json.loads(note.read_text(encoding="utf-8")) if note.exists() else None
        return cls.parse(text, source)


def source_note(path: Path) -> Path:
    """The JSON file beside a copy that says where it came from."""
    return path.with_name(path.name + ".source.json")


_UNITS = (
    (re.compile(r"^(second|sec)s?$"), "s"),
    (re.compile(r"^(minute|min)s?$"), "min"),
    (re.compile(r"^(hour|hr)s?$"), "h"),
    (re.compile(r"^days?$"), "d"),
    (re.compile(r"^weeks?$"), "w"),
    (re.compile(r"^months?$"), "mo"),
    (re.compile(r"^years?$"), "y"),
)


def site_lifetime(retention: str) -> str | None:
    """The database's retention ("13 months", "Session") as a site-file lifetime, or None.

    None for what has no honest equivalent ("forever", "varies", "unknown"): a person
    has to find out and write it.
    """
    text = retention.strip().lower()
    if text == "session" or text.startswith("end of session"):
        return "session"
    match = re.fullmatch(r"(\d{1,4})\s*([a-z]+)", text)
    if match is None:
        return None
    n, word = int(match[1]), match[2]
    for pattern, unit in _UNITS:
        if pattern.fullmatch(word):
            # The site file has no seconds or weeks; round seconds up to a minute.
            if unit == "s":
                return "1min" if n <= 60 else f"{-(-n // 60)}min"
            if unit == "w":
                return f"{n * 7}d"
            return f"{n}{unit}"
    return None
