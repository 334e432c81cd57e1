"""A small closed-loop HTTP load generator: fixed concurrency, fixed duration.

Each of ``concurrency`` workers holds one keep-alive HTTP/1.1 connection to one target
(targets are assigned round-robin) and sends the same request again as soon as the
answer arrives. A hand-rolled client on asyncio streams, so the generator spends as
little CPU as possible: on a small machine it shares the cores with the servers.

    python benchmarks/loadgen.py --url http://127.0.0.1:8000 --concurrency 64 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CONSENT_PATH = "/v1/sites/demo/consent"
CONSENT_BODY = (
    b'{"action":"save","choices":{"statistics":true,"third-party":false},"language":"sv"}'
)


@dataclass
class LoadResult:
    """What one run measured."""

    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def per_second(self, status: int | None = None) -> float:
        """Answers per second (only those with ``status`` if given)."""
        count = self.requests if status is None else self.statuses[status]
        return count / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def to_dict(self) -> dict[str, object]:
        return {
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "statuses": dict(self.statuses),
            "errors": self.errors,
            "per_second": round(self.per_second(), 1),
            "latency_ms": {
                "mean": round(1000 * statistics.fmean(self.latencies), 2) if self.latencies else 0,
                "p50": round(self.percentile(50), 2),
                "p99": round(self.percentile(99), 2),
            },
        }


def _request(host: str, path: str, method: str, body: bytes) -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status and whether the server keeps the connection open; the body is discarded."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            keep = False
        elif name == "transfer-encoding":
            raise RuntimeError("chunked answers are not supported by this load generator")
    if length:
        await reader.readexactly(length)
    return status, keep


async def _worker(
    url: str, path: str, method: str, body: bytes, deadline: float, result: LoadResult
) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = _request(parts.netloc, path, method, body)
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            started = time.perf_counter()
            writer.write(request)
            status, keep = await _read_response(reader)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] += 1
            if not keep:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError):
            result.errors += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def run_load(
    urls: Sequence[str],
    *,
    concurrency: int = 64,
    duration: float = 10.0,
    path: str = CONSENT_PATH,
    method: str = "POST",
    body: bytes = CONSENT_BODY,
) -> LoadResult:
    """Drive ``urls`` (round-robin per connection) for ``duration`` seconds."""
    result = LoadResult(seconds=0.0)
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(
            _worker(urls[i % len(urls)], path, method, body, deadline, result)
            for i in range(concurrency)
        )
    )
    result.seconds = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", action="append", required=True, help="target base URL (repeatable)"
    )
    parser.add_argument("--path", default=CONSENT_PATH)
    parser.add_argument("--method", default="POST")
    parser.add_argument("--body", default=CONSENT_BODY.decode())
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    result = asyncio.run(
        run_load(
            args.url,
            concurrency=args.concurrency,
            duration=args.duration,
            path=args.path,
            method=args.method,
            body=args.body.encode(),
        )
    )
    print(json.dumps(result.to_dict(), indent=2))


if __name__ == "__main__":
    main()
