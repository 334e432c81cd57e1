"""Pure consent rules: parse a visitor's choice, fill in the required categories, expiry.

No I/O here: everything is a function of the site config and the request body, so
the rules can be tested exhaustively (C10, C11, C16).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from consent_service.consent.storable import RULE, is_storable
from consent_service.consent.tokens import mask_choices
from consent_service.sites import Site
from consent_service.web.errors import InvalidField

#: What a visitor's POST may say it is.
POST_ACTIONS = ("accept-all", "reject-all", "save", "placeholder", "gpc")
_BODY_KEYS = {"choices", "action", "language", "policy_version", "page", "widget_version", "token"}
_WITHDRAW_KEYS = {"language", "page", "widget_version", "token"}
MAX_PAGE = 2048
MAX_WIDGET_VERSION = 32
#: What ``widget_version`` may be: a version string, never free text.
WIDGET_VERSION = re.compile(rf"[0-9A-Za-z][0-9A-Za-z._+-]{{0,{MAX_WIDGET_VERSION - 1}}}")


@dataclass(frozen=True, slots=True)
class Decision:
    """A validated decision: every category explicit, the required ones on."""

    choices: dict[str, bool]
    action: str
    language: str
    policy_version: str
    page: str
    widget_version: str
    gpc: bool
    token: str | None


def parse_decision(site: Site, body: Any, *, gpc_header: bool) -> Decision:
    """Validate a ``POST …/consent`` body against ``site``; raise :class:`InvalidField`.

    ``accept-all`` and ``reject-all`` decide every optional category; ``save`` takes
    ``choices`` as given (an unticked or absent category is refused, C11), and so does
    ``placeholder`` (the same, from an embed's "always allow" button); ``gpc``
    refuses everything. With ``Sec-GPC: 1`` and no action, the decision is a GPC
    refusal (C16); an explicit opt-in is still honoured and marked ``gpc``.
    """
    if not isinstance(body, dict):
        raise InvalidField("body", "must be a JSON object")
    if not body.keys() <= _BODY_KEYS:
        raise InvalidField(sorted(set(body) - _BODY_KEYS)[0], "unknown field")
    action = body.get("action")
    if action is None and gpc_header:
        action = "gpc"
    if not isinstance(action, str) or action not in POST_ACTIONS:
        raise InvalidField("action", f"must be one of {', '.join(POST_ACTIONS)}")
    raw_choices = body.get("choices", {})
    given = _choices(site, raw_choices)  # optional categories only
    if action in ("save", "placeholder"):
        mask = encode_mask(site, given)
    else:  # accept-all allows every optional category; the others refuse them all
        allowed = action == "accept-all"
        conflict = [cid for cid, value in given.items() if value is not allowed]
        if conflict:
            raise InvalidField(f"choices.{conflict[0]}", f"contradicts action {action!r}")
        mask = (1 << len(site.optional_ids)) - 1 if allowed else 0
    return Decision(
        choices=choices_for(site, mask),
        action=action,
        language=_language(site, body.get("language")),
        policy_version=_policy_version(site, body.get("policy_version")),
        page=clean_page(body.get("page")),
        widget_version=_widget_version(body.get("widget_version")),
        gpc=gpc_header or action == "gpc",
        token=_token(body.get("token")),
    )


def parse_withdrawal(site: Site, body: Any) -> Decision:
    """Validate the ``DELETE …/consent`` body (``{}`` when none was sent).

    A withdrawal refuses every optional category. The body, when sent, is an object,
    as for a consent: JSON ``null`` is refused like any other non-object.
    """
    if not isinstance(body, dict):
        raise InvalidField("body", "must be a JSON object")
    unknown = set(body) - _WITHDRAW_KEYS
    if unknown:
        raise InvalidField(sorted(unknown)[0], "unknown field")
    return Decision(
        choices=complete(site, {}),
        action="withdraw",
        language=_language(site, body.get("language")),
        policy_version=site.policy_version,
        page=clean_page(body.get("page")),
        widget_version=_widget_version(body.get("widget_version")),
        gpc=False,
        token=_token(body.get("token")),
    )


def complete(site: Site, optional: Mapping[str, bool]) -> dict[str, bool]:
    """Every category of ``site`` in config order, required ones always true."""
    return choices_for(site, encode_mask(site, optional))


def encode_mask(site: Site, choices: Mapping[str, bool]) -> int:
    """The token's bitmask: bit k is the k-th optional category."""
    return sum(1 << k for k, cid in enumerate(site.optional_ids) if choices.get(cid))


def decode_mask(site: Site, mask: int) -> dict[str, bool] | None:
    """Choices from a token's bitmask, or None if it names categories the site lacks."""
    return mask_choices(site.categories, mask)


def choices_for(site: Site, mask: int) -> dict[str, bool]:
    """Every category of ``site`` in config order for token bitmask ``mask``.

    ``mask`` is one this module built: a bit beyond the site's categories is a bug.
    """
    choices = mask_choices(site.categories, mask)
    if choices is None:
        raise ValueError(f"mask {mask} names a category site {site.id!r} lacks")
    return choices


def expires_at(site: Site, given_at: datetime) -> datetime:
    """When a decision given at ``given_at`` lapses (C15: refusals last as long as consents)."""
    return given_at + timedelta(days=site.consent_lifetime_days)


def clean_page(value: Any) -> str:
    """Origin and path of a page URL, without query string or fragment (C20)."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > MAX_PAGE:
        raise InvalidField("page", f"must be a URL of at most {MAX_PAGE} characters")
    if not is_storable(value):
        raise InvalidField("page", RULE)
    try:  # urlsplit and .port raise ValueError on a bad port or IPv6 literal
        parts = urlsplit(value)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise InvalidField("page", "must be an http or https URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidField("page", "must be an http or https URL")
    return f"{parts.scheme}://{host}{port}{parts.path or '/'}"


def to_utc(timestamp: int) -> datetime:
    """A POSIX timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _choices(site: Site, raw: Any) -> dict[str, bool]:
    if not isinstance(raw, dict):
        raise InvalidField("choices", "must be an object of category id to true/false")
    ids = site.category_ids
    out: dict[str, bool] = {}
    for key, value in raw.items():
        if key not in ids:
            raise InvalidField(f"choices.{key}", "unknown category")
        if not isinstance(value, bool):
            raise InvalidField(f"choices.{key}", "must be true or false")
        if key not in site.required_ids:
            out[key] = value
    return out


def _language(site: Site, value: Any) -> str:
    if value is None:
        return site.default_language
    if not isinstance(value, str) or value not in site.languages:
        raise InvalidField("language", f"must be one of {', '.join(site.languages)}")
    return value


def _policy_version(site: Site, value: Any) -> str:
    if value is None:
        return site.policy_version
    if not isinstance(value, str):
        raise InvalidField("policy_version", "must be a string")
    if value != site.policy_version:
        raise InvalidField(
            "policy_version", f"{value[:40]!r} is not the current policy version; reload the banner"
        )
    return value


def _widget_version(value: Any) -> str:
    """A version string such as ``1.4.0`` or ``1.4.0-rc.1+build.7``, or "" when absent.

    Only letters, digits and ``. _ + -``, starting with a letter or digit: such a value
    can never be taken for a spreadsheet formula in an export, nor carry markup.
    """
    if value is None:
        return ""
    if not isinstance(value, str) or not WIDGET_VERSION.fullmatch(value):
        raise InvalidField(
            "widget_version",
            f"must be a version of at most {MAX_WIDGET_VERSION} letters, digits, '.', '_', '+' "
            "or '-', starting with a letter or digit",
        )
    return value


def _token(value: Any) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or len(value) > 512
        or not (value.isascii() and value.isprintable())
    ):
        raise InvalidField("token", "must be printable ASCII of at most 512 characters")
    return value
