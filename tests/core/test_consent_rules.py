"""Pure consent rules: necessary always on, every category explicit, GPC (C10, C11, C16)."""

from __future__ import annotations

from typing import Any

import pytest

from consent_service.consent.rules import (
    clean_page,
    decode_mask,
    encode_mask,
    parse_decision,
    parse_withdrawal,
)
from consent_service.settings import DEMO_CONFIG
from consent_service.sites import load_sites
from consent_service.web.errors import InvalidField

SITE = load_sites(DEMO_CONFIG).get("demo")
NONE = {"necessary": True, "statistics": False, "third-party": False}
ALL = {"necessary": True, "statistics": True, "third-party": True}


def decide(body: Any, gpc: bool = False) -> Any:
    return parse_decision(SITE, body, gpc_header=gpc)


def test_accept_all_and_reject_all() -> None:
    assert decide({"action": "accept-all"}).choices == ALL
    assert decide({"action": "reject-all"}).choices == NONE


def test_necessary_is_true_whatever_is_sent() -> None:
    decision = decide({"action": "save", "choices": {"necessary": False}})
    assert decision.choices == NONE


@pytest.mark.parametrize("statistics", [True, False])
@pytest.mark.parametrize("third_party", [True, False])
def test_c11_each_combination_is_kept_explicitly(statistics: bool, third_party: bool) -> None:
    choices = {"statistics": statistics, "third-party": third_party}
    decision = decide({"action": "save", "choices": choices})
    assert decision.choices == {"necessary": True, **choices}
    assert decode_mask(SITE, encode_mask(SITE, decision.choices)) == decision.choices


def test_c11_saving_nothing_ticked_equals_reject() -> None:
    assert decide({"action": "save", "choices": {}}).choices == NONE
    assert decide({"action": "save"}).choices == NONE


def test_c16_gpc_header_without_action_is_a_gpc_refusal() -> None:
    decision = decide({}, gpc=True)
    assert decision.action == "gpc" and decision.choices == NONE and decision.gpc


def test_c16_explicit_opt_in_under_gpc_is_honoured_and_marked() -> None:
    decision = decide({"action": "save", "choices": {"statistics": True}}, gpc=True)
    assert decision.choices["statistics"] is True and decision.gpc


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"action": "maybe"}, "action"),
        ({}, "action"),
        ({"action": "save", "choices": {"marketing": True}}, "choices.marketing"),
        ({"action": "save", "choices": {"statistics": "yes"}}, "choices.statistics"),
        ({"action": "save", "choices": ["statistics"]}, "choices"),
        ({"action": "accept-all", "choices": {"statistics": False}}, "choices.statistics"),
        ({"action": "gpc", "choices": {"statistics": True}}, "choices.statistics"),
        ({"action": "save", "language": "de"}, "language"),
        ({"action": "save", "policy_version": "2020-01-01"}, "policy_version"),
        ({"action": "save", "page": "javascript:alert(1)"}, "page"),
        ({"action": "save", "page": "https://x.se/" + "a" * 3000}, "page"),
        ({"action": "save", "widget_version": 5}, "widget_version"),
        ({"action": "save", "extra": 1}, "extra"),
    ],
)
def test_bad_bodies_name_the_field(body: Any, field: str) -> None:
    with pytest.raises(InvalidField) as info:
        decide(body)
    assert info.value.field == field
    assert info.value.status == 422


def test_page_keeps_origin_and_path_only() -> None:
    assert clean_page("https://www.example.se:8443/nyheter/a?utm=x#top") == (
        "https://www.example.se:8443/nyheter/a"
    )
    assert clean_page("https://user:pw@example.se") == "https://example.se/"


def test_withdrawal_refuses_every_optional_category() -> None:
    decision = parse_withdrawal(SITE, {})
    assert decision.action == "withdraw" and decision.choices == NONE


@pytest.mark.parametrize("body", [None, [], "withdraw", 0])
def test_a_withdrawal_body_that_is_not_an_object_is_refused(body: object) -> None:
    """The schema says object: JSON ``null`` is no exception."""
    with pytest.raises(InvalidField) as caught:
        parse_withdrawal(SITE, body)
    assert caught.value.field == "body"


def test_mask_outside_the_site_is_rejected() -> None:
    assert decode_mask(SITE, 4) is None
    assert decode_mask(SITE, -1) is None
