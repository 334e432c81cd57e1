"""The admin access log: every lookup, export, stats and verify, with who and when (C23).

GDPR art. 30 asks for a record of processing; the EDPB taskforce (TF §28) asks that
access to consent records be controlled. Each entry names the token (its id, never
the token), its role, the site, the action and the query; no client address is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consent_service.admin.auth import Principal
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
) -> None:
    """Append one entry; ``who=None`` means the command line (an operator on the server)."""
    await store.log_access(
        AccessEntry(
            at=at,
            token_id=who.token_id if who else CLI_ACTOR,
            role=who.role if who else "operator",
            site_id=site_id,
            action=action,
            detail={k: v for k, v in detail.items() if v is not None},
        )
    )
