"""The audit row's columns, read from STORED_FIELDS: what each dialect binds reads back as the row."""

from __future__ import annotations

from datetime import timedelta

from consent_service.audit.chain import chain
from consent_service.audit.events import ROW_FIELDS, STORED_FIELDS, checkpoint_event
from consent_service.store.columns import COLUMNS, audit_row, column_arrays, sqlite_values
from consent_service.store.sql import numbered

from .test_store_contract import T0, make_event

ROWS = chain(
    [
        make_event(gpc=True),
        checkpoint_event("demo", {"purged_rows": 2, "continued_from": "ab" * 32}, T0),
        make_event(consent_id="c-2", at=T0 + timedelta(seconds=1)),
    ],
    1,
    {},
)


def test_the_columns_are_the_row_fields_in_order() -> None:
    assert COLUMNS.split(", ") == [*ROW_FIELDS, "leaf_index"] == list(STORED_FIELDS)


def test_what_sqlite_binds_reads_back_as_the_row() -> None:
    bound = [sqlite_values(row) for row in ROWS]
    assert all(type(raw[ROW_FIELDS.index("gpc")]) is int for raw in bound)  # never a bool
    assert [audit_row(raw, text_time=True) for raw in bound] == ROWS
    assert [audit_row(raw, text_time=True).leaf_index for raw in bound] == [0, 1, 2]


def test_what_postgresql_unnests_reads_back_as_the_row() -> None:
    arrays = column_arrays(ROWS)
    assert len(arrays) == len(STORED_FIELDS)
    back = [audit_row(raw, text_time=False) for raw in zip(*arrays, strict=True)]
    assert back == ROWS and [r.leaf_index for r in back] == [0, 1, 2]
    assert column_arrays([]) == [[] for _ in STORED_FIELDS]


def test_placeholders_are_numbered_for_postgresql() -> None:
    assert numbered("a = ? AND b IN (?, ?)") == "a = $1 AND b IN ($2, $3)"
    assert numbered("SELECT 1") == "SELECT 1"
