"""Typed readers of the site file's values: each names the key it refuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consent_service.sites.rules import ConfigError


def read_texts(
    raw: Any, where: str, languages: tuple[str, ...], keys: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    table = read_table(raw, where)
    out: dict[str, dict[str, str]] = {}
    for lang in languages:
        entry = read_table(table.get(lang), f"{where}.{lang}")
        out[lang] = {}
        for key in keys:
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where}.{lang}.{key}: missing or empty text")
            out[lang][key] = value
    return out


def read_texts_one(raw: Any, where: str, languages: tuple[str, ...]) -> dict[str, str]:
    table = read_table(raw, where)
    out = {}
    for lang in languages:
        value = table.get(lang)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}.{lang}: missing or empty text")
        out[lang] = value
    return out


def read_table(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        raise ConfigError(f"{where}: missing")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    return raw


def read_list(raw: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{where}.{key}: must be a list of tables")
    return value


def read_str(raw: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    if key not in raw:
        if default is None:
            raise ConfigError(f"{where}.{key}: missing")
        return default
    value = raw[key]
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise ConfigError(f"{where}.{key}: must be a non-empty string")
    return value


def read_str_list(raw: Mapping[str, Any], key: str, where: str, default: list[str]) -> list[str]:
    value = raw.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key}: must be a list of strings")
    return value


def read_int(
    raw: Mapping[str, Any], key: str, where: str, *, default: int, minimum: int, maximum: int
) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: must be an integer")
    if not minimum <= value <= maximum:
        raise ConfigError(f"{where}.{key}: must be between {minimum} and {maximum}, got {value}")
    return value
