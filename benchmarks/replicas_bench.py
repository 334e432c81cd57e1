"""Consent writes per second: one replica over SQLite against two replicas over
PostgreSQL (and, for reference, one over PostgreSQL), driven by the same load in
the same run.

Each scenario starts real ``consent-service serve`` processes (rate limit off), drives
them with ``benchmarks/loadgen.py`` (closed loop, fixed concurrency and duration,
connections spread round-robin over the replicas), then checks that every 201 is a
stored row and that the hash chain verifies.

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
import socket
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadgen import LoadResult, run_load

from consent_service.audit import verify_rows
from consent_service.store import open_store

KEYS = "bench-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def replicas(database_url: str, count: int) -> Iterator[list[str]]:
    """``count`` ready ``consent-service serve`` processes on one database; their URLs."""
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
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


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


async def _audit(database_url: str) -> tuple[int, bool]:
    store = open_store(database_url)
    await store.open()
    try:
        result = await verify_rows(store.iter_rows())
        return result.rows_checked, result.ok
    finally:
        await store.close()


def scenario(
    name: str, database_url: str, count: int, args: argparse.Namespace
) -> dict[str, object]:
    with replicas(database_url, count) as urls:
        asyncio.run(run_load(urls, concurrency=min(8, args.concurrency), duration=args.warmup))
        before, _ = asyncio.run(_audit(database_url))
        result: LoadResult = asyncio.run(
            run_load(urls, concurrency=args.concurrency, duration=args.duration)
        )
    rows, ok = asyncio.run(_audit(database_url))
    stored = rows - before
    report = {
        "scenario": name,
        "replicas": count,
        "writes_per_second": round(result.per_second(201), 1),
        "created": result.statuses[201],
        "rows_stored": stored,
        "chain_verifies": ok,
        **result.to_dict(),
    }
    if stored != result.statuses[201] or not ok:
        report["problem"] = "rows stored differ from 201 answers, or the chain does not verify"
    print(json.dumps(report), file=sys.stderr)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of light load first")
    parser.add_argument("--concurrency", type=int, default=64, help="open connections")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "KAKOR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args(argv)
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        reports.append(scenario("sqlite x1", f"sqlite:///{tmp}/bench.db", 1, args))
    with postgres_database(args.postgres) as url:
        reports.append(scenario("postgresql x1", url, 1, args))
    with postgres_database(args.postgres) as url:
        reports.append(scenario("postgresql x2", url, 2, args))
    print(
        f"# {platform.python_version()} on {os.cpu_count()} cores, "
        f"concurrency {args.concurrency}, {args.duration:g}s per scenario"
    )
    print("| store | replicas | consent writes/s | p50 ms | p99 ms | 201s = rows | chain |")
    print("|---|---|---|---|---|---|---|")
    for r in reports:
        lat = r["latency_ms"]
        assert isinstance(lat, dict)
        print(
            f"| {str(r['scenario']).split()[0]} | {r['replicas']} | {r['writes_per_second']} | "
            f"{lat['p50']} | {lat['p99']} | {r['created'] == r['rows_stored']} | "
            f"{'verifies' if r['chain_verifies'] else 'BROKEN'} |"
        )
    return 0 if all("problem" not in r for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
