"""Helpers the reliability suites share: sites with hostile texts, row counts, free ports."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

from consent_service.settings import DEMO_CONFIG

#: A second site for cross-site replay tests, and texts that try to break out of HTML.
HOSTILE = "<script>alert('x')</script>"


def two_site_config(tmp_path: Path) -> Path:
    """The demo site plus a site ``other`` (origin https://other.example) whose name is hostile."""
    demo = DEMO_CONFIG.read_text(encoding="utf-8")
    other = demo.replace("[sites.demo", "[sites.other").replace(
        'origins = ["self"]', 'origins = ["https://other.example"]'
    )
    other = other.replace('name = "Region Västmanland (demo)"', f'name = "Other {HOSTILE}"')
    path = tmp_path / "sites.toml"
    path.write_text(demo + "\n" + other, encoding="utf-8")
    return path


def sqlite_rows(url: str) -> int:
    """Rows in the audit table of the SQLite database at ``url``, read from the file itself."""
    path = url.removeprefix("sqlite:///")
    if not Path(path).exists():
        return 0
    with sqlite3.connect(path) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM consent_events").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
