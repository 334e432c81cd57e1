"""``receipt verify``: check a visitor's receipt, offline and against the site's log.

What each step proves, so the output can say what was and was not checked:

* **leaf**: the receipt's ``leaf_hash`` is the hash of its ``row``, so the row shown is
  the row the rest of the receipt speaks about;
* **signature**: the log's key signed this receipt (a ``--key`` you hold, else the key
  the ``--log`` serves, which proves only as much as that server is trusted);
* **head** and **inclusion** (``--log``): the log's newest head is signed by that key,
  and an RFC 9162 inclusion proof puts the leaf under it, so the row is still in the
  log the service shows everybody, not only on the visitor's paper.

Exit status: 0 when the signature verified against a key and every asked-for check
passed; 1 when a check failed or the signature could not be checked (no key); 2 for
a usage or input error (unreadable or non-JSON file, bad ``--key``, unreachable log).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from pathlib import Path
from typing import Any

from consent_service.audit.canonical import canonical_json
from consent_service.audit.heads import HeadError, Verifier
from consent_service.audit.logclient import LogUnreachable, get_json, log_url, signed_head
from consent_service.audit.merkle import leaf_hash, verify_inclusion
from consent_service.audit.receipts import ReceiptError, check_receipt
from consent_service.sites.rules import SITE_ID


class InputError(Exception):
    """The command cannot start or go on checking: exit 2 with this message."""


def add_commands(sub: Any) -> None:
    """Register ``receipt verify``."""
    receipt = sub.add_parser(
        "receipt", help="check a visitor's consent receipt", description="Consent receipts."
    )
    receipt_sub = receipt.add_subparsers(dest="receipt_command", required=True, metavar="ACTION")
    verify = receipt_sub.add_parser(
        "verify",
        help="check a receipt's signature, and with --log its place in the log",
        description="Check a receipt's row and signature offline; with --log, also that "
        "the log's newest signed head includes the row. Exit 0 verified, 1 a check failed "
        "or the signature could not be checked, 2 a usage or input error.",
    )
    verify.add_argument("file", type=Path, metavar="FILE", help="the receipt (JSON)")
    verify.add_argument(
        "--log",
        metavar="URL",
        help="the service's base URL, e.g. https://consent.example.se: fetch its keys, "
        "newest head and an inclusion proof",
    )
    verify.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="VKEY",
        help="a trusted verifier key (name+id+base64, as GET …/log/key lists); repeatable. "
        "Given, the log's own keys are not trusted",
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(func=cmd_receipt_verify)


def cmd_receipt_verify(args: argparse.Namespace) -> int:
    """``receipt verify``: print what was checked; exit 0, 1 or 2 (see the module)."""
    checks: dict[str, str] = {}
    result: dict[str, Any] = {"file": str(args.file), "checks": checks}
    try:
        document = _read(args.file)
        body = _body(document)
        result.update(_summary(body))
        pinned = [_verifier(v) for v in args.key]
        checks["leaf"] = _leaf(body)
        log_keys = _log_keys(args.log, body["site_id"]) if args.log else []
        trusted, source = (pinned, "--key") if pinned else (log_keys, "the log")
        checks["signature"] = _signature(document, trusted, source)
        if args.log:
            head = _head(args.log, body, trusted, source)
            result["head"] = {"size": head[0], "timestamp": head[1]}
            checks["head"] = f"verified: size {head[0]}, signed by {body['origin']} ({source})"
            checks["inclusion"] = _inclusion(args.log, body, head[0], head[2])
    except InputError as exc:
        return _finish(args, result, f"error: {exc}", 2)
    except ReceiptError as exc:
        return _finish(args, result, f"not verified: {exc}", 1)
    if not checks["signature"].startswith("verified"):
        return _finish(args, result, "not verified: the signature was not checked", 1)
    return _finish(args, result, "verified", 0)


def _finish(args: argparse.Namespace, result: dict[str, Any], outcome: str, code: int) -> int:
    result["ok"] = code == 0
    result["outcome"] = outcome
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return code
    for name in ("site_id", "consent_id", "action", "created_at", "leaf_index"):
        if name in result:
            print(f"{name}: {result[name]}")
    for name, text in result["checks"].items():
        print(f"{name}: {text}")
    if not args.log and code != 2:
        print("log: not checked (give --log URL to check the row is still in the log)")
    print(outcome, file=sys.stderr if code == 2 else sys.stdout)
    return code


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not JSON ({exc}): not a receipt") from None


def _body(document: Any) -> dict[str, Any]:
    """The receipt's body, checked just enough to read it; :func:`check_receipt` does
    the rest when there is a key."""
    body = document.get("receipt") if isinstance(document, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("row"), dict):
        raise ReceiptError("not a receipt: no receipt.row member")
    for name in ("site_id", "origin", "leaf_hash"):
        if not isinstance(body.get(name), str):
            raise ReceiptError(f"not a receipt: receipt.{name} is not text")
    index = body.get("leaf_index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ReceiptError("not a receipt: receipt.leaf_index is not a leaf index")
    if not SITE_ID.match(body["site_id"]):
        raise ReceiptError(f"not a receipt: {body['site_id']!r} is not a site id")
    return body


def _summary(body: dict[str, Any]) -> dict[str, Any]:
    row = body["row"]
    out: dict[str, Any] = {"site_id": body["site_id"], "leaf_index": body["leaf_index"]}
    for name in ("consent_id", "action", "created_at", "policy_version", "choices"):
        if name in row:
            out[name] = row[name]
    return out


def _verifier(vkey: str) -> Verifier:
    try:
        return Verifier.from_vkey(vkey)
    except HeadError as exc:
        raise InputError(f"--key {vkey!r}: {exc}") from None


def _leaf(body: dict[str, Any]) -> str:
    try:
        claimed = base64.b64decode(body["leaf_hash"], validate=True)
    except (binascii.Error, ValueError):
        raise ReceiptError("leaf_hash is not base64") from None
    if leaf_hash(canonical_json(body["row"])) != claimed:
        raise ReceiptError("leaf_hash is not the hash of the receipt's row: the row was edited")
    return "ok: leaf_hash is the hash of the row"


def _signature(document: Any, trusted: list[Verifier], source: str) -> str:
    if not trusted:
        return "NOT CHECKED: no trusted key (give --key VKEY, or --log URL to use its key)"
    receipt = check_receipt(document, trusted)
    return f"verified: signed by the log key of {receipt.origin} (key from {source})"


def _get(base: str, site_id: str, route: str) -> Any:
    """The JSON answer of ``GET {base}/v1/sites/{site}/{route}``."""
    try:
        return get_json(log_url(base, site_id, route))
    except LogUnreachable as exc:
        raise InputError(f"--log: {exc}") from None


def _log_keys(base: str, site_id: str) -> list[Verifier]:
    answer = _get(base, site_id, "log/key")
    try:
        return [Verifier.from_vkey(k["vkey"]) for k in answer["keys"]]
    except (KeyError, TypeError, HeadError) as exc:
        raise InputError(f"the log's key list does not parse: {exc}") from None


def _head(
    base: str, body: dict[str, Any], trusted: list[Verifier], source: str
) -> tuple[int, int, bytes]:
    """The size, time and root of the log's newest head, which ``trusted`` signed."""
    answer = _get(base, body["site_id"], "log/head")
    try:
        head = signed_head(answer, trusted)
    except HeadError as exc:
        message = f"the log's head does not verify with the key from {source}: {exc}"
        raise ReceiptError(message) from None
    if head.checkpoint.origin != body["origin"]:
        raise ReceiptError(f"the log's head is of {head.checkpoint.origin}, not {body['origin']}")
    if head.checkpoint.size <= body["leaf_index"]:
        raise ReceiptError(
            f"the log's newest head (size {head.checkpoint.size}) does not reach "
            f"leaf {body['leaf_index']}: the row is missing from the log"
        )
    return head.checkpoint.size, head.timestamp, head.checkpoint.root_hash


def _inclusion(base: str, body: dict[str, Any], size: int, root: bytes) -> str:
    index = body["leaf_index"]
    answer = _get(base, body["site_id"], f"log/inclusion?index={index}&size={size}")
    try:
        proof = [base64.b64decode(p, validate=True) for p in answer["proof"]]
    except (KeyError, TypeError, binascii.Error, ValueError):
        raise InputError("the log's inclusion proof does not parse") from None
    leaf = base64.b64decode(body["leaf_hash"])
    if not verify_inclusion(leaf, index, size, proof, root):
        raise ReceiptError(f"the log's proof does not put leaf {index} under its head")
    return f"verified: leaf {index} is in the signed head of size {size}"
