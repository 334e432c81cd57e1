"""An export's file text as parts, made in worker processes run by run, or page by page.

A part is a run's file bytes and what the manifest needs of them (how many rows, the
first and last ``seq``, the last row's hash). On SQLite and PostgreSQL the site's rows
up to the manifest's ``upto_seq`` are split into runs of :data:`RUN_ROWS` rows by
``seq``; each worker reads its run itself
(:func:`~consent_service.store.ranges.read_export_range`, on PostgreSQL in the
export's exported snapshot) and writes its text with its own
:class:`~consent_service.admin.export.pages.PageWriter`, so only bytes come back; this
process takes the parts in order (:func:`~consent_service.store.runpool.in_order`),
hashes and sends them. The bytes are the same either way: the writer is the same.

Why: one process spends ~8.5 µs a row reading and writing (``docs/performance.md``,
*Export*), about twice what ``sqlite3 -csv`` spends; two workers share that on two
CPUs. A short export (under :data:`~consent_service.store.runpool.PARALLEL_FROM` runs)
and ``workers=0`` read the same runs in a thread of this process; a store of another
kind is read page by page (:meth:`~consent_service.store.base.Store.export_pages`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from consent_service.admin.export.manifest import Manifest
from consent_service.admin.export.pages import PageWriter
from consent_service.audit.events import ROW_FIELDS
from consent_service.audit.timefmt import parse_time
from consent_service.store.base import Store
from consent_service.store.ranges import Period, RangeSource, open_ranges, read_export_range
from consent_service.store.runpool import bounds, in_order

#: Rows per run: ~9 MB of CSV text, so the runs in flight (two per worker) stay a few
#: tens of MB; big enough that a run's query and hand-over are under 1 % of its work.
RUN_ROWS = 10_000
_SEQ = ROW_FIELDS.index("seq")
_HASH = ROW_FIELDS.index("hash")
#: Each process's writer per format: its memo of JSON cells lasts from run to run (its
#: cells depend only on their key, so threads may share it).
_WRITERS: dict[str, PageWriter] = {}


@dataclass(frozen=True)
class Part:
    """A run's (or a page's) file bytes and the manifest's view of them."""

    data: bytes
    rows: int
    first_seq: int | None = None
    last_seq: int | None = None
    chain_head: str | None = None


def page_part(writer: PageWriter, page: Sequence[Sequence[Any]]) -> Part:
    """``page``'s rows as file bytes (an empty page: no bytes, no rows)."""
    if not page:
        return Part(b"", 0)
    data = writer.text(page).encode("utf-8")
    return Part(data, len(page), int(page[0][_SEQ]), int(page[-1][_SEQ]), page[-1][_HASH])


def run_part(source: RangeSource, lo: int, hi: int, fmt: str, period: Period) -> Part:
    """The export's rows with ``lo < seq <= hi`` as file bytes (in a worker process)."""
    writer = _WRITERS.get(fmt) or _WRITERS.setdefault(fmt, PageWriter(fmt))
    parts = [page_part(writer, page) for page in read_export_range(source, lo, hi, period)]
    if not parts:
        return Part(b"", 0)
    data = b"".join([part.data for part in parts])
    rows = sum(part.rows for part in parts)
    return Part(data, rows, parts[0].first_seq, parts[-1].last_seq, parts[-1].chain_head)


def period_of(manifest: Manifest) -> Period:
    """The manifest's ``[since, until)`` as datetimes."""
    return Period(
        parse_time(manifest.since) if manifest.since else None,
        parse_time(manifest.until) if manifest.until else None,
    )


async def export_parts(
    store: Store, manifest: Manifest, *, workers: int | None = None, run_rows: int | None = None
) -> AsyncIterator[Part]:
    """The parts of ``manifest``'s export, oldest first (``workers``: as ``in_order``'s;
    ``run_rows``: :data:`RUN_ROWS` unless told)."""
    period = period_of(manifest)
    run_rows = RUN_ROWS if run_rows is None else run_rows
    async with open_ranges(store, manifest.site_id) as ranges:
        if ranges is not None:
            upto, start = min(manifest.upto_seq, await ranges.last_seq()), 0
            if period != Period():
                span = await ranges.span(period, upto)
                if span is None:
                    return
                start, upto = span
            work = partial(_run_part_at, ranges.source, manifest.format, period)
            parts = in_order(bounds(ranges, upto, run_rows, start), work, workers)
            try:
                async for _, _, part in parts:
                    if part.rows:
                        yield part
            finally:
                await parts.aclose()
            return
    writer = PageWriter(manifest.format)
    pages = store.export_pages(
        site_id=manifest.site_id,
        since=period.since,
        until=period.until,
        upto_seq=manifest.upto_seq,
    )
    try:
        async for page in pages:
            yield page_part(writer, page)
    finally:
        aclose = getattr(pages, "aclose", None)
        if aclose is not None:
            await aclose()


def _run_part_at(source: RangeSource, fmt: str, period: Period, lo: int, hi: int) -> Part:
    return run_part(source, lo, hi, fmt, period)
