"""Consent throughput: the service as it runs by default against a bare Starlette app.

Both run under exactly the uvicorn options `consent-service serve` uses
(`cli.server_options`: one process, the h11 parser with the header limits, proxy
headers, no access log), are driven by the same load generator (wrk, one thread, the
same POST body) at the same number of connections, and are measured alternately in
the same run. The service writes every consent to SQLite (WAL, synchronous=FULL)
before answering 201; after the run the benchmark checks that the rows stored cover
the 201s wrk counted and that the chain verifies. Target (issue 2): service
throughput >= 0.6 x the bare app; docs/performance.md says at which loads it holds.

    python -m benchmarks.consent_throughput [--seconds 8] [--connections 32,128,256] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.procs import cpu_times, free_port
from consent_service.audit import verify_rows
from consent_service.store import open_store

BODY = {
    "choices": {"statistics": True, "third-party": False},
    "action": "save",
    "language": "sv",
    "policy_version": "2026-11-01",
    "page": "http://127.0.0.1/nyheter/konferens",
    "widget_version": "bench",
}
LUA = """
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _start(which: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.serve", which, str(port)],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.post(f"{base}/v1/sites/demo/consent", json=BODY, timeout=1)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{which} did not start")


def _wrk(base: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(script),
            f"{base}/v1/sites/demo/consent",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if not match:
        raise RuntimeError(out)
    requests, bad_status, socket_errors, p50, p99 = map(int, match.groups())
    return {
        "requests": requests,
        "non2xx": bad_status,
        "socket_errors": socket_errors,
        "rps": requests / seconds,
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
    }


async def stored_chain(url: str) -> tuple[int, bool]:
    """Rows stored at ``url`` and whether their hash chain verifies."""
    store = open_store(url)
    await store.open()
    try:
        result = await verify_rows(store.iter_rows())
        return result.rows_checked, result.ok
    finally:
        await store.close()


def _cpu_median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {
        kind: statistics.median(r[f"cpu_{kind}_us_per_request"] for r in runs)
        for kind in ("user", "sys")
    }


def main() -> None:
    """Run the comparison at each connection count and print a JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument(
        "--connections", default="32,128,256", help="comma-separated wrk connection counts"
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    levels = [int(c) for c in args.connections.split(",")]
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="kakor-bench-"))
    script = work / "post.lua"
    script.write_text(LUA.replace("{body}", json.dumps(BODY)))
    database = f"sqlite:///{work / 'kakor.db'}"
    env = {
        **os.environ,
        "CONSENT_DATABASE_URL": database,
        "CONSENT_SECRET_KEYS": "benchmark-key-0123456789abcdef",
        # All load comes from one address: a limit too high to bite keeps the limiter in the path.
        "CONSENT_RATE_LIMIT": "1000000000",
    }
    report: dict[str, object] = {
        "command": "python -m benchmarks.consent_throughput " + " ".join(sys.argv[1:]),
        "seconds": args.seconds,
        "rounds": args.rounds,
        "target": 0.6,
    }
    acknowledged = 0
    results = []
    for connections in levels:
        runs: dict[str, list[dict[str, float]]] = {"kakor": [], "bare": []}
        for _ in range(args.rounds):
            for which in ("bare", "kakor"):
                proc, base = _start(which, env)
                try:
                    user, system = cpu_times(proc.pid)
                    result = _wrk(base, script, args.seconds, connections)
                    user_after, system_after = cpu_times(proc.pid)
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
                done = max(result["requests"], 1)
                result["cpu_user_us_per_request"] = round((user_after - user) / done * 1e6, 1)
                result["cpu_sys_us_per_request"] = round((system_after - system) / done * 1e6, 1)
                runs[which].append(result)
                if which == "kakor":  # the start-up probe's consent counts too
                    acknowledged += int(result["requests"] - result["non2xx"]) + 1
        kakor = statistics.median(r["rps"] for r in runs["kakor"])
        bare = statistics.median(r["rps"] for r in runs["bare"])
        results.append(
            {
                "connections": connections,
                "bare_rps_median": round(bare, 1),
                "kakor_rps_median": round(kakor, 1),
                "ratio": round(kakor / bare, 3),
                # Each round runs bare then kakor back to back: a slow spell on a shared
                # host hits both halves of a pair, so the median of the pairs moves less.
                "ratio_paired_median": round(
                    statistics.median(
                        k["rps"] / b["rps"]
                        for k, b in zip(runs["kakor"], runs["bare"], strict=True)
                    ),
                    3,
                ),
                "kakor_p50_ms": statistics.median(r["p50_ms"] for r in runs["kakor"]),
                "kakor_p99_ms": statistics.median(r["p99_ms"] for r in runs["kakor"]),
                "bare_p50_ms": statistics.median(r["p50_ms"] for r in runs["bare"]),
                "kakor_non2xx": sum(r["non2xx"] for r in runs["kakor"]),
                # Server CPU per request (all its threads): less sensitive to a busy host.
                "kakor_cpu_us_per_request": _cpu_median(runs["kakor"]),
                "bare_cpu_us_per_request": _cpu_median(runs["bare"]),
                "runs": runs,
            }
        )
    rows, chain_ok = asyncio.run(stored_chain(database))
    report["levels"] = results
    # wrk counts a request still in flight when it stops as not done; its row is stored.
    report["rows_stored"] = rows
    report["rows_acknowledged_at_most"] = acknowledged
    report["every_201_stored"] = rows >= acknowledged
    report["chain_verifies"] = chain_ok
    print(json.dumps(report, indent=2))
    for level in results:
        print(
            f"{level['connections']:>5} connections: bare {level['bare_rps_median']:>8} req/s, "
            f"kakor {level['kakor_rps_median']:>8} req/s, ratio {level['ratio']} "
            f"(paired {level['ratio_paired_median']}); "
            f"server CPU per request (user+sys us): bare {level['bare_cpu_us_per_request']}, "
            f"kakor {level['kakor_cpu_us_per_request']}",
            file=sys.stderr,
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
