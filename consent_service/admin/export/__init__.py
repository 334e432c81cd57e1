"""Exports of audit rows as CSV or JSON Lines, streamed, with a manifest to check them later.

Rows go out oldest first, a chunk per run of stored rows (written in worker processes); the SHA-256 of the file, the row
count, the first and last ``seq`` and the chain head (the last row's ``hash``) are
computed while streaming, so memory stays constant however many rows there are (C23).
The same rows always give the same bytes, so a manifest can be recomputed and a file
can be checked against it, and its rows re-hashed, years later.

- :mod:`.cells`: the spreadsheet-safe cell rule and its inverse;
- :mod:`.rows`: a row as a CSV record or a JSON line, and back;
- :mod:`.pages`: a page of stored rows as file text, by the plain way or the general way;
- :mod:`.runs`: the file as parts, runs of rows written in worker processes, in order;
- :mod:`.manifest`: what a file holds, and checking a file against it;
- :mod:`.stream`: the :class:`~.stream.Exporter` that turns parts into chunks.
"""
