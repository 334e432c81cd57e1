"""CSV cells made safe to open in a spreadsheet, reversibly.

:func:`neutralise` marks a cell that a spreadsheet could take for a formula, and
:func:`restore` takes the mark off again, so the rows read back are exactly the rows
stored. JSON Lines need none of this: a JSON reader never takes a string for a formula.
"""

from __future__ import annotations

import re

#: A cell that starts with one of these, or has one right after a :data:`BREAKS` character,
#: gets a ``'`` put before it. The first six are the characters that make a spreadsheet
#: read a cell as a formula (OWASP, CSV injection); ``'`` is there so that the mark can be
#: taken off again without doubt, ``"`` because a reader that splits at a break would take
#: a ``"`` there for the start of a quoted cell, with the quote's content after it.
RISKY = "=+-@\t\r'\""
#: Where a spreadsheet may start a new cell or row inside one of our cells, when it does not
#: read the file as comma-separated CSV: ``;`` is the list separator of Excel in locales
#: with a decimal comma (Swedish among them) when a ``.csv`` file is opened, TAB and the
#: line breaks split text pasted into a sheet.
BREAKS = ";\t\r\n"
_RISKY_SET = f"[{re.escape(RISKY)}]"
_AT_START = f"(?:^|(?<=[{re.escape(BREAKS)}]))"
_MARK = re.compile(f"{_AT_START}(?={_RISKY_SET})")
_UNMARK = re.compile(f"{_AT_START}'(?={_RISKY_SET})")
_RISKY_AFTER_LF = re.compile(f"\n{_RISKY_SET}")


def neutralise(text: str) -> str:
    """``text`` as a CSV cell that a spreadsheet shows as text and never runs as a formula.

    A ``'`` goes before each character of :data:`RISKY` that starts ``text`` or follows a
    character of :data:`BREAKS`; everything else is left as it is. :func:`restore` is its
    exact inverse for every string.
    """
    return _MARK.sub("'", text)


def restore(cell: str) -> str:
    """The text that :func:`neutralise` turned into ``cell``."""
    return _UNMARK.sub("", cell) if "'" in cell else cell


def safe_cells(cells: list[str]) -> list[str]:
    """``cells`` with every cell passed through :func:`neutralise`.

    The service's own rows, whose cells are all plain, are told apart with one look at
    the whole row instead of one per cell.
    """
    # Joined by LF, every cell but the first starts after an LF.
    probe = "\n".join(cells)
    if (
        probe[:1] in RISKY
        or "\t" in probe
        or ";" in probe
        or "\r" in probe
        or _RISKY_AFTER_LF.search(probe)
    ):
        return [neutralise(cell) for cell in cells]
    return cells
