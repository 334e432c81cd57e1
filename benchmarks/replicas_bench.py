"""Consent writes per second: one replica over SQLite against two replicas over
PostgreSQL (and, for reference, one over PostgreSQL), driven by the same load in
the same run.

Each scenario starts real ``consent-service serve`` processes (rate limit off) and
drives them with wrk, the load generator of ``benchmarks/consent_throughput.py`` (same
POST body and script): one wrk per replica, the connections split evenly, all at
once. It then checks that every 201 is a stored row and that the hash chain verifies.

    python benchmarks/replicas_bench.py --duration 10 --concurrency 64

PostgreSQL: ``--postgres`` names a server account allowed to create databases
(default postgresql://postgres@127.0.0.1:5432/postgres); a database is created for
each PostgreSQL scenario and dropped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The same request and wrk script as the single-node benchmark: one load for both.
from benchmarks.consent_throughput import BODY, LUA, stored_chain
from benchmarks.procs import cpu_seconds, free_port

KEYS = "bench-key-0123456789abcdef"


@contextmanager
def replicas(database_url: str, count: int) -> Iterator[list[tuple[str, int]]]:
    """``count`` ready ``consent-service serve`` processes on one database; (URL, pid) each."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
    env.update(CONSENT_SECRET_KEYS=KEYS, CONSENT_RATE_LIMIT="0", CONSENT_LOG_LEVEL="warning")
    ports = [free_port() for _ in range(count)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "consent_service",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--database",
                database_url,
            ],
            env=env,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 30
        for url, proc in zip(urls, procs, strict=True):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"replica {url} exited with {proc.returncode}")
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"replica {url} not ready")
                time.sleep(0.1)
        yield [(url, proc.pid) for url, proc in zip(urls, procs, strict=True)]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


def batch_stats(metrics: str) -> tuple[int, float]:
    """(batches committed, consents in them) from a replica's /metrics."""
    values = dict(
        line.split(" ", 1)
        for line in metrics.splitlines()
        if line.startswith("kakor_store_batch_size_")
    )
    return int(values.get("kakor_store_batch_size_count", "0")), float(
        values.get("kakor_store_batch_size_sum", "0")
    )


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    name = f"kakor_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path="/" + name))
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def wrk(urls: Sequence[str], script: Path, seconds: float, connections: int) -> dict[str, float]:
    """One wrk per URL, all at once, ``connections`` split evenly; the summed result."""
    procs = [
        subprocess.Popen(
            [
                "wrk",
                "-t1",
                f"-c{max(1, connections // len(urls))}",
                f"-d{int(seconds)}s",
                "-s",
                str(script),
                url + "/v1/sites/demo/consent",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    totals = {"requests": 0.0, "non2xx": 0.0, "socket_errors": 0.0, "p50_ms": 0.0, "p99_ms": 0.0}
    for proc in procs:
        out, _ = proc.communicate()
        match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", out)
        if proc.returncode or not match:
            raise RuntimeError(f"wrk failed: {out}")
        requests, bad, errors, p50, p99 = map(int, match.groups())
        totals["requests"] += requests
        totals["non2xx"] += bad
        totals["socket_errors"] += errors
        totals["p50_ms"] = max(totals["p50_ms"], p50 / 1000)  # the slower replica's
        totals["p99_ms"] = max(totals["p99_ms"], p99 / 1000)
    return totals


def scenario(
    name: str, database_url: str, count: int, args: argparse.Namespace, script: Path
) -> dict[str, object]:
    with replicas(database_url, count) as running:
        urls = [url for url, _ in running]
        wrk(urls, script, args.warmup, min(8, args.concurrency))
        before, _ = asyncio.run(stored_chain(database_url))
        cpu_before = sum(cpu_seconds(pid) for _, pid in running)
        result = wrk(urls, script, args.duration, args.concurrency)
        cpu = sum(cpu_seconds(pid) for _, pid in running) - cpu_before
        batches = [batch_stats(httpx.get(url + "/metrics").text) for url in urls]
    rows, ok = asyncio.run(stored_chain(database_url))
    stored = rows - before
    created = int(result["requests"] - result["non2xx"])
    report = {
        "scenario": name,
        "replicas": count,
        "writes_per_second": round(created / int(args.duration), 1),
        "created": created,
        "rows_stored": stored,
        "chain_verifies": ok,
        # Service CPU per consent: less sensitive than writes/s to other load on the
        # machine (PostgreSQL's own CPU is not included).
        "service_cpu_ms_per_write": round(1000 * cpu / created, 3) if created else None,
        # Group commit at work: consents per committed transaction (warm-up included).
        "mean_batch": round(sum(b[1] for b in batches) / max(1, sum(b[0] for b in batches)), 1),
        "latency_ms": {"p50": result["p50_ms"], "p99": result["p99_ms"]},
        "non2xx": int(result["non2xx"]),
        "socket_errors": int(result["socket_errors"]),
    }
    # wrk stops mid-flight: requests it gave up on may still be committed, so up to one
    # row per connection more than the 201s it counted; never fewer.
    if not created <= stored <= created + args.concurrency or not ok or result["non2xx"]:
        report["problem"] = "a 201 without its row, errors, or a chain that does not verify"
    print(json.dumps(report), file=sys.stderr)
    return report


def run_round(args: argparse.Namespace, script: Path) -> list[dict[str, object]]:
    """The three scenarios once, back to back."""
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        reports.append(scenario("sqlite", f"sqlite:///{tmp}/bench.db", 1, args, script))
    with postgres_database(args.postgres) as url:
        reports.append(scenario("postgresql", url, 1, args, script))
    with postgres_database(args.postgres) as url:
        reports.append(scenario("postgresql", url, 2, args, script))
    return reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per scenario")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of light load first")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="open connections, split over the replicas"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "KAKOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="repeat the scenarios, interleaved (median kept)"
    )
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA.replace("{body}", json.dumps(BODY)))
        rounds = [run_round(args, script) for _ in range(args.rounds)]
    load = os.getloadavg()[0]
    print(
        f"# Python {platform.python_version()}, {os.cpu_count()} cores (load average {load:.1f}), "
        f"concurrency {args.concurrency}, {args.duration:g}s per scenario, {args.rounds} rounds"
    )
    print(
        "| store | replicas | consent writes/s (median) | each round | p50 ms | p99 ms "
        "| service CPU ms/write | consents per commit | every 201 stored, chain verifies |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for i, first in enumerate(rounds[0]):
        runs = [r[i] for r in rounds]
        rates = [float(str(r["writes_per_second"])) for r in runs]
        mid = sorted(runs, key=lambda r: float(str(r["writes_per_second"])))[len(runs) // 2]
        lat = mid["latency_ms"]
        assert isinstance(lat, dict)
        sound = all("problem" not in r for r in runs)
        print(
            f"| {first['scenario']} | {first['replicas']} | {statistics.median(rates):.0f} | "
            f"{' / '.join(f'{x:.0f}' for x in rates)} | {lat['p50']} | {lat['p99']} | "
            f"{statistics.median(float(str(r['service_cpu_ms_per_write'])) for r in runs):.2f} | "
            f"{mid['mean_batch']} | "
            f"{'yes' if sound else 'NO'} |"
        )
    return 0 if all("problem" not in r for rs in rounds for r in rs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
