"""The streaming export: rows in, file chunks out, the manifest filled in as they go.

Rows go out oldest first in chunks of about :data:`CHUNK_BYTES`; the file's SHA-256 and
the manifest's counts are computed while streaming, so memory stays constant however
many rows there are (C23).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import AsyncGenerator, AsyncIterator

from consent_service.admin.export.manifest import Manifest
from consent_service.admin.export.rows import FORMATS, csv_header, csv_values, json_line
from consent_service.audit.events import AuditRow

CHUNK_BYTES = 64 * 1024


class Exporter:
    """Turns rows into file chunks, filling in :attr:`manifest` as it goes."""

    def __init__(self, manifest: Manifest, chunk_bytes: int = CHUNK_BYTES) -> None:
        if manifest.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.manifest = manifest
        self._chunk_bytes = chunk_bytes
        self._sha = hashlib.sha256()

    async def chunks(self, rows: AsyncIterator[AuditRow]) -> AsyncGenerator[bytes, None]:
        """The file's bytes; rows past ``manifest.upto_seq`` are left out (the export is pinned)."""
        csv_format = self.manifest.format == "csv"
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if csv_format:
            buffer.write(csv_header())
        upto = self.manifest.upto_seq
        try:
            async for row in rows:
                if row.seq > upto:
                    break
                if csv_format:
                    writer.writerow(csv_values(row))
                else:
                    buffer.write(json_line(row))
                self._count(row)
                if buffer.tell() >= self._chunk_bytes:
                    yield self._emit(buffer)
        finally:
            aclose = getattr(rows, "aclose", None)
            if aclose is not None:
                await aclose()
        if buffer.tell():
            yield self._emit(buffer)
        self.manifest.sha256 = self._sha.hexdigest()

    def _count(self, row: AuditRow) -> None:
        m = self.manifest
        m.rows += 1
        if m.first_seq is None:
            m.first_seq = row.seq
        m.last_seq = row.seq
        m.chain_head = row.hash

    def _emit(self, buffer: io.StringIO) -> bytes:
        data = buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        self._sha.update(data)
        return data
