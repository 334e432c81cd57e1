"""The officer's tools at a million rows, as ratios against the database's own CLI, same run.

For each store (SQLite, and PostgreSQL when ``--postgres URL`` is given) and each
format, every task runs and is timed against the baseline, the database's own CSV dump
of the same rows, run before and after the tasks (``sqlite3 -csv``; ``psql -c "\\copy
(…) to stdout csv"``); the ratio is the task's rows/s over the mean baseline rows/s.

Tasks (``--tasks``; more can be added to :data:`TASKS`):

- ``export-http``: ``GET /admin/v1/sites/demo/consents?format=…`` from a
  ``consent-service serve`` subprocess, streamed by httpx; the server's RSS is sampled
  from ``/proc`` every 0.1 s;
- ``export-cli``: ``consent-service export --output FILE``; its RSS sampled the same way;
- ``verify-cli`` and ``verify-job``: ``consent-service verify``, and a verify job through
  the admin API (:mod:`benchmarks.verify_tasks`); run once per store, with the first format.

The SQLite file is seeded by :func:`benchmarks.export_bench.seed` (kept in ``--workdir``);
PostgreSQL gets the same rows, the tree's head and tiles copied in (a database
``kakor_bench``, or the one the ``--postgres`` URL names if not ``postgres``; kept for reruns).
The log key is the one the seed signed with (``log-key.pem`` in ``--workdir``).

Run: ``.venv/bin/python benchmarks/officer_bench.py --rows 1000000 --workdir var/bench``
(``make bench-officer``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks.export_bench import KEY, seed
from benchmarks.procs import free_port, rss_kib
from benchmarks.verify_tasks import VERIFY_TASKS
from consent_service.settings import DEMO_CONFIG
from consent_service.store import open_store
from consent_service.store.columns import COLUMNS, audit_row, column_arrays

_SELECT = f"SELECT {COLUMNS} FROM consent_events WHERE site_id = 'demo' ORDER BY seq"
_ENV = {**os.environ, "CONSENT_SECRET_KEYS": KEY, "CONSENT_LOG_LEVEL": "warning"}


@dataclass
class Run:
    """One store and format under test."""

    url: str
    fmt: str
    rows: int
    out: Path


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "consent_service", *args]


def _timed(command: list[str], stdout: Path) -> tuple[float, int]:
    """Seconds and highest RSS (KiB, sampled every 0.1 s) of ``command`` writing to ``stdout``."""
    started = time.perf_counter()
    peak = 0
    with stdout.open("wb") as out:
        child = subprocess.Popen(command, stdout=out, env=_ENV)
        while child.poll() is None:
            peak = max(peak, rss_kib(child.pid) or 0)
            time.sleep(0.1)
    if child.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {child.returncode}")
    return time.perf_counter() - started, peak


def baseline(run: Run) -> float:
    """Rows/s of the database's own CSV dump of the same rows."""
    if run.url.startswith("sqlite"):
        command = ["sqlite3", "-csv", "-header", run.url.split("///", 1)[1], _SELECT]
    else:
        command = ["psql", "-X", "-q", run.url, "-c", f"\\copy ({_SELECT}) to stdout csv header"]
    seconds, _ = _timed(command, run.out / "baseline.csv")
    return run.rows / seconds


def export_cli(run: Run) -> dict[str, Any]:
    """``consent-service export --output FILE``."""
    target = run.out / f"cli.{run.fmt}"
    args = ["export", "--site", "demo", "--format", run.fmt, "--output", str(target)]
    seconds, peak = _timed(_cli(*args, "--database", run.url), run.out / "cli.manifest")
    return {"rows_per_s": round(run.rows / seconds), "seconds": round(seconds, 1), "rss_kib": peak}


