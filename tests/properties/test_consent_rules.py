"""Properties of the pure consent rules (C10, C11, C16, C20)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent_service.audit.timefmt import format_time
from consent_service.consent import rules as consent
from consent_service.consent.storable import is_storable
from consent_service.sites import Site
from consent_service.web.errors import InvalidField

from .strategies import PROPERTY, json_values, sites

T = TypeVar("T")


def _attempt(func: Callable[[], T]) -> T | InvalidField:
    """The result, or the InvalidField raised: anything else propagates and fails the test."""
    try:
        return func()
    except InvalidField as exc:
        return exc


def _explicit(site: Site, choices: dict[str, bool]) -> None:
    assert list(choices) == list(site.category_ids)
    assert all(isinstance(v, bool) for v in choices.values())
    assert all(choices[cid] for cid in site.required_ids)


@PROPERTY
@given(site=sites(), body=json_values, gpc=st.booleans())
def test_any_json_body_is_a_decision_or_invalid_field(site: Site, body: Any, gpc: bool) -> None:
    """Whatever JSON arrives, the rules answer with a decision or InvalidField, nothing else."""
    decision = _attempt(lambda: consent.parse_decision(site, body, gpc_header=gpc))
    if not isinstance(decision, InvalidField):
        _explicit(site, decision.choices)


@PROPERTY
@given(
    site=sites(),
    action=st.sampled_from(consent.POST_ACTIONS),
    data=st.data(),
    gpc=st.booleans(),
    extra=st.fixed_dictionaries(
        {},
        optional={
            "language": st.sampled_from(["sv", "en"]),
            "page": st.sampled_from(["https://x.se/a?q=1#f", "", None]),
            "widget_version": st.from_regex(consent.WIDGET_VERSION, fullmatch=True),
        },
    ),
)
def test_valid_decisions(
    site: Site, action: str, data: Any, gpc: bool, extra: dict[str, Any]
) -> None:
    """C10/C11: every category explicit, necessary always on, the action decides the rest."""
    given_choices = data.draw(
        st.dictionaries(st.sampled_from(site.category_ids), st.booleans()), label="choices"
    )
    body = {"action": action, "choices": given_choices, **extra}
    optional = site.optional_ids
    if action == "accept-all":
        wanted = dict.fromkeys(optional, True)
    elif action in ("reject-all", "gpc"):
        wanted = dict.fromkeys(optional, False)
    else:
        wanted = {cid: given_choices.get(cid, False) for cid in optional}
    contradicts = action != "save" and any(
        cid in wanted and wanted[cid] != v for cid, v in given_choices.items()
    )
    decision = _attempt(lambda: consent.parse_decision(site, body, gpc_header=gpc))
    if isinstance(decision, InvalidField):
        assert contradicts, decision.message
        return
    assert not contradicts
    _explicit(site, decision.choices)
    assert {cid: decision.choices[cid] for cid in optional} == wanted
    assert decision.action == action
    assert decision.gpc == (gpc or action == "gpc")
    assert "?" not in decision.page
    assert "#" not in decision.page


@PROPERTY
@given(site=sites(), gpc_body=st.sampled_from([{}, {"choices": {}}]))
def test_gpc_header_without_action_refuses_everything(site: Site, gpc_body: dict[str, Any]) -> None:
    """C16: ``Sec-GPC: 1`` and no action is a refusal of every optional category."""
    decision = consent.parse_decision(site, gpc_body, gpc_header=True)
    assert decision.action == "gpc"
    assert decision.gpc
    assert decision.choices == consent.complete(site, {})


@PROPERTY
@given(site=sites(), name=st.text(min_size=1, max_size=12), value=st.booleans())
def test_unknown_category_is_invalid_field(site: Site, name: str, value: bool) -> None:
    """A category the site does not have is refused, naming it."""
    if name in site.category_ids:
        return
    with pytest.raises(InvalidField) as caught:
        consent.parse_decision(site, {"action": "save", "choices": {name: value}}, gpc_header=False)
    assert caught.value.field == f"choices.{name}"


@PROPERTY
@given(site=sites(), value=json_values.filter(lambda v: not isinstance(v, bool)), data=st.data())
def test_non_boolean_choice_is_invalid_field(site: Site, value: Any, data: Any) -> None:
    """C11: a choice is true or false, never 1, "yes" or null."""
    cid = data.draw(st.sampled_from(site.category_ids))
    with pytest.raises(InvalidField) as caught:
        consent.parse_decision(site, {"action": "save", "choices": {cid: value}}, gpc_header=False)
    assert caught.value.field == f"choices.{cid}"


@PROPERTY
@given(site=sites(), body=json_values)
def test_withdrawal_refuses_every_optional_category(site: Site, body: Any) -> None:
    """C13/C14: a withdrawal, whatever its body says, leaves only the required categories."""
    decision = _attempt(lambda: consent.parse_withdrawal(site, body))
    if isinstance(decision, InvalidField):
        return
    assert decision.action == "withdraw"
    assert decision.choices == consent.complete(site, {})


@PROPERTY
@given(site=sites(), data=st.data())
def test_mask_round_trip(site: Site, data: Any) -> None:
    """The token's bitmask carries exactly the optional choices."""
    optional = data.draw(st.fixed_dictionaries({cid: st.booleans() for cid in site.optional_ids}))
    choices = consent.complete(site, optional)
    assert consent.decode_mask(site, consent.encode_mask(site, choices)) == choices


