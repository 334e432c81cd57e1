"""The streaming export: pages of stored rows in, file chunks out, the manifest filled in.

One chunk per page (:meth:`~consent_service.store.Store.export_pages`, about 1 MB); the
file's SHA-256 and the manifest's counts are computed while streaming, so memory stays
constant however many rows there are (C23). When the stream ends, finished or not,
``on_end`` is told what was served: the access log's entry gets the real numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import anyio

from consent_service.admin.export.manifest import Manifest
from consent_service.admin.export.pages import PageWriter
from consent_service.admin.export.rows import FORMATS, csv_header
from consent_service.audit.events import ROW_FIELDS

#: Told when the stream ends: the manifest so far, and whether the file was served whole.
OnEnd = Callable[[Manifest, bool], Awaitable[None]]
_SEQ = ROW_FIELDS.index("seq")
_HASH = ROW_FIELDS.index("hash")


class Exporter:
    """Turns pages of rows into file chunks, filling in :attr:`manifest` as it goes."""

    def __init__(self, manifest: Manifest, on_end: OnEnd | None = None) -> None:
        if manifest.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        self.manifest = manifest
        self._on_end = on_end
        self._sha = hashlib.sha256()

    async def chunks(
        self, pages: AsyncIterator[Sequence[Sequence[Any]]]
    ) -> AsyncGenerator[bytes, None]:
        """The file's bytes; ``pages`` come from ``export_pages`` with the manifest's pin."""
        writer = PageWriter(self.manifest.format)
        whole = False
        try:
            if self.manifest.format == "csv":
                yield self._emit(csv_header())
            async for page in pages:
                data = self._emit(writer.text(page))
                self._count(page)
                yield data
            whole = True
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()
            self.manifest.sha256 = self._sha.hexdigest()
            if self._on_end is not None:
                # A client that went away cancels the stream; what it was sent is still
                # written down.
                with anyio.CancelScope(shield=True):
                    await self._on_end(self.manifest, whole)

    def _count(self, page: Sequence[Sequence[Any]]) -> None:
        m = self.manifest
        m.rows += len(page)
        if m.first_seq is None:
            m.first_seq = int(page[0][_SEQ])
        m.last_seq = int(page[-1][_SEQ])
        m.chain_head = page[-1][_HASH]

    def _emit(self, text: str) -> bytes:
        data = text.encode("utf-8")
        self._sha.update(data)
        return data
