"""The command line: ``consent-service COMMAND``, one module per group of commands.

:mod:`.serve` (``serve``, ``demo``), :mod:`.log` (``migrate``, ``verify``),
:mod:`.transparency` (``witness``, ``log-key``),
:mod:`.admin` (``token``, ``export``, ``purge``, ``access-log``), :mod:`.stats`
(``stats rebuild``), :mod:`.postgres`
(``partitions``, ``import-log``), :mod:`.scan` (``scan``), :mod:`.scanlog`
(``scan-record``), :mod:`.templates` (``templates``) and :mod:`.receipt`
(``receipt verify``) each add their commands
to the one parser built here; :func:`main` runs the chosen one.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from consent_service.cli import (
    admin,
    log,
    postgres,
    receipt,
    scan,
    scanlog,
    serve,
    stats,
    templates,
    transparency,
)
from consent_service.settings import SettingsError
from consent_service.sites import ConfigError
from consent_service.store import StoreError

#: The exit status a shell reports for a process ended by SIGPIPE (128 + 13).
BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="consent-service", description="kakor: cookie consent with proof."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups = (serve, log, transparency, receipt, scan, scanlog, templates, admin, stats, postgres)
    for group in groups:
        group.add_commands(sub)
    return parser


def utc_now() -> datetime:
    """The current time, in UTC: the command line's clock unless :func:`main` is given one."""
    return datetime.now(UTC)


def main(argv: Sequence[str] | None = None, *, now: Callable[[], datetime] = utc_now) -> int:
    """Entry point of ``consent-service``.

    ``now`` is the clock every command that writes a time (a purge's checkpoint, a
    token's creation, an export's access-log entry) reads; tests fix it.
    """
    args = build_parser().parse_args(argv)
    args.now = now
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except (SettingsError, ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # A reader that stops early (`| head`) is normal in a pipe: stop without a word,
        # and point standard output at the null device so that the interpreter's last
        # flush at exit does not complain about the closed pipe either.
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
        return BROKEN_PIPE
