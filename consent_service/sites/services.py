"""Reading one service table of the site file, from a template or by hand (docs/configuration.md).

Every cookie declares its lifetime and purpose (C2); a template's table
(:mod:`.templates`) is validated exactly like a hand-written one.
"""

from __future__ import annotations

from typing import Any

from consent_service.sites.model import Cookie, Service, VendorCall
from consent_service.sites.rules import (
    CATEGORY_ID,
    COOKIE_NAME,
    DATA_LOCATIONS,
    JS_GLOBAL,
    LIFETIME,
    SERVICE_ORIGIN,
    ConfigError,
)
from consent_service.sites.templates import with_template
from consent_service.sites.values import (
    read_list,
    read_str,
    read_str_list,
    read_table,
    read_texts_one,
)

_SERVICE_KEYS = frozenset(
    {"id", "name", "provider", "script", "origins", "cookies", "data_location", "calls"}
)


def read_service(raw: Any, where: str, languages: tuple[str, ...]) -> Service:
    """The service table at ``where``, laid over its template if it names one."""
    table = read_table(raw, where)
    template_name = table.get("service")
    if template_name is not None:
        table = with_template(table, where)
    unknown = set(table) - _SERVICE_KEYS
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    sid = read_str(table, "id", where)
    if not CATEGORY_ID.fullmatch(sid):
        raise ConfigError(f"{where}.id: lowercase letters, digits and '-', starting with a letter")
    origins = tuple(read_str_list(table, "origins", where, default=[]))
    for origin in origins:
        if not SERVICE_ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"{where}.origins: {origin!r} is not an origin like 'https://cdn.example.com', "
                "'https://*.example.com' or 'wss://*.example.com'"
            )
    cookies = tuple(
        _cookie(c, f"{where}.cookies[{k}]", languages)
        for k, c in enumerate(read_list(table, "cookies", where))
    )
    location = table.get("data_location")
    if location is not None and location not in DATA_LOCATIONS:
        raise ConfigError(f"{where}.data_location: must be one of {', '.join(DATA_LOCATIONS)}")
    calls = read_table(table.get("calls", {}), f"{where}.calls")
    extra = set(calls) - {"grant", "deny"}
    if extra:
        raise ConfigError(f"{where}.calls.{sorted(extra)[0]}: unknown key; use grant or deny")
    return Service(
        id=sid,
        name=read_str(table, "name", where),
        provider=read_str(table, "provider", where),
        script=read_str(table, "script", where, default=""),
        origins=origins,
        cookies=cookies,
        template=template_name,
        data_location=location,
        grant=_calls(calls, "grant", f"{where}.calls"),
        deny=_calls(calls, "deny", f"{where}.calls"),
    )


def _calls(table: dict[str, Any], key: str, where: str) -> tuple[VendorCall, ...]:
    """``calls.grant`` or ``calls.deny``: ``{ push = "_paq", args = [...] }`` or ``{ call = … }``."""
    out = []
    for i, raw in enumerate(read_list(table, key, where)):
        here = f"{where}.{key}[{i}]"
        entry = read_table(raw, here)
        kinds = [k for k in ("push", "call") if k in entry]
        if len(kinds) != 1 or set(entry) - {"push", "call", "args", "queue"}:
            raise ConfigError(f"{here}: one of push or call (a global's name), and args")
        target = entry[kinds[0]]
        if not isinstance(target, str) or not JS_GLOBAL.fullmatch(target):
            raise ConfigError(f"{here}.{kinds[0]}: not a JavaScript global's name")
        queue = entry.get("queue")
        if queue is not None and (
            kinds[0] != "call" or not isinstance(queue, str) or not JS_GLOBAL.fullmatch(queue)
        ):
            raise ConfigError(f"{here}.queue: the property name of a call's queue stub")
        args = entry.get("args", [])
        if (
            not isinstance(args, list)
            or len(args) > 8
            or not all(isinstance(a, (str, int, float, bool)) for a in args)
        ):
            raise ConfigError(f"{here}.args: a list of at most 8 strings, numbers or booleans")
        out.append(VendorCall(kinds[0], target, tuple(args), queue))
    return tuple(out)


def _cookie(raw: Any, where: str, languages: tuple[str, ...]) -> Cookie:
    table = read_table(raw, where)
    unknown = set(table) - {"name", "provider", "purpose", "lifetime"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    name = read_str(table, "name", where)
    if not COOKIE_NAME.fullmatch(name):
        raise ConfigError(f"{where}.name: not a valid cookie name")
    if "lifetime" not in table:
        raise ConfigError(f"{where}.lifetime: missing; every cookie declares its lifetime (C2)")
    lifetime = read_str(table, "lifetime", where)
    if not LIFETIME.fullmatch(lifetime):
        raise ConfigError(
            f"{where}.lifetime: {lifetime!r} is not 'session' or a number with min, h, d, mo or y"
        )
    if "purpose" not in table:
        raise ConfigError(f"{where}.purpose: missing; every cookie declares its purpose (C2)")
    purpose = table["purpose"]
    if isinstance(purpose, str):
        purpose = dict.fromkeys(languages, purpose)
    purpose = read_texts_one(purpose, f"{where}.purpose", languages)
    return Cookie(
        name=name, provider=read_str(table, "provider", where), purpose=purpose, lifetime=lifetime
    )
