"""The ``consent_events`` columns, read from :data:`~consent_service.audit.events.STORED_FIELDS`.

Both dialects name the columns as the :class:`~consent_service.audit.events.AuditRow`
dataclass names its fields, in the same order, so the column list, the values an
``INSERT`` binds and the row a ``SELECT`` returns are all derived from that one list.
Only four fields are stored in another form than they are held: ``choices`` and
``detail`` as JSON text, ``gpc`` as an integer on SQLite, and ``created_at`` as text on
SQLite (``timestamptz`` on PostgreSQL).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from consent_service.audit.events import ROW_FIELDS, STORED_FIELDS, AuditRow
from consent_service.audit.timefmt import format_time, parse_time
from consent_service.store.records import choices_json

#: The columns of ``consent_events``, for ``SELECT`` and ``INSERT`` lists.
COLUMNS = ", ".join(STORED_FIELDS)
#: The columns an export reads (:meth:`~consent_service.store.Store.export_pages`): the
#: exported fields, :data:`~consent_service.audit.events.ROW_FIELDS`, whatever else a row
#: holds. On SQLite, ``created_at`` is already text in ``format_time``'s shape.
EXPORT_COLUMNS = ", ".join(ROW_FIELDS)
#: :data:`EXPORT_COLUMNS` on PostgreSQL: ``created_at`` as the text
#: :func:`~consent_service.audit.timefmt.format_time` writes, made by the database, as
#: SQLite stores it; so an export page holds the same values on both stores. asyncpg
#: stores ``datetime.min`` and ``datetime.max`` as ``-infinity`` and ``infinity`` (and
#: reads them back as those), which ``to_char`` would turn into NULL.
EXPORT_COLUMNS_TIMESTAMPTZ = EXPORT_COLUMNS.replace(
    "created_at",
    "CASE created_at WHEN '-infinity' THEN '0001-01-01T00:00:00.000000Z' "
    "WHEN 'infinity' THEN '9999-12-31T23:59:59.999999Z' "
    """ELSE to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') """
    "END AS created_at",
)

#: The PostgreSQL type of each column: JSON is kept as text, as on SQLite.
POSTGRES_TYPES = tuple(
    {"int": "bigint", "bool": "boolean", "datetime": "timestamptz"}.get(str(f.type), "text")
    for f in dataclasses.fields(AuditRow)
)
#: PostgreSQL's insert of rows from :func:`column_arrays`, one array parameter a column.
UNNEST_INSERT = (
    f"INSERT INTO consent_events ({COLUMNS}) SELECT * FROM unnest("
    + ", ".join(f"${i}::{t}[]" for i, t in enumerate(POSTGRES_TYPES, 1))
    + ")"
)

_CHOICES = STORED_FIELDS.index("choices")
_GPC = STORED_FIELDS.index("gpc")
_CREATED_AT = STORED_FIELDS.index("created_at")
_DETAIL = STORED_FIELDS.index("detail")


def detail_json(detail: Mapping[str, Any]) -> str:
    """How a mapping of facts (a row's ``detail``, an access-log line's) is stored."""
    return json.dumps(dict(detail), ensure_ascii=False, separators=(",", ":"))


def stored_time(moment: datetime, text_time: bool) -> Any:
    """``moment`` as the store binds it: text where ``text_time`` (SQLite), else as is."""
    return format_time(moment) if text_time else moment


def read_time(value: Any, text_time: bool) -> datetime:
    """Inverse of :func:`stored_time`: an aware UTC datetime."""
    return parse_time(value) if text_time else value.astimezone(UTC)


def _binder(name: str, forms: Mapping[str, str], doc: str) -> Callable[[AuditRow], tuple[Any, ...]]:
    """A function giving a row's values in column order, the fields in ``forms`` converted.

    Its source is generated from :data:`STORED_FIELDS`, as :mod:`dataclasses` generates
    ``__init__``: the append path calls it for every row, and ``row.field`` in compiled
    code is a direct slot read, several times cheaper than ``getattr`` or
    ``operator.attrgetter`` by name.
    """
    values = ", ".join(forms.get(f, "{0}").format(f"row.{f}") for f in STORED_FIELDS)
    namespace: dict[str, Any] = {
        "choices_json": choices_json,
        "detail_json": detail_json,
        "format_time": format_time,
    }
    exec(f"def {name}(row):\n    return ({values})\n", namespace)  # noqa: S102 - field names only
    binder: Callable[[AuditRow], tuple[Any, ...]] = namespace[name]
    binder.__doc__ = doc
    return binder


_JSON_FORMS = {
    "choices": "choices_json({0})",
    "detail": "None if {0} is None else detail_json({0})",
}
sqlite_values = _binder(
    "sqlite_values",
    {**_JSON_FORMS, "gpc": "int({0})", "created_at": "format_time({0})"},
    """``row``'s values in column order, as SQLite binds them.

    SQLite has no time or boolean type: ``created_at`` is bound as text and ``gpc`` as
    an exact int (a bool would store as 0 or 1 too, but through sqlite3's adapter
    lookup, a failed attribute lookup per value).
    """,
)
_postgres_values = _binder(
    "postgres_values", _JSON_FORMS, "``row``'s values in column order, as asyncpg binds them."
)


def column_arrays(rows: Sequence[AuditRow]) -> list[list[Any]]:
    """One list per column, as PostgreSQL's ``unnest`` turns them back into ``rows``."""
    if not rows:
        return [[] for _ in STORED_FIELDS]
    return [list(column) for column in zip(*map(_postgres_values, rows), strict=True)]


def audit_row(raw: Sequence[Any], *, text_time: bool) -> AuditRow:
    """An :class:`AuditRow` from a ``consent_events`` row selected as :data:`COLUMNS`."""
    values = list(raw)
    values[_CHOICES] = json.loads(values[_CHOICES])
    values[_GPC] = bool(values[_GPC])
    values[_CREATED_AT] = read_time(values[_CREATED_AT], text_time)
    detail = values[_DETAIL]
    if detail is not None:
        values[_DETAIL] = json.loads(detail)
    return AuditRow(*values)
