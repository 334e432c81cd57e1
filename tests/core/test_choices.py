"""Choices (consent_service.consent.choices): one immutable decision per site and bitmask."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, datetime
from itertools import product

import pytest

from consent_service.api.routes import consent_json
from consent_service.consent.choices import Choices
from consent_service.consent.rules import (
    choices_for,
    complete,
    decode_mask,
    encode_mask,
    parse_decision,
)
from consent_service.settings import DEMO_CONFIG
from consent_service.sites import load_sites
from consent_service.store.records import choices_json

SITE = load_sites(DEMO_CONFIG).get("demo")


def _generic_mask(choices: dict[str, bool]) -> int:
    return sum(1 << k for k, cid in enumerate(SITE.optional_ids) if choices.get(cid))


def test_every_decision_is_one_shared_object_with_every_category_in_config_order() -> None:
    seen = {}
    for flags in product([False, True], repeat=len(SITE.optional_ids)):
        wanted = dict(zip(SITE.optional_ids, flags, strict=True))
        choices = complete(SITE, wanted)
        assert type(choices) is Choices
        assert list(choices) == [c.id for c in SITE.categories]
        assert all(choices[c.id] is True for c in SITE.categories if c.required)  # C10
        assert {cid: choices[cid] for cid in SITE.optional_ids} == wanted
        assert complete(SITE, dict(wanted)) is choices  # made once, then shared
        assert choices.mask == _generic_mask(dict(choices)) == encode_mask(SITE, dict(choices))
        assert encode_mask(SITE, choices) == choices.mask
        assert decode_mask(SITE, choices.mask) is choices
        seen[choices.mask] = choices
    assert len(seen) == 2 ** len(SITE.optional_ids)


def test_a_parsed_decision_carries_the_shared_choices() -> None:
    first = parse_decision(
        SITE, {"action": "save", "choices": {"statistics": True}}, gpc_header=False
    )
    second = parse_decision(
        SITE,
        {"action": "save", "choices": {"statistics": True, "third-party": False}},
        gpc_header=False,
    )
    assert first.choices is second.choices


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.__setitem__("statistics", False),
        lambda c: c.__delitem__("statistics"),
        lambda c: c.update({"statistics": False}),
        lambda c: c.setdefault("marketing", True),
        lambda c: c.pop("statistics"),
        lambda c: c.popitem(),
        lambda c: c.clear(),
        lambda c: c.__ior__({"statistics": False}),
    ],
)
def test_shared_choices_cannot_be_changed(change: object) -> None:
    choices = choices_for(SITE, 0b01)
    before = dict(choices)
    with pytest.raises(TypeError):
        change(choices)  # type: ignore[operator]
    assert choices == before and choices_for(SITE, 0b01) == before


def test_copies_are_plain_dicts_that_may_change() -> None:
    choices = choices_for(SITE, 0b11)
    for other in (
        dict(choices),
        copy.copy(choices),
        copy.deepcopy(choices),
        pickle.loads(pickle.dumps(choices)),  # noqa: S301 - our own bytes, just made
    ):
        assert type(other) is dict and other == choices
        other["statistics"] = False
    assert choices["statistics"] is True


def test_its_texts_are_what_the_general_paths_write() -> None:
    for mask in range(2 ** len(SITE.optional_ids)):
        choices = choices_for(SITE, mask)
        plain = dict(choices)
        assert (
            choices.stored_json == choices_json(plain) == json.dumps(plain, separators=(",", ":"))
        )
        assert choices_json(choices) == choices_json(plain)
        assert json.loads("{" + choices.members + "}") == plain
        assert list(json.loads("{" + choices.members + "}")) == list(plain)
        assert "{" + choices.sorted_members + "}" == json.dumps(
            plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        given = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
        assert consent_json("c", choices, "v1", given, SITE, "t") == consent_json(
            "c", plain, "v1", given, SITE, "t"
        )


def test_only_true_and_false_are_choices() -> None:
    with pytest.raises(TypeError):
        Choices([("statistics", 1)], site_id="demo", mask=1)  # type: ignore[list-item]


def test_another_sites_choices_are_not_trusted_for_the_mask() -> None:
    foreign = Choices([("necessary", True), ("statistics", True)], site_id="elsewhere", mask=0)
    assert encode_mask(SITE, foreign) == _generic_mask(dict(foreign)) == 1
