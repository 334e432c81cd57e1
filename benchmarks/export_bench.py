"""Export benchmark: a million audit rows through the real HTTP export route.

1. Seeds N rows (default 1,000,000) into a fresh SQLite file: consent events chained
   with ``audit.chain`` in batches and bulk-inserted (a real, verifiable chain).
2. Starts ``python -m consent_service serve`` as a subprocess, makes an officer token
   with the CLI, and streams ``GET /admin/v1/sites/demo/consents?format=…``.
3. Samples rows received per time window and the server's RSS (``/proc/<pid>/status``)
   while the export runs; reports the steady rate and how much the process grew.

Run: ``.venv/bin/python benchmarks/export_bench.py --rows 1000000 --format csv``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks.procs import cpu_seconds, free_port, rss_kib
from consent_service.audit.chain import GENESIS, chain, row_leaf
from consent_service.audit.events import STORED_FIELDS, ConsentEvent
from consent_service.audit.signing import load_signer
from consent_service.audit.tiles import Frontier, TreeEdge
from consent_service.audit.timefmt import format_time
from consent_service.settings import DEMO_CONFIG, Settings
from consent_service.sites import load_sites
from consent_service.store import TextsSnapshot, open_store
from consent_service.store.columns import COLUMNS, sqlite_values
from consent_service.store.sql import texts_values

KEY = "bench-key-0123456789abcdef"
_INSERT = f"INSERT INTO consent_events ({COLUMNS}) VALUES ({', '.join('?' * len(STORED_FIELDS))})"
_TILE = "INSERT OR REPLACE INTO log_tiles VALUES ('demo', ?, ?, ?)"


def seed(path: Path, rows: int, batch: int = 20_000) -> float:
    """Write ``rows`` chained rows of site ``demo``; return the seconds it took."""
    started = time.perf_counter()

    async def migrate() -> None:
        store = open_store(f"sqlite:///{path}")
        await store.open()
        await store.migrate()
        await store.close()

    asyncio.run(migrate())
    site = load_sites(DEMO_CONFIG).get("demo")
    texts_hash = site.texts_hash("sv")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    step = timedelta(days=365) / rows
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    head, seq = GENESIS, 1
    tree = TreeEdge(Frontier(), {})
    actions = ("accept-all", "reject-all", "save", "gpc")
    while seq <= rows:
        events = []
        for n in range(seq, min(seq + batch, rows + 1)):
            action = actions[n % 4]
            stats = action == "accept-all" or (action == "save" and n % 3 == 0)
            events.append(
                ConsentEvent(
                    site_id="demo",
                    consent_id=f"c{n:021d}",
                    action=action,
                    choices={
                        "necessary": True,
                        "statistics": stats,
                        "third-party": action == "accept-all",
                    },
                    policy_version=site.policy_version,
                    texts_hash=texts_hash,
                    language="sv",
                    widget_version="1.0.0",
                    page="https://www.example.se/nyheter/artikel",
                    ip="192.0.2.0/24",
                    browser="Firefox/Linux",
                    gpc=action == "gpc",
                    created_at=start + step * n,
                    event_id=f"{n:032x}",
                )
            )
        linked = chain(events, seq, {"demo": head}, {"demo": tree.size})
        for row in linked:
            tree.append(row_leaf(row))
        conn.execute("BEGIN")
        conn.executemany(_INSERT, [sqlite_values(r) for r in linked])
        conn.executemany(_TILE, tree.flush())
        conn.execute("COMMIT")
        head, seq = linked[-1].hash, seq + len(linked)
    # What an append would have kept beside the rows: the texts their texts_hash names,
    # and the chain's and the tree's head, signed as the service signs it (with
    # CONSENT_LOG_KEY_FILE, or the key the service uses beside this file).
    texts = texts_values(
        TextsSnapshot(texts_hash, "demo", "sv", site.policy_version, site.shown_texts("sv"))
    )
    conn.execute(
        "INSERT INTO consent_texts VALUES (?, ?, ?, ?, ?, ?)", (*texts, format_time(start))
    )
    signer = load_signer(Settings.from_env(database_url=f"sqlite:///{path}"))
    note = signer.sign("demo", tree.size, tree.frontier.root())
    conn.execute(
        "INSERT INTO chain_heads VALUES ('demo', ?, ?, ?, ?, ?)",
        (seq - 1, head, tree.size, tree.frontier.encode(), note),
    )
    conn.close()
    return time.perf_counter() - started


def _max_per_window(samples: list[tuple[float, int]], started: float, window: float) -> list[int]:
    """The highest RSS sample of each time window, in order."""
    peaks: dict[int, int] = {}
    for moment, kib in samples:
        index = int((moment - started) // window)
        peaks[index] = max(kib, peaks.get(index, 0))
    return [peaks[i] for i in sorted(peaks)]


def run(rows: int, fmt: str, window: float, workdir: Path) -> dict[str, Any]:
    db = workdir / "bench.db"
    seed_seconds = 0.0 if db.exists() else seed(db, rows)  # --workdir keeps it for reruns
    url = f"sqlite:///{db}"
    env = {**os.environ, "CONSENT_SECRET_KEYS": KEY, "CONSENT_LOG_LEVEL": "warning"}
    token = subprocess.run(
        [
            sys.executable,
            "-m",
            "consent_service",
            "token",
            "create",
            "--site",
            "demo",
            "--database",
            url,
            "--config",
            str(DEMO_CONFIG),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "consent_service",
            "serve",
            "--port",
            str(port),
            "--database",
            url,
            "--config",
            str(DEMO_CONFIG),
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.1)
        rss_before = rss_kib(server.pid) or 0
        samples: list[tuple[float, int]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                samples.append((time.perf_counter(), (rss_kib(server.pid) or 0)))
                done.wait(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        received = 0
        lines = 0
        windows: list[tuple[float, int]] = []
        headers = {"Authorization": f"Bearer {token}"}
        cpu_before = cpu_seconds(server.pid)
        started = time.perf_counter()
        sampler.start()
        with httpx.stream(
            "GET",
            f"{base}/admin/v1/sites/demo/consents?format={fmt}",
            headers=headers,
            timeout=600,
        ) as answer:
            answer.raise_for_status()
            window_start, window_lines = started, 0
            for chunk in answer.iter_bytes():
                received += len(chunk)
                n = chunk.count(b"\n")
                lines += n
                window_lines += n
                now = time.perf_counter()
                if now - window_start >= window:
                    windows.append((now - started, round(window_lines / (now - window_start))))
                    window_start, window_lines = now, 0
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server.pid) - cpu_before
        done.set()
        sampler.join()
        exported = lines - (1 if fmt == "csv" else 0)
        rates = [rate for _, rate in windows[1:]] or [round(exported / elapsed)]
        rss = [kib for _, kib in samples]
        return {
            "rows_seeded": rows,
            "seed_seconds": round(seed_seconds, 1),
            "format": fmt,
            "rows_exported": exported,
            "bytes": received,
            "seconds": round(elapsed, 1),
            "mean_rows_per_s": round(exported / elapsed),
            "server_cpu_seconds": round(server_cpu, 1),
            "rows_per_server_cpu_second": round(exported / server_cpu) if server_cpu else None,
            "load_average_1min_at_end": os.getloadavg()[0],
            "steady_rows_per_s_median": round(statistics.median(rates)),
            "window_rows_per_s_min": min(rates),
            "window_rows_per_s_max": max(rates),
            "window_seconds": window,
            "windows": windows,
            "server_rss_kib_before": rss_before,
            "server_rss_kib_first_sample": rss[0] if rss else None,
            "server_rss_kib_max": max(rss) if rss else None,
            "server_rss_kib_last": rss[-1] if rss else None,
            "server_rss_kib_max_per_window": _max_per_window(samples, started, window),
            "server_rss_growth_kib_after_first_window": (
                max(kib for t, kib in samples if t - started >= window)
                - max(kib for t, kib in samples if t - started < window)
                if any(t - started >= window for t, _ in samples)
                else None
            ),
        }
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument("--window", type=float, default=5.0, help="seconds per rate window")
    parser.add_argument("--workdir", type=Path, help="keep the database here (default: a temp dir)")
    args = parser.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = run(args.rows, args.format, args.window, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="kakor-export-bench-") as tmp:
            result = run(args.rows, args.format, args.window, Path(tmp))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
