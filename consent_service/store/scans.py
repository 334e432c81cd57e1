"""Stored scan reports: the SQL both stores share for the ``scan_reports`` table.

A report is kept whole (its canonical JSON), with its SHA-256, the summary its audit
row carries, that row's ``seq`` and the log key's signature
(:mod:`consent_service.gating.scan.record` makes all of them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consent_service.audit.timefmt import format_time
from consent_service.store.columns import read_time

_COLUMNS = "id, site_id, created_at, seq, sha256, summary, signature"


@dataclass(frozen=True)
class ScanRecord:
    """One stored scan report; ``report`` (canonical JSON text) only when asked for."""

    site_id: str
    created_at: datetime
    sha256: str
    summary: Mapping[str, Any]
    signature: str
    report: str | None = None
    seq: int | None = None
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, the report (if read) as parsed JSON."""
        out: dict[str, Any] = {
            "id": self.id,
            "site_id": self.site_id,
            "created_at": format_time(self.created_at),
            "seq": self.seq,
            "sha256": self.sha256,
            "summary": dict(self.summary),
            "signature": self.signature,
        }
        if self.report is not None:
            out["report"] = json.loads(self.report)
        return out


@dataclass
class ScanReports:
    """The ``scan_reports`` queries, over a :class:`~.sql.SqlStore`'s primitives.

    ``store.scans`` is one of these: the table is a side of the store, not of the log.
    """

    store: Any = field(repr=False)  # the SqlStore; Any keeps sql.py and this free of a cycle

    async def save(self, record: ScanRecord) -> int:
        """Insert ``record``; its id."""
        assert record.report is not None, "a stored scan keeps its report"
        return int(
            await self.store._insert(
                "INSERT INTO scan_reports (site_id, created_at, seq, sha256, summary, report, "
                "signature) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    record.site_id,
                    self.store._time(record.created_at),
                    record.seq,
                    record.sha256,
                    json.dumps(dict(record.summary), sort_keys=True, separators=(",", ":")),
                    record.report,
                    record.signature,
                ),
            )
        )

    async def set_seq(self, record_id: int, seq: int) -> None:
        """Link a stored report to the audit row that records it."""
        await self.store._execute("UPDATE scan_reports SET seq = ? WHERE id = ?", (seq, record_id))

    async def newest(self, site_id: str, limit: int) -> list[ScanRecord]:
        """The site's newest ``limit`` reports, newest first, without their bodies."""
        raws = await self.store._fetch(
            f"SELECT {_COLUMNS} FROM scan_reports WHERE site_id = ? "
            f"ORDER BY id DESC LIMIT {int(limit)}",
            (site_id,),
        )
        return [self._record(raw) for raw in raws]

    async def one(self, site_id: str, record_id: int) -> ScanRecord | None:
        """One report of the site, with its body; None if there is no such report."""
        raws = await self.store._fetch(
            f"SELECT {_COLUMNS}, report FROM scan_reports WHERE site_id = ? AND id = ?",
            (site_id, record_id),
        )
        return self._record(raws[0]) if raws else None

    def _record(self, raw: Sequence[Any]) -> ScanRecord:
        return ScanRecord(
            id=int(raw[0]),
            site_id=raw[1],
            created_at=read_time(raw[2], self.store.text_time),
            seq=None if raw[3] is None else int(raw[3]),
            sha256=raw[4],
            summary=json.loads(raw[5]),
            signature=raw[6],
            report=raw[7] if len(raw) > 7 else None,
        )
