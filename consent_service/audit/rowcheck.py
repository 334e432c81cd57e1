"""A run of stored rows checked as the database returns them: hashes, links and leaves.

The hot loop of ``verify`` (issue 17). :class:`~consent_service.audit.verify.ChainVerifier`
checks one :class:`~consent_service.audit.events.AuditRow` at a time; at a million rows
building those objects (and the content dict of :func:`~.chain.row_content`) costs
most of the walk. :func:`check_rows` takes the stored tuples (:data:`STORED_ORDER`,
``created_at`` as the text :func:`~.timefmt.format_time` writes) and, for each row,
encodes the canonical JSON straight from the values, hashes it for the chain and for
the tree, and checks the link to the previous row of the same site within the run.

It never decides that a row is broken. What it cannot confirm (a hash that differs, a
value it does not encode as :func:`~.canonical.canonical_json` would, a link that does
not hold, a ``leaf_index`` out of step) marks the whole run *unclear*, and the caller
checks that run again with the :class:`ChainVerifier`, which names the broken row as
it always has. A run is *clear* only when every row's stored hash is SHA-256 of the
bytes encoded here, which are the bytes the row was written with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from consent_service.audit.events import STORED_FIELDS

#: The order of a stored row's values, as the loop below unpacks them.
STORED_ORDER = (
    "seq", "event_id", "site_id", "consent_id", "action", "choices", "policy_version",
    "texts_hash", "language", "widget_version", "page", "ip", "browser", "gpc",
    "created_at", "prev_hash", "hash", "detail", "leaf_index",
)  # fmt: skip
if STORED_FIELDS != STORED_ORDER:  # a field added to AuditRow must be added here too
    raise ImportError(f"rowcheck unpacks {STORED_ORDER}, the store holds {STORED_FIELDS}")

_NOT_ENCODED = (TypeError, ValueError, AttributeError, orjson.JSONEncodeError)
#: ``choices`` as stored (compact, in the site's order) to its canonical form (keys
#: sorted). A site has a handful of distinct choices, so the cache saves a JSON parse
#: and an encode on nearly every row (the loop is a third faster with it).
_CHOICES: dict[Any, orjson.Fragment] = {}
_CHOICES_MAX = 4096


@dataclass
class SiteRun:
    """One site's rows in a run: where they start, where they end, their leaf hashes."""

    first_seq: int
    first_prev: str
    first_leaf_index: int
    last_hash: str
    rows: int = 1
    #: The rows' leaf hashes, 32 bytes each, in order.
    leaves: bytearray = field(default_factory=bytearray)


@dataclass
class RunCheck:
    """What :func:`check_rows` found in one run of rows (oldest first)."""

    #: Every row hashes to its ``hash`` and follows its site's row before it in the run.
    clear: bool
    rows: int = 0
    first_seq: int = 0
    last_seq: int = 0
    sites: dict[str, SiteRun] = field(default_factory=dict)
    #: Each ``texts_hash`` the rows name, with the site of the first row naming it.
    texts: dict[str, str] = field(default_factory=dict)
    #: The site and hash of each row whose ``seq`` was asked for (the chain heads).
    seen: dict[int, tuple[str, str]] = field(default_factory=dict)


def check_rows(rows: Iterable[Sequence[Any]], watch: Mapping[int, str] | None = None) -> RunCheck:
    """Check ``rows`` (stored tuples, oldest first); note those of ``watch`` (seq → site)."""
    found = RunCheck(clear=True)
    watch = watch or {}
    sites = found.sites
    texts = found.texts
    sha256 = hashlib.sha256
    dumps = orjson.dumps
    last_seq = 0
    try:
        for (
            seq, event_id, site_id, consent_id, action, choices, policy_version, texts_hash,
            language, widget_version, page, ip, browser, gpc, created_at, prev_hash, hash_,
            detail, leaf_index,
        ) in rows:  # fmt: skip
            sorted_choices = _CHOICES.get(choices) or _sorted_choices(choices)
            if seq <= last_seq or sorted_choices is None or created_at is None:
                return RunCheck(clear=False)
            # The keys in sorted order, as canonical_json writes them: orjson then needs
            # no sorting (the loop is 5 % faster than with OPT_SORT_KEYS).
            values = {
                "action": action, "browser": browser, "choices": sorted_choices,
                "consent_id": consent_id, "created_at": created_at, "event_id": event_id,
                "gpc": bool(gpc), "ip": ip, "language": language, "page": page,
                "policy_version": policy_version, "seq": seq, "site_id": site_id,
                "texts_hash": texts_hash, "widget_version": widget_version,
            }  # fmt: skip
            if detail is None:
                content = dumps(values)
            else:  # a purge's checkpoint: rare, nested, so sorted by orjson
                facts = json.loads(detail)
                if facts is not None and type(facts) is not dict:
                    return RunCheck(clear=False)
                if facts is not None:
                    values["detail"] = facts
                content = dumps(values, option=orjson.OPT_SORT_KEYS)
            if sha256(prev_hash.encode("ascii") + b"\n" + content).hexdigest() != hash_:
                return RunCheck(clear=False)
            run = sites.get(site_id)
            if run is None:
                run = sites[site_id] = SiteRun(seq, prev_hash, leaf_index, hash_, 0)
            elif prev_hash != run.last_hash or leaf_index != run.first_leaf_index + run.rows:
                return RunCheck(clear=False)
            run.last_hash = hash_
            run.rows += 1
            run.leaves += sha256(b"\x00" + content).digest()
            if texts_hash and texts_hash not in texts:
                texts[texts_hash] = site_id
            if seq in watch and watch[seq] == site_id:
                found.seen[seq] = (site_id, hash_)
            if not found.rows:
                found.first_seq = seq
            found.rows += 1
            last_seq = seq
    except _NOT_ENCODED:  # a value edited in the database: the ChainVerifier says what
        return RunCheck(clear=False)
    found.last_seq = last_seq
    return found


def _sorted_choices(stored: Any) -> orjson.Fragment | None:
    """``choices`` as stored, in its canonical form; None unless it is a JSON object.

    Parsed by :func:`json.loads`, as the store reads it back for the ChainVerifier.
    """
    try:
        value = json.loads(stored)
        if type(value) is not dict:
            return None
        encoded = orjson.Fragment(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    except _NOT_ENCODED:
        return None
    if len(_CHOICES) >= _CHOICES_MAX:
        _CHOICES.clear()
    _CHOICES[stored] = encoded
    return encoded
