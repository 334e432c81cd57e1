"""The streaming export: parts of the file in, chunks out, the manifest filled in.

One chunk per part (:func:`~.runs.export_parts`: a run of rows, about 9 MB of CSV, or a
page of them); the file's SHA-256 and the manifest's counts are computed while
streaming, so memory stays constant however many rows there are (C23). When the stream ends, finished or not,
``on_end`` is told what was served: the access log's entry gets the real numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

import anyio

from consent_service.admin.export.manifest import Manifest
from consent_service.admin.export.rows import FORMATS, csv_header
from consent_service.admin.export.runs import Part

#: Told when the stream ends: the manifest so far, and whether the file was served whole.
OnEnd = Callable[[Manifest, bool], Awaitable[None]]


class Exporter:
    """Turns pages of rows into file chunks, filling in :attr:`manifest` as it goes."""

    def __init__(self, manifest: Manifest, on_end: OnEnd | None = None) -> None:
        if manifest.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.manifest = manifest
        self._on_end = on_end
        self._sha = hashlib.sha256()

    async def chunks(self, parts: AsyncIterator[Part]) -> AsyncGenerator[bytes, None]:
        """The file's bytes; ``parts`` come from :func:`~.runs.export_parts` of the manifest."""
        whole = False
        try:
            if self.manifest.format == "csv":
                header = csv_header().encode("utf-8")
                self._sha.update(header)
                yield header
            async for part in parts:
                # hashlib lets go of the GIL: the loop sends the last chunk meanwhile.
                await anyio.to_thread.run_sync(self._sha.update, part.data)
                self._count(part)
                yield part.data
            whole = True
        finally:
            aclose = getattr(parts, "aclose", None)
            if aclose is not None:
                await aclose()
            self.manifest.sha256 = self._sha.hexdigest()
            if self._on_end is not None:
                # A client that went away cancels the stream; what it was sent is still
                # written down.
                with anyio.CancelScope(shield=True):
                    await self._on_end(self.manifest, whole)

    def _count(self, part: Part) -> None:
        m = self.manifest
        m.rows += part.rows
        if m.first_seq is None:
            m.first_seq = part.first_seq
        m.last_seq = part.last_seq
        m.chain_head = part.chain_head
