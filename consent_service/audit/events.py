"""Consent events, and the audit rows they become: one field list for every use.

:class:`AuditRow`'s fields, in order, are the audit row of the contract (DESIGN.md):
the store's columns and parameters, the export's CSV columns and JSON members, and the
content the row hash covers are all read from :data:`ROW_FIELDS`, never written out
again by hand. :class:`ConsentEvent` is the same without the place in the chain
(``seq``, ``prev_hash``, ``hash``). Rows are only ever appended (C19).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consent_service.audit.timefmt import format_time

#: ``action`` of the row a purge appends: it records what was removed (C21).
CHECKPOINT = "checkpoint"
#: ``action`` (and ``consent_id``) of the row that records a scan of the site.
SCAN = "scan"


def new_event_id() -> str:
    """A unique event ID that sorts by creation: 48 bits of milliseconds and 80 random bits, hex.

    The audit table keeps a UNIQUE index on ``event_id``. A random ID lands on a random
    page of that index with every insert; a time-ordered one appends at its right edge
    (why UUIDv7 and ULID exist), which makes an insert and its commit markedly cheaper.
    """
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


@dataclass(slots=True)
class ConsentEvent:
    """One consent event before it has a place in the chain.

    ``choices`` has every category of the site, explicit; ``ip`` and ``browser`` are
    already minimised; ``created_at`` is UTC server time.
    """

    site_id: str
    consent_id: str
    action: str
    choices: Mapping[str, bool]
    policy_version: str
    texts_hash: str
    language: str
    widget_version: str
    page: str
    ip: str
    browser: str
    gpc: bool
    created_at: datetime
    event_id: str = field(default_factory=new_event_id)
    #: Extra facts of a non-consent row (a purge checkpoint); None for consent events.
    detail: Mapping[str, Any] | None = None


@dataclass(slots=True)
class AuditRow:
    """A stored event: the event plus its place in the chain. Never mutated once built."""

    seq: int
    event_id: str
    site_id: str
    consent_id: str
    action: str
    choices: Mapping[str, bool]
    policy_version: str
    texts_hash: str
    language: str
    widget_version: str
    page: str
    ip: str
    browser: str
    gpc: bool
    created_at: datetime
    prev_hash: str
    hash: str
    #: See :attr:`ConsentEvent.detail`; hashed only when not None, so older rows keep their hash.
    detail: Mapping[str, Any] | None = None
    #: The row's place among its site's leaves of the Merkle tree (0 for the first row
    #: ever appended, purged ones counted): where its inclusion proof starts. Not hashed:
    #: the leaf *is* the row's hash content, and verify checks the place from the order.
    #: Rows compare without it, as exports (which leave it out) read them back.
    leaf_index: int = field(default=-1, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, in :data:`ROW_FIELDS` order."""
        return {name: json_value(name, getattr(self, name)) for name in ROW_FIELDS}


#: The store's columns of a row, in order: the row and its ``leaf_index``.
STORED_FIELDS = tuple(f.name for f in dataclasses.fields(AuditRow))
#: The fields of a row as the contract's audit row, the exports and the API list them:
#: all but ``leaf_index``, which a row's place in the export already gives.
ROW_FIELDS = tuple(name for name in STORED_FIELDS if name != "leaf_index")
#: The fields of an event (what a row holds but its place in the chain).
EVENT_FIELDS = tuple(f.name for f in dataclasses.fields(ConsentEvent))


def json_value(name: str, value: Any) -> Any:
    """Field ``name``'s value as JSON holds it: time as text, mappings as plain dicts."""
    if name == "created_at":
        return format_time(value)
    if name in ("choices", "detail") and value is not None:
        return dict(value)
    return value


def scan_event(
    site_id: str, page: str, detail: Mapping[str, Any], created_at: datetime
) -> ConsentEvent:
    """The row that records a scan of ``site_id`` from ``page``: ``detail`` is its summary.

    The summary carries the stored report's SHA-256 and id, so the signed log vouches
    for the whole report (:mod:`consent_service.gating.scan.record`).
    """
    return _service_row(site_id, SCAN, page, detail, created_at)


def _service_row(
    site_id: str, action: str, page: str, detail: Mapping[str, Any], created_at: datetime
) -> ConsentEvent:
    return ConsentEvent(
        site_id=site_id,
        consent_id=action,
        action=action,
        choices={},
        policy_version="",
        texts_hash="",
        language="",
        widget_version="",
        page=page,
        ip="",
        browser="",
        gpc=False,
        created_at=created_at,
        detail=dict(detail),
    )


def checkpoint_event(site_id: str, detail: Mapping[str, Any], created_at: datetime) -> ConsentEvent:
    """The row a purge appends to ``site_id``'s chain, recording what it removed (C21).

    ``detail`` holds ``purged_rows``, ``first_seq``, ``last_seq``, ``before`` and
    ``continued_from``: the hash of the last purged row, which the first remaining row
    names as its ``prev_hash``. :func:`~consent_service.audit.verify.anchors_from`
    turns it into a verify anchor.
    """
    return _service_row(site_id, CHECKPOINT, "", detail, created_at)
