"""A Starlette request that reads its headers once, for the routes every visitor hits.

Starlette's :class:`~starlette.datastructures.Headers` finds a header by scanning the
whole list, and a header that is absent (``Origin``, ``Sec-GPC``, ``Kakor-Token`` on
most requests) costs a scan and a raised ``KeyError``. :class:`IndexedHeaders` builds
a dict on first use; lookups then answer exactly as ``Headers`` does (the first value
of a repeated name).
"""

from __future__ import annotations

import functools
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request, empty_receive
from starlette.types import Receive, Scope

#: Header names as looked up (``"content-type"``) to their wire form (``b"content-type"``).
_NAMES: dict[str, bytes] = {}
_NAMES_MAX = 256


def _wire_name(key: str) -> bytes:
    name = _NAMES.get(key)
    if name is None:
        name = key.lower().encode("latin-1")
        if len(_NAMES) < _NAMES_MAX:  # the routes look up a handful of fixed names
            _NAMES[key] = name
    return name


class IndexedHeaders(Headers):
    """Request headers with dict lookups; everything else as Starlette's ``Headers``."""

    def __init__(self, scope: Scope) -> None:
        # What Headers(scope=scope) does, without its argument checks and list copy.
        raw = scope["headers"]
        if type(raw) is not list:
            raw = scope["headers"] = list(raw)
        self._list = raw
        index: dict[bytes, bytes] = {}
        for name, value in raw:
            index.setdefault(name, value)
        self._index = index

    def __getitem__(self, key: str) -> str:
        value = self._index.get(_NAMES.get(key) or _wire_name(key))
        if value is None:
            raise KeyError(key)
        return value.decode("latin-1")

    def get(self, key: str, default: Any = None) -> Any:
        """The first value of header ``key``, or ``default``."""
        value = self._index.get(_NAMES.get(key) or _wire_name(key))
        return default if value is None else value.decode("latin-1")

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and _wire_name(key) in self._index

    def getlist(self, key: str) -> list[str]:
        """Every value of header ``key`` in order (none without a scan when it is absent)."""
        if _wire_name(key) not in self._index:
            return []
        return super().getlist(key)


class IndexedRequest(Request):
    """A :class:`~starlette.requests.Request` whose ``headers`` are :class:`IndexedHeaders`.

    The routes it serves read headers on every request, so they are indexed at once and
    kept in the instance's ``__dict__``, where each read finds them without calling
    the property (on Python 3.11, ``cached_property`` takes a lock on first use).
    """

    def __init__(self, scope: Scope, receive: Receive = empty_receive) -> None:
        super().__init__(scope, receive)
        self.__dict__["headers"] = IndexedHeaders(scope)

    @functools.cached_property
    def headers(self) -> Headers:
        """The request headers, indexed (set by ``__init__``; this only documents them)."""
        return IndexedHeaders(self.scope)
