"""The one writer of the bytes that prove consent: canonical JSON, and the compact form.

A row's hash and a banner's ``texts_hash`` are SHA-256 over :func:`canonical_json`, so
those bytes must never change for the same value: keys sorted, no spaces, UTF-8
(non-ASCII as is), exactly what ``json.dumps(value, sort_keys=True, separators=(",",
":"), ensure_ascii=False)`` writes. orjson writes the same bytes about eight times
faster (every consent is hashed when written and again by every verify);
``tests/core/test_audit_chain.py`` holds them to golden bytes, and a property test to
``json.dumps`` for any text.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


class UnencodableValue(ValueError):
    """A value has no JSON form (a lone surrogate, say): a fault of the data."""


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces, UTF-8."""
    return _dumps(value, orjson.OPT_SORT_KEYS)


def texts_digest(texts: Any) -> str:
    """A banner's ``texts_hash``: SHA-256 (hex) of the canonical JSON of what it showed."""
    return hashlib.sha256(canonical_json(texts)).hexdigest()


def compact_json(value: Any) -> str:
    """JSON text with no spaces, members in the order given (how the store keeps choices)."""
    return _dumps(value, 0).decode()


def _dumps(value: Any, option: int) -> bytes:
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError as exc:
        raise UnencodableValue(str(exc)) from exc