@PROPERTY
@given(site=sites(), mask=st.integers())
def test_mask_outside_the_site_is_refused(site: Site, mask: int) -> None:
    """A mask naming categories the site lacks (or negative) decodes to None, never raises."""
    decoded = consent.decode_mask(site, mask)
    fits = 0 <= mask < (1 << len(site.optional_ids))
    assert (decoded is not None) == fits


@PROPERTY
@given(value=json_values | st.text(max_size=80) | st.from_regex(r"\Ahttps?://[^/]{0,12}/.{0,20}\Z"))
def test_clean_page_keeps_origin_and_path_only(value: Any) -> None:
    """C20: any page value yields origin+path (no query, no fragment) or InvalidField."""
    page = _attempt(lambda: consent.clean_page(value))
    if isinstance(page, InvalidField):
        assert page.field == "page"
        return
    assert page == "" or page.startswith(("http://", "https://"))
    assert "?" not in page
    assert "#" not in page


@PROPERTY
@given(
    sites(),
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(9000, 12, 31),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))]),
    ),
    st.integers(1, 800),
)
def test_c15_a_decision_lapses_its_lifetime_in_whole_days_later(
    site: Site, given_at: datetime, days: int
) -> None:
    """C15: the expiry is exactly the lifetime after the decision, to the microsecond, in
    UTC whatever offset the moment was given in (refusals last as long as consents)."""
    site = dataclasses.replace(site, consent_lifetime_days=days)
    expiry = consent.expires_at(site, given_at)
    assert expiry - given_at == timedelta(days=days)
    assert format_time(expiry)[11:] == format_time(given_at)[11:]  # same time of day in UTC


@PROPERTY
@given(site=sites(), text=st.text(max_size=40), field=st.sampled_from(["widget_version", "page"]))
def test_any_text_kept_is_storable_everywhere(site: Site, text: str, field: str) -> None:
    """Whatever text arrives in ``page`` or ``widget_version``, what is kept can be encoded
    and stored by both stores (no NUL, control character or lone surrogate), and a kept
    ``widget_version`` can never read as a spreadsheet formula."""
    value = text if field == "widget_version" else "https://x.se/" + text
    decision = _attempt(
        lambda: consent.parse_decision(
            site, {"action": "reject-all", field: value}, gpc_header=False
        )
    )
    if isinstance(decision, InvalidField):
        assert decision.field == field
        return
    kept: str = getattr(decision, field)
    assert is_storable(kept)
    kept.encode("utf-8")
    if field == "widget_version":
        assert kept == text
        assert not kept.startswith(("=", "+", "-", "@", "\t", "\r"))
