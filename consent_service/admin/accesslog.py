"""The admin access log: every lookup, export, stats and verify, with who and when (C23).

GDPR art. 30 asks for a record of processing; the EDPB taskforce (TF §28) asks that
access to consent records be controlled. Each entry names the token (its id, never
the token), its role, the site, the action and the query; no client address is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from consent_service.admin.auth import Principal
from consent_service.admin.export.manifest import Manifest
from consent_service.store import AccessEntry, Store

#: The ``token_id`` recorded for commands run on the server (``consent-service export``).
CLI_ACTOR = "cli"


async def record(
    store: Store,
    who: Principal | None,
    site_id: str | None,
    action: str,
    detail: Mapping[str, Any],
    at: datetime,
) -> int:
    """Append one entry, return its id; ``who=None`` means the command line (an operator)."""
    return await store.log_access(
        AccessEntry(
            at=at,
            token_id=who.token_id if who else CLI_ACTOR,
            role=who.role if who else "operator",
            site_id=site_id,
            action=action,
            detail=_present(detail),
        )
    )


def export_ended(
    store: Store, entry_id: int, extra: Mapping[str, Any] | None = None
) -> Callable[[Manifest, bool], Awaitable[None]]:
    """An exporter's ``on_end``: entry ``entry_id`` gets the manifest of what was served.

    The entry is written before the first row (a crash mid-export still leaves it); when
    the stream ends its ``detail`` becomes the real row count, seqs and SHA-256, with
    ``"complete": false`` when the reader went away before the end.
    """

    async def ended(manifest: Manifest, whole: bool) -> None:
        detail = {**manifest.to_dict(), **(extra or {}), "complete": whole}
        await store.complete_access(entry_id, _present(detail))

    return ended


def _present(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if v is not None}
