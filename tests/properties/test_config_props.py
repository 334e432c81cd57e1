"""Properties of the config loader: whatever the file says, the answer is a registry or ConfigError."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from consent_service.sites import ConfigError, SiteRegistry, parse_sites

from .strategies import PROPERTY, category_ids, config_keys, site_document, toml_values


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


def _parse(document: Any) -> SiteRegistry | None:
    try:
        return parse_sites(document)
    except ConfigError:
        return None


@PROPERTY
@given(document=st.dictionaries(st.text(max_size=10), toml_values, max_size=4))
def test_arbitrary_documents_raise_only_config_error(document: dict[str, Any]) -> None:
    """Any document: a registry or ConfigError, never TypeError, KeyError or the like."""
    _parse(document)


@settings(PROPERTY, max_examples=PROPERTY.max_examples * 3)
@given(
    optional=st.lists(category_ids, min_size=1, max_size=3, unique=True),
    data=st.data(),
    how=st.sampled_from(["replace", "delete", "add"]),
)
def test_mutated_valid_documents_raise_only_config_error(
    optional: list[str], data: Any, how: str
) -> None:
    """Change, remove or add one value anywhere in a valid file: registry or ConfigError."""
    document = site_document(optional)
    assert _parse(document) is not None
    mutated = copy.deepcopy(document)
    paths = _paths(mutated)[1:]
    structural = [p for p in paths if "texts" not in p]  # texts are most paths: even it out
    path = data.draw(st.sampled_from(structural) | st.sampled_from(paths), label="path")
    parent = mutated
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "replace":
        parent[last] = data.draw(toml_values, label="value")
    elif how == "delete":
        del parent[last]
    elif isinstance(parent[last], dict):
        parent[last][data.draw(config_keys, label="key")] = data.draw(toml_values)
    elif isinstance(parent[last], list):
        parent[last].append(data.draw(toml_values, label="item"))
    else:
        parent[last] = [parent[last], data.draw(toml_values)]
    _parse(mutated)


@PROPERTY
@given(optional=st.lists(category_ids, max_size=6, unique=True))
def test_valid_documents_load(optional: list[str]) -> None:
    """The generator itself is sound: an unmutated document loads with its categories."""
    registry = _parse(site_document(optional))
    assert registry is not None
    assert registry.get("s").optional_ids == tuple(optional)
