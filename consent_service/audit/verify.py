"""Checking a chain: rows fed oldest first, the first broken one named (C22).

A purge (C21) deletes a prefix of a site's chain and appends a checkpoint row naming
the hash it continued from: :func:`anchors_from` turns those into anchors, hashes a
site's first remaining row may start from instead of the genesis hash.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from consent_service.audit.canonical import UnencodableValue
from consent_service.audit.chain import GENESIS, row_hash
from consent_service.audit.events import CHECKPOINT, AuditRow


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the chain."""

    rows_checked: int
    ok: bool
    first_broken_seq: int | None = None
    site_id: str | None = None
    reason: str | None = None
    heads: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as the admin API and the CLI print it."""
        return {
            "ok": self.ok,
            "rows_checked": self.rows_checked,
            "first_broken": None
            if self.ok
            else {"seq": self.first_broken_seq, "site_id": self.site_id, "reason": self.reason},
        }


class ChainVerifier:
    """Checks rows fed oldest first; memory is one hash per site and per texts version."""

    def __init__(self, anchors: Mapping[str, Iterable[str]] | None = None) -> None:
        self._heads: dict[str, str] = {}
        #: Each ``texts_hash`` the rows name, with the site of the first row naming it.
        self.texts_named: dict[str, str] = {}
        self._anchors = {site: set(hashes) for site, hashes in (anchors or {}).items()}
        self._last_seq = 0
        self.rows_checked = 0
        self.broken: tuple[int, str, str] | None = None

    def feed(self, row: AuditRow) -> bool:
        """Check one row; False (and :attr:`broken` set) at the first broken one."""
        if self.broken is not None:
            return False
        self.rows_checked += 1
        expected_prev = self._heads.get(row.site_id)
        if row.seq <= self._last_seq:
            self.broken = (row.seq, row.site_id, "sequence out of order")
        elif (
            expected_prev is None
            and row.prev_hash != GENESIS
            and (row.prev_hash not in self._anchors.get(row.site_id, ()))
        ):
            self.broken = (row.seq, row.site_id, "first row does not start the chain")
        elif expected_prev is not None and row.prev_hash != expected_prev:
            self.broken = (row.seq, row.site_id, "prev_hash does not match the previous row")
        elif not _hashes_to(row):
            self.broken = (row.seq, row.site_id, "row content does not match its hash")
        if self.broken is not None:
            return False
        self._heads[row.site_id] = row.hash
        self._last_seq = row.seq
        if row.texts_hash:
            self.texts_named.setdefault(row.texts_hash, row.site_id)
        return True

    def result(self) -> VerifyResult:
        """What was found so far."""
        if self.broken is None:
            return VerifyResult(self.rows_checked, True, heads=dict(self._heads))
        seq, site_id, reason = self.broken
        return VerifyResult(self.rows_checked, False, seq, site_id, reason, dict(self._heads))


def _hashes_to(row: AuditRow) -> bool:
    """Whether ``row``'s content hashes to its ``hash`` (a value with no JSON form never does)."""
    try:
        return row_hash(row.seq, row.prev_hash, row) == row.hash
    except UnencodableValue:  # only a row edited in the database can hold one
        return False


def anchors_from(checkpoints: Iterable[AuditRow]) -> dict[str, set[str]]:
    """Verify anchors per site: every ``continued_from`` a checkpoint row records."""
    anchors: dict[str, set[str]] = {}
    for row in checkpoints:
        if row.action == CHECKPOINT and row.detail and row.detail.get("continued_from"):
            anchors.setdefault(row.site_id, set()).add(str(row.detail["continued_from"]))
    return anchors


async def feed(verifier: ChainVerifier, rows: AsyncIterator[AuditRow]) -> None:
    """Feed ``rows`` to ``verifier`` up to the first broken one, then close them."""
    try:
        async for row in rows:
            if not verifier.feed(row):
                break
    finally:
        await close(rows)


async def verify_rows(
    rows: AsyncIterator[AuditRow], anchors: Mapping[str, Iterable[str]] | None = None
) -> VerifyResult:
    """Walk ``rows`` (oldest first) and report the first broken one."""
    verifier = ChainVerifier(anchors)
    await feed(verifier, rows)
    return verifier.result()


async def close(rows: AsyncIterator[Any]) -> None:
    """Close an async row iterator left early (its database cursor is released now)."""
    aclose = getattr(rows, "aclose", None)
    if aclose is not None:
        await aclose()
