"""How the json module writes small values, for JSON assembled directly on hot paths.

The row hash, the stored choices, the token payload and the consent answer are built
with f-strings rather than ``json.dumps`` (docs/performance.md); these are the json
module's own writers, so the bytes are the ones ``json.dumps`` would give. Tests hold
each assembled form to ``json.dumps``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

#: A string as ``json.dumps(..., ensure_ascii=False)`` writes it, quotes included.
quote: Callable[[str], str] = json.encoder.encode_basestring
#: A string as ``json.dumps`` writes it by default (non-ASCII escaped), quotes included.
quote_ascii: Callable[[str], str] = json.encoder.encode_basestring_ascii
#: ``true`` and ``false``.
BOOL = {True: "true", False: "false"}


def flag_members(flags: Iterable[tuple[str, bool]], write: Callable[[str], str] = quote) -> str:
    """The members of a JSON object of booleans, as ``json.dumps`` separates them compactly.

    ``write`` is :data:`quote` or :data:`quote_ascii`; every value must be a bool.
    """
    return ",".join(f"{write(key)}:{BOOL[value]}" for key, value in flags)