def export_http(run: Run) -> dict[str, Any]:
    """The export route of a ``consent-service serve`` subprocess, streamed by httpx."""
    create = ["token", "create", "--site", "demo", "--database", run.url]
    token = subprocess.run(
        _cli(*create, "--config", str(DEMO_CONFIG)),
        env=_ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    serve = ["serve", "--port", str(port), "--database", run.url, "--config", str(DEMO_CONFIG)]
    server = subprocess.Popen(_cli(*serve), env=_ENV)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base)
        before = rss_kib(server.pid) or 0
        peak, done = [before], threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                peak.append(rss_kib(server.pid) or 0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        received = 0
        started = time.perf_counter()
        url = f"{base}/admin/v1/sites/demo/consents?format={run.fmt}"
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.stream("GET", url, headers=headers, timeout=600) as answer:
            answer.raise_for_status()
            for chunk in answer.iter_raw():
                received += len(chunk)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    finally:
        server.terminate()
        server.wait(timeout=20)
    return {
        "rows_per_s": round(run.rows / seconds),
        "seconds": round(seconds, 1),
        "bytes": received,
        "server_rss_kib_before": before,
        "server_rss_kib_max": max(peak),
    }


def _wait_ready(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the service did not start")


#: What can be measured, by name.
TASKS: dict[str, Callable[[Run], dict[str, Any]]] = {
    "export-http": export_http,
    "export-cli": export_cli,
    **VERIFY_TASKS,
}


def copy_to_postgres(db: Path, given_url: str) -> str:
    """A fresh database beside ``given_url`` holding ``db``'s rows (``kakor_bench``, or the
    database the URL names when that is not ``postgres``)."""
    import asyncpg

    server, name = given_url.rsplit("/", 1)
    bench = "kakor_bench" if name == "postgres" else name
    if not bench.replace("_", "").isalnum():
        raise SystemExit(f"--postgres: {bench!r} is not a plain database name")
    admin_url, url = server + "/postgres", server + "/" + bench
    count = sqlite3.connect(db).execute("SELECT count(*) FROM consent_events").fetchone()[0]

    async def go() -> None:
        admin = await asyncpg.connect(admin_url)
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", bench)
        if exists:
            conn = await asyncpg.connect(url)
            there = await conn.fetchval("SELECT count(*) FROM consent_events")
            await conn.close()
            if there == count:  # copied by an earlier run
                await admin.close()
                return
        await admin.execute(f'DROP DATABASE IF EXISTS "{bench}"')
        await admin.execute(f'CREATE DATABASE "{bench}"')
        await admin.close()
        store = open_store(url)
        await store.open()
        await store.migrate()
        await store.close()
        conn = await asyncpg.connect(url)
        source = sqlite3.connect(db)
        cursor = source.execute(f"SELECT {COLUMNS} FROM consent_events ORDER BY seq")
        while batch := cursor.fetchmany(20_000):
            rows = [audit_row(raw, text_time=True) for raw in batch]
            records = list(zip(*column_arrays(rows), strict=True))
            await conn.copy_records_to_table(
                "consent_events", records=records, columns=COLUMNS.split(", ")
            )
        for table in ("consent_texts", "chain_heads"):
            await conn.execute(f"DELETE FROM {table}")
        texts = source.execute("SELECT * FROM consent_texts").fetchall()
        await conn.executemany(
            "INSERT INTO consent_texts VALUES ($1, $2, $3, $4, $5, now())",
            [t[:5] for t in texts],
        )
        head = source.execute(
            "SELECT site_id, seq, hash, size, frontier, note FROM chain_heads"
        ).fetchall()
        last = await conn.fetchval("SELECT max(created_at) FROM consent_events")
        await conn.executemany(
            "INSERT INTO chain_heads (site_id, seq, hash, created_at, size, frontier, note) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [(*h[:3], last, *h[3:]) for h in head],
        )
        # The tree as the appends left it: verify holds the rows to its signed head.
        await conn.execute("DELETE FROM log_tiles")
        tiles = source.execute("SELECT site_id, level, idx, hashes FROM log_tiles").fetchall()
        await conn.copy_records_to_table(
            "log_tiles", records=tiles, columns=["site_id", "level", "idx", "hashes"]
        )
        await conn.execute("ANALYZE consent_events")
        await conn.close()

    asyncio.run(go())
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench"))
    parser.add_argument("--formats", default="csv,jsonl")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--postgres", metavar="URL", help="also PostgreSQL (an admin URL)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    db = args.workdir / "bench.db"
    if not db.exists():
        seed(db, args.rows)
    # The key the seed signed the tree's head with, for every store and task (also in
    # os.environ: benchmarks.verify_tasks reads _ENV from this module imported again).
    key = str((args.workdir / "log-key.pem").resolve())
    _ENV["CONSENT_LOG_KEY_FILE"] = os.environ["CONSENT_LOG_KEY_FILE"] = key
    urls = [f"sqlite:///{db.resolve()}"]
    if args.postgres:
        urls.append(copy_to_postgres(db, args.postgres))
    results: list[dict[str, Any]] = []
    for url in urls:
        for index, fmt in enumerate(args.formats.split(",")):
            run = Run(url, fmt, args.rows, args.workdir)
            names = [n for n in args.tasks.split(",") if index == 0 or n not in VERIFY_TASKS]
            first = baseline(run)
            measured = {name: TASKS[name](run) for name in names}
            base = (first + baseline(run)) / 2
            for found in measured.values():
                found["ratio"] = round(found["rows_per_s"] / base, 3)
            store = url.split(":", 1)[0]
            results.append({"store": store, "format": fmt, "baseline_rows_per_s": round(base)})
            results[-1].update(measured)
            print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"load_average_1min_at_end": os.getloadavg()[0], "runs": results}, indent=2))


if __name__ == "__main__":
    main()
