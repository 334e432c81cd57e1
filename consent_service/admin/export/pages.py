"""Pages of stored rows as export text: CSV records or JSON lines, a page at a time.

The bytes are exactly those :func:`~.rows.csv_values` (through the csv module) and
:func:`~.rows.json_line` give; only the way there differs. A page is *plain* when no
plain-text cell of it (every column but ``seq``, ``choices``, ``gpc``, ``created_at``,
``detail``) needs anything done to it — no formula start, break, comma or quote for CSV,
no quote, backslash or control character for JSON — and every ``created_at`` already has
:func:`~consent_service.audit.timefmt.format_time`'s shape. Every page of the service's
own rows is plain: it is written with one f-string per row, its stored texts as
they are, the JSON cells (``choices``, ``detail``) from a memo keyed by their stored
text (a site's rows share a handful of them). Any other page goes row by row through
:class:`~consent_service.audit.events.AuditRow`, the general way.

Why not the csv module for plain pages: its writer costs ~8.7 µs a row of ~455
characters here (it looks at every character), the plain way ~4 µs a row for the test
and the lines together (``docs/performance.md``, *Export*).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from consent_service.admin.export.cells import RISKY, neutralise
from consent_service.admin.export.rows import choices_text, csv_values, json_line, json_text
from consent_service.audit.events import ROW_FIELDS
from consent_service.store.columns import audit_row

#: Columns whose stored text is the exported text itself, on a plain page.
_PLAIN = tuple(
    i
    for i, name in enumerate(ROW_FIELDS)
    if name not in ("seq", "choices", "gpc", "created_at", "detail")
)
_plain_cells = itemgetter(*_PLAIN)
_CREATED_AT = ROW_FIELDS.index("created_at")
#: ``created_at`` cells joined by LF, each in format_time's shape (ASCII digits only).
_TIMES = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\n)*")
_RISKY_AFTER_LF = re.compile(f"\n[{re.escape(RISKY)}]")
#: The ASCII characters ``json.dumps`` writes as escapes.
_JSON_ESCAPED = bytes(range(0x20)) + b'"\\'
#: Distinct JSON cells remembered; past this the memo starts again (constant memory).
_MEMO_SIZE = 4096


def csv_cell(text: str) -> str:
    """``text`` as the csv module writes it in a record (quoted only when it must be)."""
    out = io.StringIO()
    csv.writer(out).writerow([text, ""])  # a second cell: a lone empty cell is written '""'
    return out.getvalue()[: -len(",\r\n")]


class _Memo(dict[Any, str]):
    """Export cells by stored text, each computed once by ``cell``."""

    def __init__(self, cell: Callable[[Any], str]) -> None:
        super().__init__()
        self._cell = cell

    def __missing__(self, stored: Any) -> str:
        if len(self) >= _MEMO_SIZE:
            self.clear()
        value = self[stored] = self._cell(stored)
        return value


def _joined(page: Sequence[Sequence[Any]], sep: str) -> str | None:
    """The plain-text cells of ``page`` joined by ``sep``; None if one is not text."""
    try:
        return sep.join(chain.from_iterable(map(_plain_cells, page)))
    except TypeError:
        return None


def _times_plain(page: Sequence[Sequence[Any]]) -> bool:
    try:
        times = "\n".join([raw[_CREATED_AT] for raw in page]) + "\n"
    except TypeError:
        return False
    return _TIMES.fullmatch(times) is not None


def _csv_plain(page: Sequence[Sequence[Any]]) -> bool:
    """No cell of ``page`` is to be marked (:func:`~.cells.safe_cells`) or quoted."""
    probe = _joined(page, "\n")
    if probe is None or probe.count("\n") != len(page) * len(_PLAIN) - 1:
        return False  # not text, or an LF inside a cell
    # Each cell starts at the probe's start or after an LF (as in safe_cells).
    risky = probe[:1] in RISKY or _RISKY_AFTER_LF.search(probe) is not None
    special = ";" in probe or "\t" in probe or "\r" in probe or "," in probe or '"' in probe
    return not risky and not special and _times_plain(page)


def _json_plain(page: Sequence[Sequence[Any]]) -> bool:
    """No cell of ``page`` is one that ``json.dumps`` would escape."""
    probe = _joined(page, "")
    if probe is None:
        return False
    if probe.isascii():
        # Deleting what JSON escapes and comparing lengths: a quarter of the time of
        # isprintable() on the service's (ASCII) rows, ~8 % of a JSONL export.
        data = probe.encode("ascii")
        plain = len(data.translate(None, _JSON_ESCAPED)) == len(data)
    else:
        # Control characters are not printable; what else is not (some spaces,
        # unassigned code points) only sends the page the general way.
        plain = probe.isprintable() and '"' not in probe and "\\" not in probe
    return plain and _times_plain(page)


def _csv_choices(stored: str) -> str:
    return csv_cell(neutralise(choices_text(json.loads(stored))))


def _csv_detail(stored: str | None) -> str:
    return "" if stored is None else csv_cell(neutralise(json_text(dict(json.loads(stored)))))


def _json_choices(stored: str) -> str:
    return json_text(dict(json.loads(stored)))


def _json_detail(stored: str | None) -> str:
    return "null" if stored is None else json_text(dict(json.loads(stored)))


class PageWriter:
    """Turns pages from :meth:`~consent_service.store.Store.export_pages` into file text."""

    def __init__(self, fmt: str) -> None:
        self._csv = fmt == "csv"
        self._choices = _Memo(_csv_choices if self._csv else _json_choices)
        self._detail = _Memo(_csv_detail if self._csv else _json_detail)

    def text(self, page: Sequence[Sequence[Any]]) -> str:
        """``page``'s rows as CSV records or JSON lines."""
        if self._csv:
            return self._csv_lines(page) if _csv_plain(page) else _csv_general(page)
        return self._json_lines(page) if _json_plain(page) else _json_general(page)

    # The names in both are ROW_FIELDS in order (the tests hold each way to the same
    # bytes). f-strings, not one %-template from ROW_FIELDS: a quarter less time for a
    # CSV line, almost half for a JSON line, ~6 % and ~12 % of the export
    # (docs/performance.md, *Export*).
    # fmt: off
    def _csv_lines(self, page: Sequence[Sequence[Any]]) -> str:
        choices, detail = self._choices, self._detail
        return "".join([
            f"{seq},{eid},{site},{cid},{act},{choices[ch]},{pv},{th},{lang},{wv},{url},{ip},"
            f"{br},{'true' if gpc else 'false'},{at},{prev},{hash_},{detail[dt]}\r\n"
            for seq, eid, site, cid, act, ch, pv, th, lang, wv, url, ip, br, gpc, at, prev,
                hash_, dt in page
        ])

    def _json_lines(self, page: Sequence[Sequence[Any]]) -> str:
        choices, detail = self._choices, self._detail
        return "".join([
            f'{{"seq":{seq},"event_id":"{eid}","site_id":"{site}","consent_id":"{cid}",'
            f'"action":"{act}","choices":{choices[ch]},"policy_version":"{pv}",'
            f'"texts_hash":"{th}","language":"{lang}","widget_version":"{wv}","page":"{url}",'
            f'"ip":"{ip}","browser":"{br}","gpc":{"true" if gpc else "false"},'
            f'"created_at":"{at}","prev_hash":"{prev}","hash":"{hash_}","detail":{detail[dt]}}}\n'
            for seq, eid, site, cid, act, ch, pv, th, lang, wv, url, ip, br, gpc, at, prev,
                hash_, dt in page
        ])
    # fmt: on


def _csv_general(page: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(csv_values(audit_row(raw, text_time=True)) for raw in page)
    return out.getvalue()


def _json_general(page: Sequence[Sequence[Any]]) -> str:
    return "".join([json_line(audit_row(raw, text_time=True)) for raw in page])
