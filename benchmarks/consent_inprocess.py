"""Cost of one consent inside the process: CPU time, or instructions under callgrind.

The HTTP benchmark (``consent_throughput``) measures what a client sees, but on a
shared 2-vCPU host its numbers move by a quarter between runs. This one calls the
ASGI app directly, as uvicorn would after parsing a request: the service exactly as
``create_app`` builds it (front door, guards, signing, group commit into a real SQLite
file in WAL mode with ``synchronous=FULL``), ``--concurrency`` clients each posting
the benchmark's body in turn. Every answer must be 201 and every consent stored with
the chain intact, or the run fails.

Two measures:

The event loop is uvloop when it is installed, as under uvicorn.

* ``--measure cpu`` (default): process CPU microseconds per consent (all threads).
  Quick, but it moves with whatever else runs on the machine.
* ``--measure instructions``: runs itself twice under ``valgrind --tool=callgrind``
  (``--requests`` and three times as many) and reports the difference in
  instructions divided by the difference in consents, so start-up cancels out.
  Instruction counts repeat to within 0.5 % however busy the host is; use them to
  compare two versions of the code.

    python -m benchmarks.consent_inprocess [--app kakor|bare] [--measure cpu|instructions]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.consent_throughput import BODY, stored_chain

ROOT = Path(__file__).resolve().parent.parent
ENCODED = json.dumps(BODY).encode()
USER_AGENT = b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def _scope() -> dict[str, Any]:
    path = "/v1/sites/demo/consent"
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 40000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"user-agent", USER_AGENT),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(ENCODED)).encode()),
        ],
        "state": {},
    }


async def _post(app: App) -> int:
    """One consent through the ASGI app; its status."""
    delivered = False
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": ENCODED, "more_body": False}
        await asyncio.Event().wait()  # the client never hangs up during a request
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(_scope(), receive, send)
    return status[0]


async def run(
    which: str, requests: int, concurrency: int, *, check_store: bool = True
) -> dict[str, Any]:
    """Serve ``requests`` consents from ``concurrency`` clients; CPU and wall time per consent.

    ``check_store`` reads every row back and verifies the chain afterwards.
    """
    work = Path(tempfile.mkdtemp(prefix="kakor-inprocess-"))
    database = f"sqlite:///{work / 'kakor.db'}"
    try:
        if which == "kakor":
            from consent_service.settings import Settings
            from consent_service.web.app import create_app

            settings = Settings.from_env(
                {
                    "CONSENT_DATABASE_URL": database,
                    "CONSENT_SECRET_KEYS": "benchmark-key-0123456789abcdef",
                    "CONSENT_RATE_LIMIT": "1000000000",  # in the path, never biting
                }
            )
            app: Any = create_app(settings)
        else:
            from benchmarks.bare_app import create_bare_app

            app = create_bare_app()
        per_client = max(requests // concurrency, 1)
        statuses: list[int] = []

        async def client(count: int) -> None:
            for _ in range(count):
                statuses.append(await _post(app))

        async with app.router.lifespan_context(app):
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(client(per_client) for _ in range(concurrency)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        done = len(statuses)
        report: dict[str, Any] = {
            "app": which,
            "consents": done,
            "concurrency": concurrency,
            "cpu_us_per_consent": round(cpu / done * 1e6, 1),
            "wall_us_per_consent": round(wall / done * 1e6, 1),
            "all_201": statuses.count(201) == done,
        }
        if which == "kakor" and check_store:
            report["stored"], report["chain_verifies"] = await stored_chain(database)
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _instructions(which: str, requests: int, concurrency: int) -> tuple[int, dict[str, Any]]:
    """Instructions callgrind counts for a whole run of this module, and that run's report."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/callgrind.out",
                sys.executable,
                "-m",
                "benchmarks.consent_inprocess",
                *("--app", which, "--requests", str(requests)),
                *("--concurrency", str(concurrency), "--measure", "cpu"),
                "--no-store-check",  # reading the rows back would count as consents' cost
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    match = re.search(r"Collected : (\d+)", out.stderr)
    if match is None:
        raise RuntimeError(f"callgrind printed no total:\n{out.stderr[-2000:]}")
    return int(match.group(1)), json.loads(out.stdout)


def instructions_per_consent(which: str, requests: int, concurrency: int) -> dict[str, Any]:
    """Instructions per consent: the difference of a run of ``requests`` and one of 3x as many."""
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    small, first = _instructions(which, requests, concurrency)
    large, second = _instructions(which, 3 * requests, concurrency)
    consents = second["consents"] - first["consents"]
    return {
        "app": which,
        "concurrency": concurrency,
        "instructions_per_consent": round((large - small) / consents),
        "runs": [first, second],
    }


def _event_loop_runner() -> Callable[[Any], Any]:
    """uvloop's runner when it is installed, as uvicorn picks it (``loop="auto"``)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    runner: Callable[[Any], Any] = uvloop.run
    return runner


def main() -> None:
    """Print a JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--app", choices=("kakor", "bare"), default="kakor")
    parser.add_argument("--measure", choices=("cpu", "instructions"), default="cpu")
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-store-check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure == "instructions":
        report = instructions_per_consent(args.app, args.requests or 1024, args.concurrency)
    else:
        report = _event_loop_runner()(
            run(
                args.app,
                args.requests or 20_000,
                args.concurrency,
                check_store=not args.no_store_check,
            )
        )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
