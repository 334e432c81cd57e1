"""The privacy officer's commands: ``token``, ``export``, ``purge``, ``access-log``.

Each opens the store named by ``--database`` (:func:`~consent_service.cli.common.with_store`),
does one thing, closes it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterable
from contextlib import aclosing
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from consent_service.admin import accesslog, retention
from consent_service.admin.auth import ROLES, new_token
from consent_service.admin.export.manifest import Manifest, check_file, manifest_path
from consent_service.admin.export.rows import FORMATS
from consent_service.admin.export.runs import export_parts
from consent_service.admin.export.stream import Exporter
from consent_service.audit.timefmt import format_time
from consent_service.cli.common import (
    config_arg,
    database_arg,
    moment_arg,
    settings_of,
    with_store,
    workers_arg,
    workers_of,
)
from consent_service.sites import load_sites
from consent_service.store import Store
from consent_service.store.runpool import keep_memory

T = TypeVar("T")


def add_commands(sub: Any) -> None:
    """Add the admin subcommands to ``sub`` (the parser's subparsers)."""
    token = sub.add_parser(
        "token", help="create, list or revoke admin tokens", description="Admin API tokens."
    )
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_sub.add_parser(
        "create",
        help="create a token and print it once",
        description="Create an admin token for one or more sites; it is printed once and "
        "only its SHA-256 is stored.",
    )
    create.add_argument("--site", action="append", required=True, help="site id (repeatable)")
    create.add_argument("--role", choices=ROLES, default="officer", help="default: officer")
    create.add_argument("--label", default="", help="a note: whose token this is")
    config_arg(create)
    database_arg(create)
    create.set_defaults(func=cmd_token_create)
    listing = token_sub.add_parser("list", help="list tokens (never the tokens themselves)")
    database_arg(listing)
    listing.set_defaults(func=cmd_token_list)
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    database_arg(revoke)
    revoke.set_defaults(func=cmd_token_revoke)

    export = sub.add_parser(
        "export",
        help="export a site's audit rows to CSV or JSON Lines, with a manifest",
        description="Write a site's rows, oldest first, streamed: to standard output, or "
        "with --output FILE to FILE and its manifest to FILE.manifest.json. Or, with "
        "--check FILE, check a file against its manifest.",
    )
    export.add_argument("--site", help="site id")
    export.add_argument("--since", help="start date (YYYY-MM-DD) or ISO date-time, inclusive")
    export.add_argument("--until", help="end; a bare date includes that whole day")
    export.add_argument(
        "--format", choices=FORMATS, help="default: jsonl for a .jsonl/.ndjson FILE, else csv"
    )
    export.add_argument(
        "--output",
        metavar="FILE",
        default="-",
        help="the file to write; - (the default) for standard output",
    )
    export.add_argument(
        "--manifest",
        type=Path,
        metavar="PATH",
        help="write the manifest to PATH (default: FILE.manifest.json with --output FILE, "
        "none on standard output); with --check, the manifest to check against",
    )
    export.add_argument("--check", type=Path, metavar="FILE", help="check FILE and exit")
    workers_arg(export, "write the rows", "CONSENT_EXPORT_WORKERS")
    database_arg(export)
    export.set_defaults(func=cmd_export)

    purge = sub.add_parser(
        "purge",
        help="delete a site's rows older than a date, keeping the chain verifiable",
        description="Delete SITE's rows created before DATE and append a checkpoint row "
        "that lets verify accept the shortened chain (C21). Never automatic by default.",
    )
    purge.add_argument("--site", required=True, help="site id")
    purge.add_argument("--before", required=True, help="date (YYYY-MM-DD) or ISO date-time")
    database_arg(purge)
    purge.set_defaults(func=cmd_purge)

    log = sub.add_parser(
        "access-log", help="print the admin access log (JSON Lines)", description="Who read what."
    )
    log.add_argument("--site", help="only this site")
    log.add_argument("--limit", type=int, help="only the newest N entries")
    database_arg(log)
    log.set_defaults(func=cmd_access_log)


def cmd_token_create(args: argparse.Namespace) -> int:
    """``token create``: print a new token once; store its hash."""
    sites = load_sites(settings_of(args).config_path)
    unknown = [s for s in args.site if s not in sites]
    if unknown:
        print(f"error: no site {', '.join(unknown)} in the configuration", file=sys.stderr)
        return 2
    plain, record = new_token(args.site, args.role, args.now(), args.label)
    with_store(args, lambda store: store.create_admin_token(record))
    print(plain)
    print(
        f"token {record.token_id} ({record.role}) for {', '.join(record.sites)}: "
        "shown once, keep it safe",
        file=sys.stderr,
    )
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    """``token list``: ids, roles, sites, dates; never a token or its hash."""
    for t in with_store(args, lambda store: store.list_admin_tokens()):
        print(
            json.dumps(
                {
                    "token_id": t.token_id,
                    "role": t.role,
                    "sites": list(t.sites),
                    "label": t.label,
                    "created_at": format_time(t.created_at),
                    "revoked_at": format_time(t.revoked_at) if t.revoked_at else None,
                },
                ensure_ascii=False,
            )
        )
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    """``token revoke ID``."""
    done = with_store(args, lambda store: store.revoke_admin_token(args.token_id, args.now()))
    print("revoked" if done else "no such active token", file=sys.stderr)
    return 0 if done else 1


def cmd_export(args: argparse.Namespace) -> int:
    """``export``: write the rows to standard output or FILE (and a manifest), or ``--check``."""
    if args.check is not None:
        return _check(args.check, args.manifest)
    if not args.site:
        print("error: export needs --site (or --check FILE)", file=sys.stderr)
        return 2
    if args.manifest == Path("-"):
        print("error: --manifest needs a file name, not -", file=sys.stderr)
        return 2
    output = None if args.output == "-" else Path(args.output)
    side = args.manifest or (None if output is None else manifest_path(output))
    named_jsonl = output is not None and output.suffix in (".jsonl", ".ndjson")
    fmt = args.format or ("jsonl" if named_jsonl else "csv")
    since = moment_arg("since", args.since)
    until = moment_arg("until", args.until, end=True)
    workers = workers_of(args, settings_of(args).export_workers)
    keep_memory()  # this process only exports: its run-sized buffers are reused too

    async def work(store: Store) -> Manifest:
        manifest = Manifest(
            site_id=args.site,
            format=fmt,
            since=format_time(since) if since else None,
            until=format_time(until) if until else None,
            upto_seq=await store.last_seq(),
        )
        where = {"output": "-" if output is None else str(output)}
        entry = await accesslog.record(
            store, None, args.site, "export", {**manifest.to_dict(), **where}, args.now()
        )
        exporter = Exporter(manifest, on_end=accesslog.export_ended(store, entry, where))
        parts = export_parts(store, manifest, workers=workers)
        async with aclosing(exporter.chunks(parts)) as chunks:  # closed early on a broken pipe
            if output is None:
                await _to_stdout(chunks)
            else:
                await _to_file(chunks, output)
        return exporter.manifest

    manifest = with_store(args, work)
    if side is not None:
        side.write_text(json.dumps(manifest.to_dict(), indent=2) + "\n")
    if output is not None:
        print(json.dumps(manifest.to_dict(), indent=2))
    return 0


async def _to_file(chunks: AsyncIterable[bytes], output: Path) -> None:
    """Write ``chunks`` to ``output`` whole or not at all: via ``FILE.partial``, synced."""
    partial = output.with_name(output.name + ".partial")
    with partial.open("wb") as handle:
        await _written(chunks, handle)
        os.fsync(handle.fileno())
    partial.replace(output)


async def _to_stdout(chunks: AsyncIterable[bytes]) -> None:
    """Write ``chunks`` to standard output as bytes (a reader that goes away: see ``main``)."""
    await _written(chunks, sys.stdout.buffer)


async def _written(chunks: AsyncIterable[bytes], out: BinaryIO) -> None:
    """Write ``chunks`` to ``out`` and flush it, each chunk while the next one is made.

    A write lets go of the GIL, so in a thread it overlaps the next chunk's hashing and
    hand-over (a million rows: ~1 s of writes for 450 MB of CSV here).
    """
    writing: asyncio.Future[int] | None = None
    try:
        async for chunk in chunks:
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(asyncio.to_thread(out.write, chunk))
        if writing is not None:
            await writing
            writing = None
        out.flush()
    finally:
        if writing is not None:  # the chunks failed: the last write ends before the close
            await writing


def _check(path: Path, side: Path | None) -> int:
    side = side or manifest_path(path)
    if not side.exists():
        print(f"error: no manifest {side}", file=sys.stderr)
        return 2
    manifest = Manifest.from_dict(json.loads(side.read_text()))
    problems = check_file(path, manifest)
    print(json.dumps({"ok": not problems, "rows": manifest.rows, "problems": problems}, indent=2))
    return 0 if not problems else 1


def cmd_purge(args: argparse.Namespace) -> int:
    """``purge --site S --before DATE``: delete old rows, append a checkpoint."""
    before = moment_arg("before", args.before)
    if before is None:
        print("error: --before needs a date", file=sys.stderr)
        return 2
    result = with_store(args, lambda store: retention.purge(store, args.site, before, args.now()))
    print(json.dumps(result.to_dict(), indent=2))
    return 0


def cmd_access_log(args: argparse.Namespace) -> int:
    """``access-log``: one JSON line per entry, oldest first."""

    async def work(store: Store) -> list[dict[str, Any]]:
        return [
            e.to_dict() async for e in store.iter_access_log(site_id=args.site, limit=args.limit)
        ]

    for entry in with_store(args, work):
        print(json.dumps(entry, ensure_ascii=False))
    return 0
