"""The visitor's receipt: their audit row, its place in the log, signed by the log's key.

A receipt is a small JSON document the visitor keeps::

    {"receipt": {"format": "kakor-receipt/v1", "site_id": …, "origin": …,
                 "leaf_index": 41, "leaf_hash": "…", "row": {…the row's hashed content…}},
     "signature": "— consent.example.se/demo AbCd…"}

``row`` is exactly the content the row's hash and its Merkle leaf cover, so anyone can
recompute ``leaf_hash`` from it (``SHA-256(0x00 || canonical JSON)``). ``signature`` is
a c2sp.org/signed-note signature line by the site's log key over
``kakor-receipt/v1``, a newline, the canonical JSON of ``receipt`` and a newline: the
same key and format as the site's heads, but a message no head can be (a head's second
line is a number). ``consent-service receipt verify`` checks it offline, and with
``--log`` that the leaf is in a later signed head.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from consent_service.audit.canonical import canonical_json
from consent_service.audit.chain import row_content, row_leaf
from consent_service.audit.events import AuditRow
from consent_service.audit.heads import HeadError, Verifier, open_note
from consent_service.audit.merkle import leaf_hash
from consent_service.audit.signing import LogSigner

FORMAT = "kakor-receipt/v1"


class ReceiptError(ValueError):
    """A receipt that is malformed, or whose signature or leaf does not check."""


def _message(body: Mapping[str, Any]) -> str:
    return f"{FORMAT}\n{canonical_json(dict(body)).decode()}\n"


def make_receipt(row: AuditRow, signer: LogSigner) -> dict[str, Any]:
    """The signed receipt of ``row``."""
    body = {
        "format": FORMAT,
        "site_id": row.site_id,
        "origin": signer.origin(row.site_id),
        "leaf_index": row.leaf_index,
        "leaf_hash": base64.b64encode(row_leaf(row)).decode(),
        "row": row_content(row.seq, row),
    }
    return {"receipt": body, "signature": signer.sign_text(row.site_id, _message(body))}


@dataclass(frozen=True)
class Receipt:
    """A receipt whose signature and leaf hash checked."""

    site_id: str
    origin: str
    leaf_index: int
    leaf_hash: bytes
    row: Mapping[str, Any]
    #: The key name and ID (hex) that signed it.
    signed_by: str


def check_receipt(document: Any, verifiers: Iterable[Verifier]) -> Receipt:
    """The receipt in ``document`` if signed by one of ``verifiers`` under its origin and its
    leaf hash is its row's; else :class:`ReceiptError` saying what failed."""
    if not isinstance(document, dict) or set(document) != {"receipt", "signature"}:
        raise ReceiptError("a receipt has exactly the members receipt and signature")
    body, line = document["receipt"], document["signature"]
    fields = {"format", "site_id", "origin", "leaf_index", "leaf_hash", "row"}
    if not isinstance(body, dict) or set(body) != fields or not isinstance(line, str):
        raise ReceiptError(f"the receipt's members are {', '.join(sorted(fields))}")
    if body["format"] != FORMAT or not isinstance(body["row"], dict):
        raise ReceiptError(f"not a {FORMAT} receipt")
    index = body["leaf_index"]
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ReceiptError("leaf_index is not a leaf index")
    try:
        _, signers = open_note(_message(body) + "\n" + line.rstrip("\n") + "\n", verifiers)
    except HeadError as exc:
        raise ReceiptError(f"the signature does not verify: {exc}") from None
    if not any(name == body["origin"] for name, _ in signers):
        raise ReceiptError(f"not signed by the log key of {body['origin']}")
    try:
        claimed = base64.b64decode(body["leaf_hash"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise ReceiptError("leaf_hash is not base64") from None
    if leaf_hash(canonical_json(body["row"])) != claimed:
        raise ReceiptError("leaf_hash is not the hash of the receipt's row")
    return Receipt(body["site_id"], body["origin"], index, claimed, body["row"], body["origin"])
