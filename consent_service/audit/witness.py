"""A witness: someone else keeps the log's signed heads, and checks each is consistent.

``consent-service witness`` runs this from another machine (or cron): it fetches a
site's newest signed head, checks the signature with the key it pinned on its first
run, checks with a consistency proof that the new tree extends the last head it kept,
and appends the head to a JSON-lines file. ``consent-service verify --heads FILE``
then holds the database to every head in that file: a later rewrite, cut or forged
tail can no longer match them, whoever has the database.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consent_service.audit import merkle
from consent_service.audit.heads import HeadError, SignedHead, Verifier
from consent_service.audit.logclient import LogUnreachable, get_json, signed_head
from consent_service.audit.timefmt import format_time, parse_time

#: Keep a head of an unchanged size again once this old (seconds): its timestamp then
#: bounds, for a later verify, when the log had that size.
REFRESH = 3600


class WitnessError(Exception):
    """The log could not be checked (unreachable, malformed answer, unknown key)."""


class Inconsistent(WitnessError):
    """The log's new head does not extend the last one kept: it rewrote its history."""


@dataclass(frozen=True)
class WitnessedHead:
    """One line of a witness's file: a signed head, the key it verified with, when."""

    site_id: str
    checkpoint: str
    vkey: str | None
    fetched_at: str
    tree_size: int = 0
    root_hash: str = ""

    def seen(self) -> float:
        """When the witness saw this head as the newest (seconds; 0 if unreadable)."""
        return _seconds(self.fetched_at)


def read_heads(path: Path) -> list[WitnessedHead]:
    """Every head in a witness file; a malformed line is an error naming it."""
    heads = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            heads.append(
                WitnessedHead(
                    site_id=str(data["site_id"]),
                    checkpoint=str(data["checkpoint"]),
                    vkey=None if data.get("vkey") is None else str(data["vkey"]),
                    fetched_at=str(data.get("fetched_at", "")),
                    tree_size=int(data.get("tree_size", 0)),
                    root_hash=str(data.get("root_hash", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise WitnessError(f"{path}:{number}: not a witnessed head ({exc})") from None
    return heads


Fetch = Callable[[str], Any]


def http_json(url: str) -> Any:
    """:func:`~.logclient.get_json`, its failures as :class:`WitnessError`."""
    try:
        return get_json(url)
    except LogUnreachable as exc:
        raise WitnessError(str(exc)) from None


@dataclass(frozen=True)
class Observation:
    """What one round found: ``new`` (kept), ``same`` (nothing to keep) or ``first``."""

    status: str
    head: SignedHead


class Witness:
    """Watches one site of one log, keeping its heads in ``path``."""

    def __init__(
        self,
        base_url: str,
        site_id: str,
        path: Path,
        keys: Sequence[str] = (),
        fetch: Fetch = http_json,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base = base_url.rstrip("/") + f"/v1/sites/{site_id}/log"
        self.site_id = site_id
        self.path = path
        self.keys = list(keys)
        self._fetch = fetch
        self._clock = clock

    def kept(self) -> list[WitnessedHead]:
        """The heads of this site kept so far."""
        if not self.path.exists():
            return []
        return [h for h in read_heads(self.path) if h.site_id == self.site_id]

    def observe(self) -> Observation:
        """One round: fetch, check, keep. Raises :class:`Inconsistent` on a rewrite."""
        kept = self.kept()
        vkeys = self.keys or [h.vkey for h in kept if h.vkey]
        first = not vkeys
        if first:  # trust on first use, as SSH does: pin the log's current key
            answer = self._fetch(f"{self.base}/key")
            try:
                vkeys = [k["vkey"] for k in answer["keys"] if k["current"]]
            except (KeyError, TypeError):
                raise WitnessError("the log's /log/key answer is malformed") from None
        verifiers = [Verifier.from_vkey(v) for v in dict.fromkeys(vkeys)]
        answer = self._fetch(f"{self.base}/head")
        try:
            head = signed_head(answer, verifiers)
        except HeadError as exc:
            raise WitnessError(
                f"the head does not verify with the pinned key ({exc}); if the log rotated "
                "its key, pass the new one with --key"
            ) from None
        if not head.checkpoint.origin.endswith("/" + self.site_id):
            raise WitnessError(f"the head is of {head.checkpoint.origin}, not of {self.site_id}")
        status = "first" if not kept else self._check(kept, head)
        if status != "same":
            self._keep(head, vkeys[0])
        return Observation(status, head)

    def _check(self, kept: list[WitnessedHead], head: SignedHead) -> str:
        last = max(kept, key=lambda h: h.tree_size)
        old_size, old_root = last.tree_size, base64.b64decode(last.root_hash)
        new = head.checkpoint
        if new.size < old_size:
            raise Inconsistent(f"the log shrank from {old_size} to {new.size} leaves")
        if new.size == old_size:
            if new.root_hash != old_root:
                raise Inconsistent(f"two heads of size {new.size} with different roots")
            age = self._clock().timestamp() - max(_seconds(h.fetched_at) for h in kept)
            return "new" if age >= REFRESH else "same"
        answer = self._fetch(f"{self.base}/consistency?from={old_size}&to={new.size}")
        try:
            proof = [base64.b64decode(h) for h in answer["proof"]]
        except (KeyError, TypeError, ValueError):
            raise WitnessError("the log's consistency answer is malformed") from None
        if not merkle.verify_consistency(old_size, new.size, old_root, new.root_hash, proof):
            raise Inconsistent(
                f"the tree of {new.size} does not extend the kept head of {old_size}: "
                "the log rewrote its history"
            )
        return "new"

    def _keep(self, head: SignedHead, vkey: str) -> None:
        line = WitnessedHead(
            site_id=self.site_id,
            checkpoint=head.note,
            vkey=vkey,
            fetched_at=format_time(self._clock()),
            tree_size=head.checkpoint.size,
            root_hash=base64.b64encode(head.checkpoint.root_hash).decode(),
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(line), ensure_ascii=False) + "\n")


def _seconds(text: str) -> float:
    try:
        return parse_time(text).timestamp()
    except ValueError:
        return 0.0
