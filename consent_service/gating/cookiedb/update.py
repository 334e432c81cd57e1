"""Replacing the pinned copy: fetch or read a new CSV, check it parses, write it atomically.

``consent-service scan --update-cookie-db SOURCE`` runs this on an operator's explicit
command; the service itself never fetches it. SOURCE is a URL (the maintained file is
:data:`UPSTREAM`) or a local file. Nothing is written unless the new file parses as
the database, so a failed download leaves the old copy in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.error import URLError

from consent_service.gating.cookiedb.database import CookieDatabase, CookieDbError, source_note

#: The maintained file upstream (its default branch).
UPSTREAM = (
    "https://raw.githubusercontent.com/jkwakman/Open-Cookie-Database/master/"
    "open-cookie-database.csv"
)
#: The CSV is about half a megabyte; refuse anything absurdly larger.
MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Updated:
    """What an update wrote."""

    path: Path
    rows: int
    sha256: str


def _read(source: str, timeout: float) -> bytes:
    if source.startswith(("http://", "https://")):
        try:
            # Only http(s), checked above; the operator named the URL (S310 is about file:).
            with urllib.request.urlopen(source, timeout=timeout) as answer:  # noqa: S310
                data: bytes = answer.read(MAX_BYTES + 1)
        except (URLError, OSError) as exc:
            raise CookieDbError(f"could not fetch {source}: {exc}") from None
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise CookieDbError(f"cannot read {source}: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise CookieDbError(f"{source} is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return data


def update_database(source: str, dest: Path, *, now: datetime, timeout: float = 60.0) -> Updated:
    """Replace ``dest`` with the database at ``source`` (URL or file) and note where it came from."""
    data = _read(source, timeout)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CookieDbError(f"{source} is not UTF-8 text") from None
    database = CookieDatabase.parse(text)
    digest = hashlib.sha256(data).hexdigest()
    note = {
        "source": source,
        "fetched": now.isoformat(timespec="seconds"),
        "licence": "Apache-2.0",
        "rows": len(database),
        "sha256": digest,
    }
    dest.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(dest, data)
    _write_atomically(source_note(dest), (json.dumps(note, indent=2) + "\n").encode())
    return Updated(dest, len(database), digest)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
