"""The manifest of an export: what a file holds, and checking a file against it.

Enough to check the file later without the database: its SHA-256, the row count, the
first and last ``seq`` and the chain head; every row is re-hashed and every link checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consent_service.admin.export.rows import ExportError, parse_file
from consent_service.audit.chain import row_hash


@dataclass
class Manifest:
    """What a file holds: enough to check it later without the database."""

    site_id: str
    format: str
    since: str | None
    until: str | None
    upto_seq: int
    rows: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    sha256: str = ""
    chain_head: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as written to ``FILE.manifest.json``."""
        return {
            "site_id": self.site_id,
            "format": self.format,
            "since": self.since,
            "until": self.until,
            "upto_seq": self.upto_seq,
            "rows": self.rows,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "sha256": self.sha256,
            "chain_head": self.chain_head,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Inverse of :meth:`to_dict`."""
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})  # type: ignore[arg-type]


def manifest_path(path: Path) -> Path:
    """Where the manifest of ``path`` is written: ``FILE.manifest.json`` next to it."""
    return path.with_name(path.name + ".manifest.json")


def check_file(path: Path, manifest: Manifest) -> list[str]:
    """Problems found in ``path`` against ``manifest``; an empty list means it checks out.

    Checked: the file's SHA-256, the row count, first and last ``seq``, the chain head,
    that every row still hashes to its ``hash``, and that consecutive rows link.
    """
    problems: list[str] = []
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    if sha.hexdigest() != manifest.sha256:
        problems.append("the file's SHA-256 does not match the manifest")
    count, first, last, previous = 0, None, None, None
    try:
        for row in parse_file(path, manifest.format):
            count += 1
            first = row.seq if first is None else first
            if row_hash(row.seq, row.prev_hash, row) != row.hash:
                problems.append(f"row seq {row.seq} does not match its hash")
            if previous is not None and row.prev_hash != previous.hash:
                problems.append(f"row seq {row.seq} does not follow row seq {previous.seq}")
            last, previous = row.seq, row
    except (ExportError, ValueError, KeyError) as exc:
        problems.append(f"the file does not parse: {exc}")
    if count != manifest.rows:
        problems.append(f"the file has {count} rows, the manifest says {manifest.rows}")
    if (first, last) != (manifest.first_seq, manifest.last_seq):
        problems.append("the first/last seq do not match the manifest")
    if (previous.hash if previous else None) != manifest.chain_head:
        problems.append("the last row's hash is not the manifest's chain head")
    return problems
