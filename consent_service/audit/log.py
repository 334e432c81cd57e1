"""The audit log: consent events, the hash chain that makes tampering show, and verify.

Each site has its own chain. A row's ``hash`` is SHA-256 over its ``prev_hash`` and
the canonical JSON of every other field, ``seq`` included, so an edited, deleted or
reordered row breaks the chain (C22). Rows are only ever appended (C19).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from consent_service.consent.choices import Choices
from consent_service.consent.jsontext import BOOL, flag_members, quote, quote_ascii
from consent_service.sites import canonical_json

GENESIS = "0" * 64
#: Fields of a row in the order exports list them.
ROW_FIELDS = (
    "seq",
    "event_id",
    "site_id",
    "consent_id",
    "action",
    "choices",
    "policy_version",
    "texts_hash",
    "language",
    "widget_version",
    "page",
    "ip",
    "browser",
    "gpc",
    "created_at",
    "prev_hash",
    "hash",
    "detail",
)
#: ``action`` of the row a purge appends: it records what was removed (C21).
CHECKPOINT = "checkpoint"


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, in :data:`ROW_FIELDS` order."""
        data = {name: getattr(self, name) for name in ROW_FIELDS}
        data["choices"] = dict(self.choices)
        data["detail"] = None if self.detail is None else dict(self.detail)
        data["created_at"] = format_time(self.created_at)
        return data


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the chain."""

    rows_checked: int
    ok: bool
    first_broken_seq: int | None = None
    site_id: str | None = None
    reason: str | None = None
    heads: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as the admin API and the CLI print it."""
        return {
            "ok": self.ok,
            "rows_checked": self.rows_checked,
            "first_broken": None
            if self.ok
            else {"seq": self.first_broken_seq, "site_id": self.site_id, "reason": self.reason},
        }


