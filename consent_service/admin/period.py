"""A period of the log, as the officer names it: ``since`` and ``until`` (query or CLI).

One grammar for both, stated in the OpenAPI document from :data:`MOMENT`: a date
(``2026-11-01``, UTC midnight) or a date-time with ``Z``, ``±HH:MM`` or no offset
(then UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from consent_service.web.errors import InvalidField

#: What ``since`` and ``until`` may be: a date, or a date-time with an optional offset
#: (``Z`` or ``±HH:MM``); the OpenAPI document states the same pattern.
MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)


def parse_moment(name: str, raw: str | None, *, end: bool = False) -> datetime | None:
    """A ``since``/``until`` query value: a date (``2026-11-01``) or a UTC date-time.

    A bare date as ``until`` (``end``) includes that whole day: it means the next midnight,
    and ``9999-12-31``, whose next midnight no date-time can hold, means no bound at all.
    A moment that is outside the years 1–9999 once in UTC is refused.
    """
    if raw is None or raw == "":
        return None
    if not MOMENT.fullmatch(raw):
        raise InvalidField(name, "give a date (YYYY-MM-DD) or an ISO 8601 date-time")
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            if end and day == date.max:
                return None
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidField(name, "give a date (YYYY-MM-DD) or an ISO 8601 date-time") from None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidField(name, "lies outside the years 0001-9999 in UTC") from None
