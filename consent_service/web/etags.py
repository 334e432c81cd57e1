"""Entity tags and ``If-None-Match``, as RFC 9110 defines them (§8.8.3, §13.1.2).

A cacheable route answers 304 only when the request names the entity tag of the very
representation it would send: the field is parsed as a list of entity-tags (``"x"``,
``W/"x"``, or ``*`` alone), and each is compared with the current tag by the weak
comparison, so ``W/"x"`` matches ``"x"`` but ``"xx"`` or ``"x-gzip"`` never does.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text. An opaque
# tag may hold commas, so the list is scanned tag by tag rather than split on ",".
_TAG = re.compile(r'(?:W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?=,|$)')
# Between list elements: optional whitespace and any number of (empty) commas (§5.6.1).
_SEPARATORS = re.compile(r"[ \t]*(?:,[ \t]*)*")


def opaque_tags(field: str) -> list[str] | None:
    """The opaque tags (quotes kept, ``W/`` dropped) of an entity-tag list.

    None when ``field`` is not a valid list (then the condition is ignored); ``["*"]``
    for the wildcard, which must stand alone.
    """
    if field.strip(" \t") == "*":
        return ["*"]
    tags: list[str] = []
    pos = _skip_separators(field, 0)
    while pos < len(field):
        found = _TAG.match(field, pos)
        if found is None:
            return None
        tags.append(found.group(1))
        pos = _skip_separators(field, found.end())
    return tags


def _skip_separators(field: str, pos: int) -> int:
    found = _SEPARATORS.match(field, pos)
    return found.end() if found else pos


def not_modified(headers: Headers, etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` (or is ``*``): the answer is 304.

    ``etag`` is the tag of the representation the request would get, after content
    negotiation. Several ``If-None-Match`` lines form one list. A malformed field is
    ignored, as if absent, so it costs a 200, never a wrong 304.
    """
    lines = headers.getlist("if-none-match")
    if not lines:
        return False
    tags = opaque_tags(", ".join(lines))
    if not tags:
        return False
    return tags == ["*"] or etag.removeprefix("W/") in tags