def format_time(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and a ``Z``.

    A consent's time is written into its row hash, its row and its answer, one after
    the other, from the one datetime object: the texts of recently written objects are
    kept by identity (each entry holds its object, so no other object can take its
    ``id`` while the entry lasts). The text up to the second is kept per second: every
    consent given in the same second shares it, so a new moment only has its
    microseconds written.
    """
    recent = _RECENT.get(id(moment))
    if recent is not None and recent[0] is moment:
        return recent[1]
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    since = utc - _EPOCH
    second = since.days * 86400 + since.seconds
    head = _SECOND_TEXTS.get(second)
    if head is None:
        if len(_SECOND_TEXTS) >= _TEXTS_MAX:
            _SECOND_TEXTS.clear()
        # Without microseconds isoformat writes "YYYY-MM-DDTHH:MM:SS+00:00".
        head = _SECOND_TEXTS[second] = utc.replace(microsecond=0).isoformat()[:-6]
    text = f"{head}.{since.microseconds:06d}Z"
    if len(_RECENT) >= _TEXTS_MAX:
        _RECENT.clear()
    _RECENT[id(moment)] = (moment, text)
    return text


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND_TEXTS: dict[int, str] = {}
_RECENT: dict[int, tuple[datetime, str]] = {}
_TEXTS_MAX = 4096


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time` (exactly that shape: 27 characters ending in ``Z``)."""
    if len(text) != 27 or text[10] != "T" or not text.endswith("Z"):
        raise ValueError(f"not a UTC time as format_time writes it: {text!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def row_hash(seq: int, prev_hash: str, event: ConsentEvent | AuditRow) -> str:
    """SHA-256 of the previous hash and the canonical JSON of the row's content."""
    content = _content_json(seq, event)
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + content).hexdigest()


def row_content(seq: int, event: ConsentEvent | AuditRow) -> dict[str, Any]:
    """The fields a row's hash covers: every field but ``prev_hash`` and ``hash``."""
    content = {
        "seq": seq,
        "event_id": event.event_id,
        "site_id": event.site_id,
        "consent_id": event.consent_id,
        "action": event.action,
        "choices": dict(event.choices),
        "policy_version": event.policy_version,
        "texts_hash": event.texts_hash,
        "language": event.language,
        "widget_version": event.widget_version,
        "page": event.page,
        "ip": event.ip,
        "browser": event.browser,
        "gpc": event.gpc,
        "created_at": format_time(event.created_at),
    }
    if event.detail is not None:
        content["detail"] = dict(event.detail)
    return content


def _content_json(seq: int, event: ConsentEvent | AuditRow) -> bytes:
    """``canonical_json(row_content(seq, event))``, assembled directly for a consent row.

    Every row is hashed when it is written and again by every verify, so the usual
    shape (string fields, boolean choices, no ``detail``) is written out in sorted key
    order with the JSON encoder's own string escaping; anything else takes the general
    path. A property test holds the two to the same bytes.
    """
    if event.detail is None and type(seq) is int and type(event.gpc) is bool:
        try:
            choices = event.choices
            if type(choices) is Choices:
                members: str | None = choices.sorted_members
            elif all(type(value) is bool for value in choices.values()):
                members = flag_members(sorted(choices.items()))
            else:
                members = None
            if members is not None:
                return (
                    f'{{"action":{quote(event.action)},"browser":{quote(event.browser)},'
                    f'"choices":{{{members}}},"consent_id":{quote(event.consent_id)},'
                    f'"created_at":"{format_time(event.created_at)}",'
                    f'"event_id":{quote(event.event_id)},"gpc":{BOOL[event.gpc]},'
                    f'"ip":{quote(event.ip)},"language":{quote(event.language)},'
                    f'"page":{quote(event.page)},"policy_version":{quote(event.policy_version)},'
                    f'"seq":{seq},"site_id":{quote(event.site_id)},'
                    f'"texts_hash":{quote(event.texts_hash)},'
                    f'"widget_version":{quote(event.widget_version)}}}'
                ).encode()
        except TypeError:  # a field that is not a string: the general path decides
            pass
    return canonical_json(row_content(seq, event))


def link(event: ConsentEvent, seq: int, prev_hash: str) -> AuditRow:
    """Give ``event`` its place in the chain after ``prev_hash``."""
    return AuditRow(
        seq=seq,
        event_id=event.event_id,
        site_id=event.site_id,
        consent_id=event.consent_id,
        action=event.action,
        choices=_own_choices(event.choices),
        policy_version=event.policy_version,
        texts_hash=event.texts_hash,
        language=event.language,
        widget_version=event.widget_version,
        page=event.page,
        ip=event.ip,
        browser=event.browser,
        gpc=event.gpc,
        created_at=event.created_at,
        prev_hash=prev_hash,
        hash=row_hash(seq, prev_hash, event),
        detail=None if event.detail is None else dict(event.detail),
    )


def _own_choices(choices: Mapping[str, bool]) -> Mapping[str, bool]:
    """A row's own copy of ``choices``; a :class:`Choices` never changes, so it is shared."""
    return choices if type(choices) is Choices else dict(choices)


def chain(
    events: Iterable[ConsentEvent], next_seq: int, heads: Mapping[str, str]
) -> list[AuditRow]:
    """Link ``events`` in order, numbering from ``next_seq``, each after its site's head."""
    events = list(events)
    return chain_seqs(events, range(next_seq, next_seq + len(events)), heads)


def chain_seqs(
    events: Iterable[ConsentEvent],
    seqs: Iterable[int],
    heads: Mapping[str, str],
    not_before: Mapping[str, datetime] | None = None,
) -> list[AuditRow]:
    """Link ``events`` in order with the given ascending ``seqs`` (gaps allowed).

    PostgreSQL hands out ``seq`` from a sequence, so a batch's numbers need not be
    consecutive; they only have to grow along each site's chain. ``not_before`` holds
    each site's head ``created_at``: an event stamped earlier (another replica's clock,
    or a request that waited longer) is stamped with the head's time instead, so time
    never runs backwards along a chain and a purge by time always removes a prefix.
    """
    current = dict(heads)
    latest = dict(not_before or {})
    rows = []
    for event, seq in zip(events, seqs, strict=True):
        floor = latest.get(event.site_id)
        if floor is not None and event.created_at < floor:
            event = replace(event, created_at=floor)
        latest[event.site_id] = event.created_at
        row = link(event, seq, current.get(event.site_id, GENESIS))
        current[event.site_id] = row.hash
        rows.append(row)
    return rows


class ChainVerifier:
    """Checks rows fed oldest first; memory is one hash per site."""

    def __init__(self, anchors: Mapping[str, Iterable[str]] | None = None) -> None:
        self._heads: dict[str, str] = {}
        self._anchors = {site: set(hashes) for site, hashes in (anchors or {}).items()}
        self._last_seq = 0
        self.rows_checked = 0
        self.broken: tuple[int, str, str] | None = None

    def feed(self, row: AuditRow) -> bool:
        """Check one row; False (and :attr:`broken` set) at the first broken one."""
        if self.broken is not None:
            return False
        self.rows_checked += 1
        expected_prev = self._heads.get(row.site_id)
        if row.seq <= self._last_seq:
            self.broken = (row.seq, row.site_id, "sequence out of order")
        elif (
            expected_prev is None
            and row.prev_hash != GENESIS
            and (row.prev_hash not in self._anchors.get(row.site_id, ()))
        ):
            self.broken = (row.seq, row.site_id, "first row does not start the chain")
        elif expected_prev is not None and row.prev_hash != expected_prev:
            self.broken = (row.seq, row.site_id, "prev_hash does not match the previous row")
        elif row_hash(row.seq, row.prev_hash, row) != row.hash:
            self.broken = (row.seq, row.site_id, "row content does not match its hash")
        if self.broken is not None:
            return False
        self._heads[row.site_id] = row.hash
        self._last_seq = row.seq
        return True

    def result(self) -> VerifyResult:
        """What was found so far."""
        if self.broken is None:
            return VerifyResult(self.rows_checked, True, heads=dict(self._heads))
        seq, site_id, reason = self.broken
        return VerifyResult(self.rows_checked, False, seq, site_id, reason, dict(self._heads))


def checkpoint_event(site_id: str, detail: Mapping[str, Any], created_at: datetime) -> ConsentEvent:
    """The row a purge appends to ``site_id``'s chain, recording what it removed (C21).

    ``detail`` holds ``purged_rows``, ``first_seq``, ``last_seq``, ``before`` and
    ``continued_from``: the hash of the last purged row, which the first remaining row
    names as its ``prev_hash``. :func:`anchors_from` turns it into a verify anchor.
    """
    return ConsentEvent(
        site_id=site_id,
        consent_id=CHECKPOINT,
        action=CHECKPOINT,
        choices={},
        policy_version="",
        texts_hash="",
        language="",
        widget_version="",
        page="",
        ip="",
        browser="",
        gpc=False,
        created_at=created_at,
        detail=dict(detail),
    )


def anchors_from(checkpoints: Iterable[AuditRow]) -> dict[str, set[str]]:
    """Verify anchors per site: every ``continued_from`` a checkpoint row records."""
    anchors: dict[str, set[str]] = {}
    for row in checkpoints:
        if row.action == CHECKPOINT and row.detail and row.detail.get("continued_from"):
            anchors.setdefault(row.site_id, set()).add(str(row.detail["continued_from"]))
    return anchors


async def verify_rows(
    rows: AsyncIterator[AuditRow], anchors: Mapping[str, Iterable[str]] | None = None
) -> VerifyResult:
    """Walk ``rows`` (oldest first) and report the first broken one."""
    verifier = ChainVerifier(anchors)
    async for row in rows:
        if not verifier.feed(row):
            break
    return verifier.result()


def choices_json(choices: Mapping[str, bool]) -> str:
    """How ``choices`` is stored: compact JSON in config order (``json.dumps``' compact form)."""
    if type(choices) is Choices:
        return choices.stored_json
    if all(type(value) is bool for value in choices.values()):
        return "{" + flag_members(choices.items(), quote_ascii) + "}"
    return json.dumps(dict(choices), separators=(",", ":"))
