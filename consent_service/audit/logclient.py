"""Reading a kakor log over HTTP, as a witness or a visitor's receipt check does.

Only the standard library, only ``http`` and ``https``, a bounded answer, and every
failure one :class:`LogUnreachable` saying what went wrong.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from consent_service.audit.heads import HeadError, SignedHead, Verifier, verify_head

TIMEOUT = 10.0
#: A head, a key list or a proof is a few KiB; anything this large is not one.
MAX_ANSWER = 1 << 20


class LogUnreachable(Exception):
    """The log could not be asked, or did not answer with JSON."""


def log_url(base: str, site_id: str, route: str) -> str:
    """``{base}/v1/sites/{site}/{route}``; ``base`` must be an http(s) URL."""
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise LogUnreachable(f"{base!r} is not an http(s) URL")
    return f"{base.rstrip('/')}/v1/sites/{urllib.parse.quote(site_id)}/{route}"


def get_json(url: str) -> Any:
    """The JSON answer of ``GET url`` (an http(s) URL from :func:`log_url`)."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise LogUnreachable(f"{url!r} is not an http(s) URL")
    # The scheme is checked above: never file: or another of urllib's schemes.
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310
            raw = answer.read(MAX_ANSWER + 1)
    except urllib.error.HTTPError as exc:
        raise LogUnreachable(f"{url}: the log answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise LogUnreachable(f"{url}: cannot reach the log ({exc})") from None
    if len(raw) > MAX_ANSWER:
        raise LogUnreachable(f"{url}: the answer is too large")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise LogUnreachable(f"{url}: the answer is not JSON") from None


def signed_head(answer: Any, verifiers: Iterable[Verifier]) -> SignedHead:
    """The head in a ``/log/head`` answer, signed by one of ``verifiers``; else
    :class:`~.heads.HeadError` (a missing checkpoint included)."""
    note = answer.get("checkpoint") if isinstance(answer, dict) else None
    if not isinstance(note, str):
        raise HeadError("the log's head answer has no checkpoint")
    return verify_head(note, verifiers)
