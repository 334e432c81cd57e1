"""Text that every store can keep, byte for byte.

A value reaches the audit log only if SQLite and PostgreSQL both keep it exactly and a
hash of its UTF-8 encoding can be taken: Unicode scalar values only (a lone UTF-16
surrogate such as ``"\\ud800"`` cannot be encoded), no NUL (PostgreSQL refuses it in
text), and no other control character (C0, DEL, C1), which no field of a consent needs
and which would let a row that SQLite keeps fail to move to PostgreSQL. The check runs
at the door, so a refused value gets a 422 and never reaches a batch it could fail.
"""

from __future__ import annotations

import re

#: C0 controls (NUL included), DEL, C1 controls, and the UTF-16 surrogate range.
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

#: What a refusal says about the value.
RULE = "must not contain control characters, NUL or lone surrogates"


def is_storable(text: str) -> bool:
    """True if ``text`` holds nothing :data:`RULE` forbids."""
    return _UNSTORABLE.search(text) is None
