"""Properties of the CSV export: spreadsheet-safe cells, and rows read back exactly.

Every text of a row is arbitrary here, as a visitor, a bad release or an attacker with
write access to the database could make it: the file must still never hand a spreadsheet
a formula, and reading it back must still give the row that was stored, hash and all.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from consent_service.admin.export.cells import BREAKS, RISKY, neutralise, restore
from consent_service.admin.export.rows import csv_header, csv_values, parse_csv
from consent_service.audit.chain import GENESIS, chain, row_hash
from consent_service.audit.events import ROW_FIELDS, AuditRow, ConsentEvent

from .strategies import PROPERTY, consent_events

#: Texts that start with, and are full of, the characters the rule is about.
_AWKWARD = st.text(alphabet=RISKY + BREAKS + "',\"a1 {}", max_size=12)
texts = st.text(max_size=16) | _AWKWARD
_FORMULA_STARTS = tuple("=+-@\t\r")


def events() -> st.SearchStrategy[ConsentEvent]:
    """Events with awkward text in every string field."""
    return consent_events(
        texts,
        choices=st.dictionaries(texts, st.booleans(), max_size=3),
        created_at=st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
        detail=st.none() | st.dictionaries(texts, texts, max_size=2),
    )


def _csv(rows: list[AuditRow]) -> str:
    out = io.StringIO(newline="")
    out.write(csv_header())
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(csv_values(row))
    return out.getvalue()


def _starts(cell: str) -> list[str]:
    """The characters a spreadsheet could see first: the cell's, and each one after a break."""
    return [cell[i] for i in range(len(cell)) if i == 0 or cell[i - 1] in BREAKS]


@given(st.text() | _AWKWARD)
@PROPERTY
def test_restore_undoes_neutralise(text: str) -> None:
    marked = neutralise(text)
    assert restore(marked) == text
    assert all(c not in RISKY or c == "'" for c in _starts(marked))
    if all(c not in RISKY for c in _starts(text)):
        assert marked == text  # plain text is left alone


@given(st.lists(events(), min_size=1, max_size=4))
@PROPERTY
def test_csv_rows_read_back_exactly_and_still_hash(batch: list[ConsentEvent]) -> None:
    rows = chain(batch, 1, {e.site_id: GENESIS for e in batch})
    text = _csv(rows)
    back = list(parse_csv(io.StringIO(text, newline="")))
    assert back == rows
    assert all(row_hash(r.seq, r.prev_hash, r) == r.hash for r in back)


@given(st.lists(events(), min_size=1, max_size=4))
@PROPERTY
def test_no_cell_starts_a_formula_however_the_file_is_split(batch: list[ConsentEvent]) -> None:
    text = _csv(chain(batch, 1, {e.site_id: GENESIS for e in batch}))
    cells = [cell for record in csv.reader(io.StringIO(text, newline="")) for cell in record]
    assert all(c not in RISKY or c == "'" for cell in cells for c in _starts(cell))
    # A reader that splits at ";" (Excel where the decimal sign is a comma) or TAB (text
    # pasted into a sheet), and at every line break, never starts a cell with a formula.
    for delimiter in ";\t":
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            assert not any(field.startswith(_FORMULA_STARTS) for field in record), record


@given(events(), st.dictionaries(texts, st.booleans(), max_size=4))
@PROPERTY
def test_the_choices_cell_is_what_json_dumps_writes(one: ConsentEvent, choices: Any) -> None:
    # Choices written into the database by hand: the hash, which refuses integers past
    # 64 bits, is over the row as the service stored it.
    [row] = chain([one], 1, {one.site_id: GENESIS})
    row = dataclasses.replace(row, choices=choices)
    cell = restore(csv_values(row)[ROW_FIELDS.index("choices")])
    assert cell == json.dumps(choices, ensure_ascii=False, separators=(",", ":"))
