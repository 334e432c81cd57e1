"""The hash chain: each row hashes its content and the previous row's hash (C22).

Each site has its own chain. A row's ``hash`` is SHA-256 over its ``prev_hash``, a
newline and the canonical JSON of every other field, ``seq`` included, so an edited,
deleted or reordered row breaks the chain; a site's first row chains from
:data:`GENESIS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from consent_service.audit.canonical import canonical_json
from consent_service.audit.events import EVENT_FIELDS, AuditRow, ConsentEvent
from consent_service.audit.merkle import leaf_hash
from consent_service.audit.timefmt import format_time

GENESIS = "0" * 64


def row_content(seq: int, event: ConsentEvent | AuditRow) -> dict[str, Any]:
    """The fields a row's hash covers: every field but ``prev_hash`` and ``hash``.

    ``detail`` only when set, so rows from before it existed keep their hash.
    """
    content: dict[str, Any] = {name: getattr(event, name) for name in _AS_IS}
    content["seq"] = seq
    content["choices"] = dict(event.choices)
    content["created_at"] = format_time(event.created_at)
    if event.detail is not None:
        content["detail"] = dict(event.detail)
    return content


#: The event's fields that JSON holds as they are (text and booleans).
_AS_IS = tuple(name for name in EVENT_FIELDS if name not in ("choices", "created_at", "detail"))


def row_hash(seq: int, prev_hash: str, event: ConsentEvent | AuditRow) -> str:
    """SHA-256 of the previous hash and the canonical JSON of the row's content."""
    return _chained(prev_hash, canonical_json(row_content(seq, event)))


def _chained(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + content).hexdigest()


def row_digests(row: AuditRow) -> tuple[str, bytes]:
    """The row's chain hash (hex) and its leaf hash, from one canonical encoding."""
    content = canonical_json(row_content(row.seq, row))
    return _chained(row.prev_hash, content), leaf_hash(content)


def row_leaf(row: AuditRow) -> bytes:
    """The row's leaf hash in its site's Merkle tree: RFC 9162's ``SHA-256(0x00 || entry)``
    of the same canonical JSON its chain hash covers, so a receipt or an exported row
    gives its leaf without the rows before it."""
    return leaf_hash(canonical_json(row_content(row.seq, row)))


def link(event: ConsentEvent, seq: int, prev_hash: str, leaf_index: int = -1) -> AuditRow:
    """Give ``event`` its place in the chain after ``prev_hash`` (with its own copies)."""
    return link_leaf(event, seq, prev_hash, leaf_index)[0]


def link_leaf(
    event: ConsentEvent, seq: int, prev_hash: str, leaf_index: int
) -> tuple[AuditRow, bytes]:
    """:func:`link`, and the row's leaf hash from the same canonical bytes."""
    values = {name: getattr(event, name) for name in EVENT_FIELDS}
    values["choices"] = dict(event.choices)
    if event.detail is not None:
        values["detail"] = dict(event.detail)
    content = canonical_json(row_content(seq, event))
    chained = _chained(prev_hash, content)
    row = AuditRow(seq=seq, prev_hash=prev_hash, hash=chained, leaf_index=leaf_index, **values)
    return row, leaf_hash(content)


def chain(
    events: Iterable[ConsentEvent],
    next_seq: int,
    heads: Mapping[str, str],
    sizes: Mapping[str, int] | None = None,
    leaves: list[bytes] | None = None,
) -> list[AuditRow]:
    """Link ``events`` in order, numbering from ``next_seq``, each after its site's head."""
    events = list(events)
    seqs = range(next_seq, next_seq + len(events))
    return chain_seqs(events, seqs, heads, sizes=sizes, leaves=leaves)


def chain_seqs(
    events: Iterable[ConsentEvent],
    seqs: Iterable[int],
    heads: Mapping[str, str],
    not_before: Mapping[str, datetime] | None = None,
    sizes: Mapping[str, int] | None = None,
    leaves: list[bytes] | None = None,
) -> list[AuditRow]:
    """Link ``events`` in order with the given ascending ``seqs`` (gaps allowed).

    PostgreSQL hands out ``seq`` from a sequence, so a batch's numbers need not be
    consecutive; they only have to grow along each site's chain. ``not_before`` holds
    each site's head ``created_at``: an event stamped earlier (another replica's clock,
    or a request that waited longer) is stamped with the head's time instead, so time
    never runs backwards along a chain and a purge by time always removes a prefix.
    ``sizes`` holds each site's tree size: its next row's ``leaf_index``. ``leaves``,
    if given, receives each row's leaf hash, computed with its chain hash (the store
    grows the tree from them without encoding the row again).
    """
    current = dict(heads)
    latest = dict(not_before or {})
    next_leaf = dict(sizes or {})
    rows = []
    for event, seq in zip(events, seqs, strict=True):
        floor = latest.get(event.site_id)
        if floor is not None and event.created_at < floor:
            event = replace(event, created_at=floor)
        latest[event.site_id] = event.created_at
        leaf_index = next_leaf.get(event.site_id, 0)
        next_leaf[event.site_id] = leaf_index + 1
        row, leaf = link_leaf(event, seq, current.get(event.site_id, GENESIS), leaf_index)
        if leaves is not None:
            leaves.append(leaf)
        current[event.site_id] = row.hash
        rows.append(row)
    return rows
