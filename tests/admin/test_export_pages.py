"""Pages of stored rows as export text: the plain way and the general way give the same bytes.

The reference is the row-by-row writer (``csv_values`` through the csv module, and
``json_line``), which defines the file; every page here is checked against it.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import hashlib
import io
import json
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.admin.export import pages
from consent_service.admin.export.manifest import Manifest
from consent_service.admin.export.pages import PageWriter, csv_cell
from consent_service.admin.export.rows import csv_header, csv_values, json_line
from consent_service.admin.export.runs import Part, page_part
from consent_service.admin.export.stream import Exporter
from consent_service.audit.chain import GENESIS, chain
from consent_service.audit.events import ROW_FIELDS, AuditRow, ConsentEvent
from consent_service.cli.main import main
from consent_service.store import open_store
from consent_service.store.columns import sqlite_values

from ..core.helpers import event
from .conftest import bearer

#: Cells that the general way must take: each needs a mark, quotes or JSON escapes.
AWKWARD = [
    "=1+1",
    "-2",
    "a;@b",
    "a,b",
    'say "hi"',
    "line\nbreak",
    "line\n=break",
    "tab\there",
    "cr\rhere",
    "back\\slash",
    "bell\x07",
    "del\x7f",
    "nbsp\xa0",
    "sep\u2028",
    "'=quoted",
    "",
]


def _rows(count: int, **fields: Any) -> list[AuditRow]:
    made = []
    for n in range(count):
        e = event("demo", n)
        e.created_at = datetime(2026, 11, 1, 12, 0, n % 60, n * 7919 % 1_000_000, tzinfo=UTC)
        made.append(dataclasses.replace(e, **fields))
    return chain(made, 1, {"demo": GENESIS})


def _reference(rows: Sequence[AuditRow], fmt: str) -> str:
    if fmt == "jsonl":
        return "".join(json_line(row) for row in rows)
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(csv_values(row))
    return out.getvalue()


def _stored(rows: Sequence[AuditRow]) -> list[tuple[Any, ...]]:
    """The rows as SQLite stores them, the exported columns only (what ``export_pages`` gives)."""
    names = [f.name for f in dataclasses.fields(AuditRow)]
    stored = [dict(zip(names, sqlite_values(row), strict=True)) for row in rows]
    return [tuple(values[name] for name in ROW_FIELDS) for values in stored]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_page_of_the_services_own_rows_is_plain_and_exact(fmt: str) -> None:
    rows = _rows(50)
    rows[3] = dataclasses.replace(rows[3], detail={"note": 'a, "b"; c', "n": 1})
    rows[4] = dataclasses.replace(rows[4], choices={"necessary": True, "x;=y": False})
    page = _stored(rows)
    plain = pages._csv_plain(page) if fmt == "csv" else pages._json_plain(page)
    assert plain  # JSON cells do not make a page general: they come from the memo
    assert PageWriter(fmt).text(page) == _reference(rows, fmt)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("field", ["consent_id", "widget_version", "page", "browser", "hash"])
@pytest.mark.parametrize("value", AWKWARD)
def test_an_awkward_cell_anywhere_gives_the_reference_bytes(
    fmt: str, field: str, value: str
) -> None:
    rows = _rows(5)
    changes: dict[str, Any] = {field: value}
    rows[2] = dataclasses.replace(rows[2], **changes)
    writer = PageWriter(fmt)
    assert writer.text(_stored(rows)) == _reference(rows, fmt)
    assert writer.text(_stored(rows[3:])) == _reference(rows[3:], fmt)  # plain again after


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_time_not_in_format_times_shape_takes_the_general_way(fmt: str) -> None:
    page = _stored(_rows(3))
    odd = list(page[1])
    odd[14] = "2026-11-01T12:00:01.000001+00:00"[:27]  # 27 characters, not ending in Z
    page[1] = tuple(odd)
    with pytest.raises(ValueError, match="format_time"):
        PageWriter(fmt).text(page)  # as the row-by-row way always did


def test_csv_cell_is_what_the_csv_module_writes() -> None:
    for text in [*AWKWARD, "plain", '{"a":true}']:
        out = io.StringIO()
        csv.writer(out).writerow(["x", text, "y"])
        assert out.getvalue() == f"x,{csv_cell(text)},y\r\n"


async def _parts_of(page_list: list[list[tuple[Any, ...]]], fmt: str) -> AsyncIterator[Part]:
    writer = PageWriter(fmt)  # one writer for the whole file, as a worker has
    for page in page_list:
        yield page_part(writer, page)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_hostile_rows_across_page_boundaries_stream_the_reference_file(fmt: str) -> None:
    rows = _rows(30)
    for n, value in zip((9, 10, 19, 29), AWKWARD, strict=False):
        rows[n] = dataclasses.replace(rows[n], widget_version=value)
    stored = _stored(rows)
    split = [stored[i : i + 10] for i in range(0, 30, 10)]  # hostile rows at both edges
    ended: list[tuple[Manifest, bool]] = []

    async def on_end(manifest: Manifest, whole: bool) -> None:
        ended.append((manifest, whole))

    async def go() -> bytes:
        exporter = Exporter(Manifest("demo", fmt, None, None, 30), on_end=on_end)
        return b"".join([chunk async for chunk in exporter.chunks(_parts_of(split, fmt))])

    data = asyncio.run(go())
    header = csv_header() if fmt == "csv" else ""
    assert data.decode("utf-8") == header + _reference(rows, fmt)
    [(manifest, whole)] = ended
    assert whole is True
    assert (manifest.rows, manifest.first_seq, manifest.last_seq) == (30, 1, 30)
    assert manifest.chain_head == rows[-1].hash
    assert manifest.sha256 == hashlib.sha256(data).hexdigest()


def test_a_stream_closed_early_still_tells_what_was_served() -> None:
    stored = _stored(_rows(20))
    ended: list[tuple[int, str, bool]] = []

    async def on_end(manifest: Manifest, whole: bool) -> None:
        ended.append((manifest.rows, manifest.sha256, whole))

    async def go() -> bytes:
        exporter = Exporter(Manifest("demo", "jsonl", None, None, 20), on_end=on_end)
        chunks = exporter.chunks(_parts_of([stored[:10], stored[10:]], "jsonl"))
        first = await anext(chunks)
        await chunks.aclose()
        return first

    first = asyncio.run(go())
    assert ended == [(10, hashlib.sha256(first).hexdigest(), False)]


def _append(database_url: str, events: list[ConsentEvent]) -> list[AuditRow]:
    async def go() -> list[AuditRow]:
        store = open_store(database_url)
        await store.open()
        try:
            await store.migrate()
            return await store.append(events)
        finally:
            await store.close()

    return asyncio.run(go())


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_access_log_entry_of_an_export_has_its_real_rows_and_sha256(
    fmt: str,
    admin_client: TestClient,
    make_token: Callable[..., str],
    database_url: str,
) -> None:
    token = make_token("demo")
    _append(database_url, [event("demo", n) for n in range(5)])
    answer = admin_client.get(f"/admin/v1/sites/demo/consents?format={fmt}", headers=bearer(token))
    upto = answer.headers["kakor-upto-seq"]
    manifest = admin_client.get(
        f"/admin/v1/sites/demo/consents/manifest?format={fmt}&upto_seq={upto}",
        headers=bearer(token),
    ).json()
    log = admin_client.get("/admin/v1/sites/demo/access-log", headers=bearer(token)).json()
    exported, manifested = (entry["detail"] for entry in log["entries"])
    given = {name: value for name, value in manifest.items() if value is not None}
    assert exported == {**given, "complete": True}
    assert manifested == exported
    assert exported["rows"] == 5
    assert exported["sha256"] == hashlib.sha256(answer.content).hexdigest()


def test_export_pages_gives_times_as_format_time_writes_them_on_every_store(
    database_url: str,
) -> None:
    moments = [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2028, 2, 29, 12, 0, 0, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    made = []
    for n, moment in enumerate(moments):
        e = event("demo", n)
        e.created_at = moment
        made.append(e)
    stored = _append(database_url, [*made, event("other", 9), event("demo", 10)])

    async def go() -> list[list[Any]]:
        store = open_store(database_url)
        await store.open()
        try:
            upto = stored[5].seq  # the pin: the last row is left out, and "other"'s
            return [
                [list(raw) for raw in page]
                async for page in store.export_pages(site_id="demo", upto_seq=upto, page_size=2)
            ]
        finally:
            await store.close()

    got = asyncio.run(go())
    assert [len(page) for page in got] == [2, 2, 1]
    rows = [raw for page in got for raw in page]
    assert [raw[14] for raw in rows] == [r[14] for r in _stored(stored[:5])]
    assert PageWriter("csv").text(rows) == _reference(stored[:5], "csv")


def test_the_cli_exports_access_log_entry_has_the_files_rows_and_sha256(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _append(database_url, [event("demo", n) for n in range(4)])
    out = tmp_path / "demo.jsonl"
    assert main(["export", "--site", "demo", "--output", str(out), "--database", database_url]) == 0
    capsys.readouterr()
    assert main(["access-log", "--database", database_url]) == 0
    [entry] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    detail = entry["detail"]
    assert (detail["rows"], detail["output"], detail["complete"]) == (4, str(out), True)
    assert detail["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
