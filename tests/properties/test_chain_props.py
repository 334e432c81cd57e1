"""Properties of the hash chain (C22): any edit, deletion or reordering of rows shows."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from consent_service.audit.chain import GENESIS, chain
from consent_service.audit.events import ROW_FIELDS, AuditRow, ConsentEvent
from consent_service.audit.verify import ChainVerifier

from .strategies import PROPERTY, consent_events

_START = datetime(2026, 11, 1, tzinfo=UTC)


@st.composite
def events(draw: st.DrawFn) -> ConsentEvent:
    return ConsentEvent(
        site_id=draw(st.sampled_from(["a", "b", "c"])),
        consent_id=draw(st.text("abcdef0123", min_size=1, max_size=8)),
        action=draw(st.sampled_from(["accept-all", "reject-all", "save", "gpc", "withdraw"])),
        choices={"necessary": True, "statistics": draw(st.booleans())},
        policy_version="v1",
        texts_hash="f" * 64,
        language=draw(st.sampled_from(["sv", "en"])),
        widget_version="1",
        page=draw(st.sampled_from(["", "https://x.se/"])),
        ip="192.0.2.0",
        browser="Firefox/Linux",
        gpc=draw(st.booleans()),
        created_at=_START + timedelta(microseconds=draw(st.integers(0, 10**9))),
    )


logs = st.lists(events(), min_size=1, max_size=12).map(lambda evs: chain(evs, 1, {}))


def _verify(rows: list[AuditRow]) -> ChainVerifier:
    verifier = ChainVerifier()
    for row in rows:
        if not verifier.feed(row):
            break
    return verifier


def _edited(value: Any) -> Any:
    """A different value of the same type (an absent mapping gets one)."""
    if value is None:
        return {"edited": True}
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, dict) and "statistics" in value:
        return {**value, "statistics": not value["statistics"]}
    if isinstance(value, dict):
        return {**value, "edited": True}
    raise AssertionError(f"no edit for {value!r}")


@PROPERTY
@given(rows=logs)
def test_untouched_log_verifies(rows: list[AuditRow]) -> None:
    verifier = _verify(rows)
    assert verifier.result().ok
    assert verifier.rows_checked == len(rows)


@PROPERTY
@given(rows=logs, data=st.data())
def test_any_edit_of_any_field_is_detected(rows: list[AuditRow], data: Any) -> None:
    """Change one field of one row (the hash fields included): the chain breaks at that row."""
    index = data.draw(st.integers(0, len(rows) - 1), label="row")
    name = data.draw(st.sampled_from(ROW_FIELDS), label="field")
    tampered = list(rows)
    tampered[index] = dataclasses.replace(
        rows[index], **{name: _edited(getattr(rows[index], name))}
    )
    result = _verify(tampered).result()
    assert not result.ok
    assert result.first_broken_seq is not None
    assert result.first_broken_seq <= rows[index].seq + 1


@PROPERTY
@given(rows=logs.filter(lambda r: len(r) >= 2), data=st.data())
def test_deleting_a_row_that_has_a_successor_in_its_site_is_detected(
    rows: list[AuditRow], data: Any
) -> None:
    """Deleting any row but a site's newest breaks the chain at that site's next row."""
    candidates = [
        i for i, row in enumerate(rows) if any(r.site_id == row.site_id for r in rows[i + 1 :])
    ]
    if not candidates:
        return
    index = data.draw(st.sampled_from(candidates), label="row")
    assert not _verify(rows[:index] + rows[index + 1 :]).result().ok


@PROPERTY
@given(rows=logs, data=st.data())
def test_deleting_a_sites_newest_rows_shows_against_the_known_head(
    rows: list[AuditRow], data: Any
) -> None:
    """Cutting off a site's newest rows leaves a valid prefix: only a kept head reveals it.

    This is the limit of any hash chain; ``heads`` (and ``/admin/v1/log/verify``) give
    the newest hash per site so an operator can keep it elsewhere and compare.
    """
    heads_before = _verify(rows).result().heads
    index = data.draw(st.integers(0, len(rows) - 1), label="row")
    site = rows[index].site_id
    kept = [r for r in rows if r.site_id != site or r.seq < rows[index].seq]
    result = _verify(kept).result()
    assert result.ok
    assert result.heads.get(site, GENESIS) != heads_before[site]


@PROPERTY
@given(rows=logs.filter(lambda r: len(r) >= 2), data=st.data())
def test_swapping_two_rows_is_detected(rows: list[AuditRow], data: Any) -> None:
    """Reordering rows, or swapping their sequence numbers, is detected."""
    i, j = sorted(
        data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=2, max_size=2, unique=True))
    )
    moved = list(rows)
    moved[i], moved[j] = moved[j], moved[i]
    assert not _verify(moved).result().ok
    renumbered = list(rows)
    renumbered[i] = dataclasses.replace(rows[j], seq=rows[i].seq)
    renumbered[j] = dataclasses.replace(rows[i], seq=rows[j].seq)
    assert not _verify(renumbered).result().ok


_any_text = st.text(max_size=40)  # quotes, backslashes, control characters, any Unicode
_any_choices = st.dictionaries(_any_text, st.booleans(), max_size=5)


@st.composite
def any_rows(draw: st.DrawFn) -> tuple[int, ConsentEvent]:
    """Events with arbitrary text in every string field, as a stored row may hold."""
    event = draw(
        consent_events(
            _any_text,
            choices=_any_choices,
            created_at=st.integers(-(10**12), 10**12).map(
                lambda us: _START + timedelta(microseconds=us)
            ),
            detail=st.none()
            | st.dictionaries(_any_text, st.integers(-(2**63), 2**63 - 1), max_size=3),
        )
    )
    return draw(st.integers(1, 2**53)), event


@PROPERTY
@given(any_rows())
def test_c22_the_row_hash_is_sha256_of_the_canonical_json(case: tuple[int, ConsentEvent]) -> None:
    """The directly assembled form hashes exactly what canonical_json of the content gives."""
    import hashlib

    from consent_service.audit.canonical import canonical_json
    from consent_service.audit.chain import row_content, row_hash

    seq, event = case
    expected = hashlib.sha256(b"p" * 64 + b"\n" + canonical_json(row_content(seq, event)))
    assert row_hash(seq, "p" * 64, event) == expected.hexdigest()


@PROPERTY
@given(st.dictionaries(_any_text, st.booleans() | st.integers(0, 2), max_size=6))
def test_stored_choices_are_compact_json(choices: dict[str, Any]) -> None:
    """In the order given, no spaces, UTF-8 as is; for category ids (ASCII, as the site
    file requires) byte for byte what earlier versions stored."""
    import json

    from consent_service.store.records import choices_json

    stored = choices_json(choices)
    assert stored == json.dumps(choices, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(stored) == choices and list(json.loads(stored)) == list(choices)
    if all(key.isascii() for key in choices):
        assert stored == json.dumps(choices, separators=(",", ":"))


@PROPERTY
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=9, minutes=30))]
        ),
    )
)
def test_times_are_written_as_isoformat_in_utc(moment: datetime) -> None:
    """The per-second cache of format_time writes what isoformat does, in any zone, any year."""
    from consent_service.audit.timefmt import format_time, parse_time

    expected = moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
    assert format_time(moment) == expected
    assert format_time(moment + timedelta(seconds=1)) != expected
    assert parse_time(expected) == moment


def test_a_time_written_again_is_its_own_text_however_many_came_between() -> None:
    """format_time keeps recent texts by object identity: never another object's text."""
    from consent_service.audit.timefmt import format_time

    start = datetime(2026, 11, 27, tzinfo=UTC)
    for n in range(20_000):  # past the kept texts' bound, with objects freed all along
        moment = start + timedelta(microseconds=n * 7919)
        expected = moment.isoformat(timespec="microseconds")[:-6] + "Z"
        assert format_time(moment) == expected
        assert format_time(moment) == expected
        assert format_time(start + timedelta(microseconds=n * 7919 + 1)) != expected


_json_text = st.text(max_size=30)  # any text but lone surrogates (which no store keeps)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _json_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_json_text, inner, max_size=4),
    max_leaves=12,
)


@PROPERTY
@given(st.dictionaries(_json_text, _json_values, max_size=8))
def test_c22_canonical_json_is_what_json_dumps_writes(value: dict[str, Any]) -> None:
    """The one writer of the hashed bytes (orjson) gives exactly ``json.dumps``' bytes with
    sorted keys, no spaces and non-ASCII as is, for any text: rows hashed by either verify."""
    import json

    from consent_service.audit.canonical import canonical_json

    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(value) == expected.encode()
