"""The Open Cookie Database copy: the pinned file, name matching, lifetimes, and updating it."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from consent_service.cli.main import main
from consent_service.gating.cookiedb.database import (
    BUNDLED,
    DATA,
    CookieDatabase,
    CookieDbError,
    KnownCookie,
    site_lifetime,
)
from consent_service.gating.cookiedb.update import update_database

HEADER = (
    "ID,Platform,Category,Cookie / Data Key name,Domain,Description,Retention period,"
    "Data Controller,User Privacy & GDPR Rights Portals,Wildcard match\n"
)
SMALL = HEADER + (
    "1,Google Analytics,Analytics,_ga,,ID used to identify users,2 years,Google,https://g/,0\n"
    "2,Google Analytics,Analytics,_ga_,,ID used to identify users,2 years,Google,https://g/,1\n"
    '3,Matomo,Analytics,_pk_id,"",Visitor ID,13 months,Matomo,https://m/,1\n'
    "4,Example,Marketing,_pk_id.special,,Not Matomo's,1 day,Ex,,0\n"
)


def known(database: CookieDatabase, name: str) -> KnownCookie:
    """The row ``name`` matches (the test fails if none does)."""
    row = database.match(name)
    assert row is not None, name
    return row


#: A month end: the update's note is dated by the command line's clock.
MONTH_END = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)


def test_the_pinned_copy_ships_with_its_licence_and_source() -> None:
    database = CookieDatabase.load()
    assert len(database) == 2264
    assert database.source["commit"] == "0ee5a17fe1cb002943f89370d24fc26a4226061c"
    assert database.source["sha256"] == hashlib.sha256(BUNDLED.read_bytes()).hexdigest()
    licence = (DATA / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0" in licence
    assert known(database, "_ga").platform == "Google Analytics"
    # The longest prefix wins: Piwik's "_pk_ses." over Matomo's "_pk_ses".
    assert known(database, "_pk_ses.1.a1b2").name == "_pk_ses."
    assert known(database, "_pk_ses").platform == "Matomo"


def test_exact_names_win_then_the_longest_prefix() -> None:
    database = CookieDatabase.parse(SMALL)
    assert known(database, "_ga").wildcard is False
    assert known(database, "_ga_XYZ123").pattern() == "_ga_*"
    assert known(database, "_pk_id.1.abcd").platform == "Matomo"
    assert known(database, "_pk_id.special").platform == "Example"
    assert database.match("_gax") is None  # "_ga" is exact, not a prefix
    assert database.match("consent") is None


@pytest.mark.parametrize(
    ("retention", "lifetime"),
    [
        ("Session", "session"),
        ("end of session (browser)", "session"),
        ("13 months", "13mo"),
        ("2 years", "2y"),
        ("1 year", "1y"),
        ("90 Days", "90d"),
        ("2 weeks", "14d"),
        ("30 minutes", "30min"),
        ("30 mins", "30min"),
        ("24 hours", "24h"),
        ("30 seconds", "1min"),
        ("90 seconds", "2min"),
        ("forever", None),
        ("varies", None),
        ("unknown", None),
    ],
)
def test_retention_becomes_a_site_file_lifetime_or_nothing(
    retention: str, lifetime: str | None
) -> None:
    assert site_lifetime(retention) == lifetime


def test_a_file_that_is_not_the_database_is_refused() -> None:
    with pytest.raises(CookieDbError, match="no column 'Wildcard match'"):
        CookieDatabase.parse(HEADER.replace(",Wildcard match", "") + "1,a,b,c,d,e,f,g,h\n")
    with pytest.raises(CookieDbError, match="no cookie rows"):
        CookieDatabase.parse(HEADER)


def test_an_update_from_a_file_writes_the_copy_and_where_it_came_from(tmp_path: Path) -> None:
    source = tmp_path / "new.csv"
    source.write_text(SMALL, encoding="utf-8")
    dest = tmp_path / "db" / "ocd.csv"
    done = update_database(str(source), dest, now=MONTH_END)
    assert (done.rows, done.sha256) == (4, hashlib.sha256(SMALL.encode()).hexdigest())
    assert dest.read_text(encoding="utf-8") == SMALL
    copy = CookieDatabase.load(dest)
    assert copy.source["fetched"] == "2026-11-30T23:59:59+00:00"
    assert copy.source["source"] == str(source)
    assert copy.match("_ga_1") is not None


@pytest.fixture
def csv_server() -> Iterator[str]:
    """An HTTP server answering /ocd.csv with the small database and /bad.csv with HTML."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = {"/ocd.csv": SMALL, "/bad.csv": "<html>moved</html>"}.get(self.path)
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_command_updates_from_a_url(
    csv_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "ocd.csv"
    argv = ["scan", "--update-cookie-db", f"{csv_server}/ocd.csv", "--cookie-db", str(dest)]
    assert main(argv, now=lambda: MONTH_END) == 0
    assert f"wrote {dest}: 4 cookies, sha256 " in capsys.readouterr().out
    note = json.loads((tmp_path / "ocd.csv.source.json").read_text(encoding="utf-8"))
    assert note["source"] == f"{csv_server}/ocd.csv" and note["rows"] == 4


@pytest.mark.parametrize(
    ("path", "message"),
    [("/bad.csv", "not an Open Cookie Database CSV"), ("/gone.csv", "could not fetch")],
)
def test_a_failed_update_exits_2_and_changes_nothing(
    csv_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, message: str
) -> None:
    dest = tmp_path / "ocd.csv"
    dest.write_text(SMALL, encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = ["scan", "--update-cookie-db", f"{csv_server}{path}", "--cookie-db", str(dest)]
    assert main(argv, now=lambda: MONTH_END) == 2
    assert message in capsys.readouterr().err
    assert dest.read_text(encoding="utf-8") == SMALL
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_scan_without_a_url_says_what_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan"]) == 2
    assert "scan needs a URL" in capsys.readouterr().err
