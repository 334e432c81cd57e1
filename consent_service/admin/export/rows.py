"""A row in an export file: a CSV record or a JSON line, and read back from one.

Both follow :data:`~consent_service.audit.events.ROW_FIELDS`. CSV cells go through
:func:`~.cells.safe_cells`, and reading undoes it; JSON lines are written as stored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from consent_service.admin.export.cells import restore, safe_cells
from consent_service.audit.canonical import compact_json
from consent_service.audit.events import ROW_FIELDS, AuditRow
from consent_service.audit.timefmt import format_time, parse_time

FORMATS = ("csv", "jsonl")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class ExportError(ValueError):
    """A file does not parse as an export, or does not match its manifest."""


def json_text(value: Any) -> str:
    """``value`` as compact JSON, non-ASCII as is: how a JSON cell or line is written."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def choices_text(choices: Mapping[str, Any]) -> str:
    """``choices`` as compact JSON in its own order, the bytes ``_json`` writes.

    The service's rows hold only booleans, which :func:`compact_json` writes as ``json``
    does; anything else, in a row edited in the database, goes through ``json`` itself,
    whose numbers orjson would write differently (or, past 64 bits, refuse).
    """
    for value in choices.values():
        if type(value) is not bool:
            return json_text(dict(choices))
    return compact_json(dict(choices))


def csv_values(row: AuditRow) -> list[str]:
    """One row's CSV cells in :data:`ROW_FIELDS` order (JSON for ``choices``/``detail``).

    The cells go through :func:`~.cells.safe_cells`, so a spreadsheet never runs one.
    """
    return safe_cells(
        [
            str(row.seq),
            row.event_id,
            row.site_id,
            row.consent_id,
            row.action,
            choices_text(row.choices),
            row.policy_version,
            row.texts_hash,
            row.language,
            row.widget_version,
            row.page,
            row.ip,
            row.browser,
            "true" if row.gpc else "false",
            format_time(row.created_at),
            row.prev_hash,
            row.hash,
            "" if row.detail is None else json_text(dict(row.detail)),
        ]
    )


def json_line(row: AuditRow) -> str:
    """One row as a JSON line: the fields of :meth:`AuditRow.to_dict`, in the same order."""
    values = {
        "seq": row.seq,
        "event_id": row.event_id,
        "site_id": row.site_id,
        "consent_id": row.consent_id,
        "action": row.action,
        "choices": dict(row.choices),
        "policy_version": row.policy_version,
        "texts_hash": row.texts_hash,
        "language": row.language,
        "widget_version": row.widget_version,
        "page": row.page,
        "ip": row.ip,
        "browser": row.browser,
        "gpc": row.gpc,
        "created_at": format_time(row.created_at),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
        "detail": None if row.detail is None else dict(row.detail),
    }
    return json_text(values) + "\n"


def csv_header() -> str:
    """The CSV header line."""
    return ",".join(ROW_FIELDS) + "\r\n"


def parse_csv(lines: Iterable[str]) -> Iterator[AuditRow]:
    """Rows back from an exported CSV file (each cell put through :func:`restore`)."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(header) != ROW_FIELDS:
        raise ExportError("the CSV header is not an export header")
    for record in reader:
        if len(record) != len(ROW_FIELDS):
            raise ExportError(f"a CSV record has {len(record)} fields, not {len(ROW_FIELDS)}")
        cells = [restore(cell) for cell in record]
        yield _from_fields(dict(zip(ROW_FIELDS, cells, strict=True)), csv_text=True)


def parse_jsonl(lines: Iterable[str]) -> Iterator[AuditRow]:
    """Rows back from an exported JSON Lines file."""
    for line in lines:
        if line.strip():
            yield _from_fields(json.loads(line), csv_text=False)


def _from_fields(data: Mapping[str, Any], *, csv_text: bool) -> AuditRow:
    def parsed(name: str) -> Any:
        value = data[name]
        if csv_text and name in ("choices", "detail"):
            return json.loads(value) if value else None
        return value

    gpc = data["gpc"]
    return AuditRow(
        seq=int(data["seq"]),
        event_id=data["event_id"],
        site_id=data["site_id"],
        consent_id=data["consent_id"],
        action=data["action"],
        choices=parsed("choices"),
        policy_version=data["policy_version"],
        texts_hash=data["texts_hash"],
        language=data["language"],
        widget_version=data["widget_version"],
        page=data["page"],
        ip=data["ip"],
        browser=data["browser"],
        gpc=(gpc == "true") if csv_text else bool(gpc),
        created_at=parse_time(data["created_at"]),
        prev_hash=data["prev_hash"],
        hash=data["hash"],
        detail=parsed("detail"),
    )


def parse_file(path: Path, fmt: str) -> Iterator[AuditRow]:
    """Rows of an export file on disk, read line by line."""
    with path.open(encoding="utf-8", newline="") as handle:
        yield from (parse_csv(handle) if fmt == "csv" else parse_jsonl(handle))
