"""Does a burst of widget requests with distinct ``Host`` headers slow everyone else?

Starts a real ``consent-service serve`` (one process, SQLite) and drives it with
plain keep-alive HTTP/1.1 connections: ``--legit`` connections fetch the demo
widget as a browser would (one Host, brotli), first alone, then while
``--attackers`` connections each ask for it with a new ``Host`` every time
(``localhost:1``, ``localhost:2``, ...: a Host every version of the service takes
from the request). Reports the legitimate requests per second and their latency in
both phases; the ratio is the cost of the attack.

    python benchmarks/widget_hosts.py                          # this checkout
    python benchmarks/widget_hosts.py --public-url https://consent.example.se
    python benchmarks/widget_hosts.py --source /path/to/older/checkout
    python benchmarks/widget_hosts.py --in-process [--source ...]

``--source`` runs the server from another checkout (say, before a change), with
this script driving it; ``--public-url`` sets ``CONSENT_PUBLIC_URL`` for a service
that knows it. Throughput on a shared machine is noisy: compare ratios of one run.

``--in-process`` measures the event loop itself: the app runs in this process behind
httpx's ASGI transport while ``--burst`` widget requests with distinct Hosts go
through one after another. It reports the CPU time the loop's thread spent per
request (the client's share included), which the machine's load hardly changes, and
how late a 1 ms timer on the same loop woke meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.procs import free_port  # noqa: E402

KEY = "bench-key-0123456789abcdef"
PATH = "/v1/sites/demo/widget.js"


@dataclass
class Counts:
    """Requests one group of connections completed, and how long each took."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


async def _get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str
) -> tuple[int, bytes]:
    writer.write(
        f"GET {PATH} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: br\r\n\r\n".encode("ascii")
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _connection(
    port: int, hosts: Iterator[int], counts: Counts, until: float, fixed: str | None
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            host = fixed or f"localhost:{next(hosts)}"
            start = time.perf_counter()
            status, _ = await _get(reader, writer, host)
            counts.latencies.append(time.perf_counter() - start)
            counts.statuses[status] = counts.statuses.get(status, 0) + 1
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _phase(port: int, legit: int, attackers: int, seconds: float) -> tuple[Counts, Counts]:
    until = time.perf_counter() + seconds
    ports = iter(range(1, 65536))
    good, bad = Counts(), Counts()
    await asyncio.gather(
        *(_connection(port, ports, good, until, f"localhost:{port}") for _ in range(legit)),
        *(_connection(port, ports, bad, until, None) for _ in range(attackers)),
    )
    return good, bad


def _report(name: str, counts: Counts, seconds: float) -> float:
    rate = len(counts.latencies) / seconds
    lat = sorted(counts.latencies) or [0.0]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(
        f"  {name:<9} {rate:8.0f} req/s   p50 {statistics.median(lat) * 1000:7.2f} ms"
        f"   p99 {p99 * 1000:7.2f} ms   statuses {dict(sorted(counts.statuses.items()))}"
    )
    return rate


def _start(
    source: Path, port: int, workdir: Path, public_url: str | None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "CONSENT_SECRET_KEYS": KEY,
        "CONSENT_LOG_LEVEL": "warning",
    }
    env.pop("CONSENT_PUBLIC_URL", None)
    if public_url:
        env["CONSENT_PUBLIC_URL"] = public_url
    command = [sys.executable, "-m", "consent_service", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--database", f"sqlite:///{workdir / 'bench.db'}"]
    return subprocess.Popen(command, cwd=workdir, env=env, stderr=subprocess.DEVNULL)


async def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            status, _ = await _get(reader, writer, f"localhost:{port}")
            writer.close()
            if status == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


async def _loop_stalls(source: Path, public_url: str | None, burst: int, workdir: Path) -> None:
    sys.path.insert(0, str(source))
    import httpx

    from consent_service.settings import Secret, Settings
    from consent_service.web.app import create_app

    values: dict[str, object] = {"database_url": f"sqlite:///{workdir / 'bench.db'}"}
    if public_url:
        values["public_url"] = public_url
    app = create_app(Settings(secret_keys=(Secret(KEY),), **values))  # type: ignore[arg-type]
    late: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            late.append(time.perf_counter() - start - 0.001)

    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://localhost") as http,
    ):
        await http.get(PATH)  # the widget for the real Host, before the clock starts

        async def burst_of_hosts() -> list[int]:
            statuses = []
            for n in range(1, burst + 1):
                # In-memory ASGI never suspends by itself: yield, as a socket read would.
                await asyncio.sleep(0)
                answer = await http.get(PATH, headers={"Host": f"localhost:{n}"})
                statuses.append(answer.status_code)
            return statuses

        tick = asyncio.ensure_future(ticker())
        await asyncio.sleep(0.01)
        start, cpu = time.perf_counter(), time.thread_time()
        statuses = await burst_of_hosts()
        elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu
        done.set()
        await tick
    late.sort()
    print(f"consent_service from {source} (CONSENT_PUBLIC_URL={public_url or 'unset'})")
    print(f"  {burst} requests with distinct Hosts in {elapsed:.2f} s, statuses {set(statuses)}")
    print(f"  CPU time on the event loop's thread: {cpu / burst * 1000:.2f} ms per request")
    print(
        f"  a 1 ms timer woke late by: median {statistics.median(late) * 1000:.2f} ms, "
        f"p99 {late[int(len(late) * 0.99)] * 1000:.2f} ms, max {late[-1] * 1000:.2f} ms"
    )


def main() -> None:
    """Run both phases against one server and print the legitimate throughput ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=ROOT, help="checkout to run the server from")
    parser.add_argument("--public-url", help="CONSENT_PUBLIC_URL for the server (default unset)")
    parser.add_argument("--legit", type=int, default=4, help="legitimate connections (default 4)")
    parser.add_argument(
        "--attackers", type=int, default=4, help="attacking connections (default 4)"
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per phase (default 5)")
    parser.add_argument(
        "--in-process", action="store_true", help="measure event-loop stalls in this process"
    )
    parser.add_argument(
        "--burst", type=int, default=100, help="requests for --in-process (default 100)"
    )
    args = parser.parse_args()
    if args.in_process:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(_loop_stalls(args.source.resolve(), args.public_url, args.burst, Path(tmp)))
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = _start(args.source.resolve(), port, Path(tmp), args.public_url)
        try:
            asyncio.run(_wait_ready(port))
            print(f"server: {args.source} (CONSENT_PUBLIC_URL={args.public_url or 'unset'})")
            alone, _ = asyncio.run(_phase(port, args.legit, 0, args.duration))
            print(f"{args.legit} legitimate connections alone:")
            base = _report("legit", alone, args.duration)
            good, bad = asyncio.run(_phase(port, args.legit, args.attackers, args.duration))
            print(f"... with {args.attackers} connections sending a new Host each request:")
            under = _report("legit", good, args.duration)
            _report("attackers", bad, args.duration)
            print(f"legitimate throughput under attack: {under / base:.2f} of alone")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
