"""``witness`` and ``log-key``: keeping the log's heads elsewhere, and its signing key.

``witness`` is meant to run from another machine, or cron: each round fetches a site's
signed head, checks it extends the last one kept, and appends it to a file that
``verify --heads`` later holds the database to. ``log-key`` creates the log's key,
shows its public keys, and rotates it.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from pathlib import Path
from typing import Any

from consent_service.audit.heads import HeadError, create_key_file, load_key_file
from consent_service.audit.signing import LogSigner, key_path, log_name
from consent_service.audit.witness import Inconsistent, Witness, WitnessError
from consent_service.cli.common import settings_of


def add_commands(sub: Any) -> None:
    """Register ``witness`` and ``log-key``."""
    witness = sub.add_parser(
        "witness",
        help="keep a site's signed log heads, each checked to extend the last",
        description="Fetch a site's signed head, check it is consistent with the last one "
        "kept, append it to the file; exit 1 if the log rewrote its history.",
    )
    witness.add_argument(
        "--url", required=True, help="the service, e.g. https://consent.example.se"
    )
    witness.add_argument("--site", required=True, help="the site id")
    witness.add_argument("--store", required=True, type=Path, help="the heads file (JSON lines)")
    witness.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="VKEY",
        help="the log's verifier key (default: pinned from the file, or the log's on first use)",
    )
    witness.add_argument(
        "--every", type=float, metavar="SECONDS", help="keep watching, a round every SECONDS"
    )
    witness.set_defaults(func=cmd_witness)

    key = sub.add_parser("log-key", help="create, show or rotate the log's signing key")
    actions = key.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="generate a key file (never overwrites one)")
    create.add_argument("path", type=Path)
    create.set_defaults(func=cmd_key_create)
    show = actions.add_parser("show", help="print a site's public verifier key")
    show.add_argument("--site", required=True)
    show.set_defaults(func=cmd_key_show)
    rotate = actions.add_parser(
        "rotate", help="write a new key; print the old public key for CONSENT_LOG_OLD_KEYS"
    )
    rotate.add_argument("new_path", type=Path, metavar="NEW_PATH")
    rotate.set_defaults(func=cmd_key_rotate)


def cmd_witness(args: argparse.Namespace) -> int:
    """``witness``: one round, or one every ``--every`` seconds until interrupted."""
    witness = Witness(args.url, args.site, args.store, keys=args.key)
    while True:
        try:
            seen = witness.observe()
        except Inconsistent as exc:
            print(f"INCONSISTENT: {exc}", file=sys.stderr)
            return 1
        except (WitnessError, HeadError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            if args.every is None:
                return 2
        else:
            cp = seen.head.checkpoint
            print(f"{seen.status}: {cp.origin} size {cp.size}", flush=True)
        if args.every is None:
            return 0
        time.sleep(args.every)


def cmd_key_create(args: argparse.Namespace) -> int:
    """``log-key create PATH``: a new key file, readable by its owner only."""
    settings = settings_of(args)
    try:
        key = create_key_file(args.path, log_name(settings))
    except FileExistsError:
        print(f"error: {args.path} exists; a key is never overwritten", file=sys.stderr)
        return 2
    print(f"created {args.path}; public key (base64): {_public(key.public)}")
    return 0


def cmd_key_show(args: argparse.Namespace) -> int:
    """``log-key show --site S``: the verifier keys a witness pins, current first."""
    settings = settings_of(args)
    path = key_path(settings)
    signer = LogSigner(load_key_file(path, log_name(settings)), log_name(settings))
    for vkey in signer.vkeys(args.site):
        print(vkey)
    return 0


def cmd_key_rotate(args: argparse.Namespace) -> int:
    """``log-key rotate NEW_PATH``: the next key, and what to keep of the old one."""
    settings = settings_of(args)
    old = load_key_file(key_path(settings), log_name(settings))
    try:
        create_key_file(args.new_path, log_name(settings))
    except FileExistsError:
        print(f"error: {args.new_path} exists; a key is never overwritten", file=sys.stderr)
        return 2
    print(f"created {args.new_path}. To switch every replica to it, set:")
    print(f"  CONSENT_LOG_KEY_FILE={args.new_path}")
    print(f"  CONSENT_LOG_OLD_KEYS={','.join([*settings.log_old_keys, _public(old.public)])}")
    print("and give witnesses the new key (consent-service log-key show --site S).")
    return 0


def _public(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
