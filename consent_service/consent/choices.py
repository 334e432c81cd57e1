"""A visitor's decision on every category of a site, built once per combination.

A site with *n* optional categories has 2ⁿ possible decisions, yet every consent used
to write its decision out as JSON three times over (the row hash, the stored column,
the answer) and recompute the token's bitmask. :class:`Choices` is that decision as an
immutable ``dict`` carrying its bitmask and those JSON texts, made once per site and
bitmask by :func:`~consent_service.consent.rules.choices_for` and shared by every consent
that makes the same decision. Everything that takes a plain mapping of choices still
does; a :class:`Choices` only lets it skip the work.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from consent_service.consent.jsontext import flag_members, quote_ascii


class Choices(dict[str, bool]):
    """Category id → allowed, in config order; never changed once built.

    ``mask`` is the token's bitmask for ``site_id``; ``stored_json`` is the compact JSON
    the audit column holds (``json.dumps(..., separators=(",", ":"))``);
    ``sorted_members`` and ``members`` are the object's members as the row hash (keys
    sorted) and the answer (config order) write them with ``ensure_ascii=False``.
    """

    __slots__ = ("mask", "members", "site_id", "sorted_members", "stored_json")

    def __init__(self, items: Iterable[tuple[str, bool]], *, site_id: str, mask: int) -> None:
        super().__init__(items)
        if any(type(value) is not bool for value in self.values()):
            raise TypeError("choices are true or false")
        self.site_id = site_id
        self.mask = mask
        self.members = flag_members(self.items())
        self.sorted_members = flag_members(sorted(self.items()))
        self.stored_json = "{" + flag_members(self.items(), quote_ascii) + "}"

    def __reduce__(self) -> tuple[Any, ...]:
        """Copies and pickles are plain dicts (which may change)."""
        return (dict, (dict(self),))

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("Choices are shared by many consents and never change; copy with dict()")

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = __ior__ = _refuse
