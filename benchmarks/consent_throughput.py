"""Consent throughput: the service as it runs by default against a bare Starlette app.

The baseline is what a user would reach for: a bare Starlette app under uvicorn's
defaults (httptools and uvloop; access log off, as the service's is). The service
runs exactly as `consent-service serve` runs it (`cli.server_options`: one process,
its protocol class with the header limits, proxy headers, no access log). Both are
driven by the same load generator (wrk, one thread, the same POST body) at the same
number of connections, measured alternately in the same run. The service writes every
consent to SQLite (WAL, synchronous=FULL) before answering 201; after the run the
benchmark checks that the rows stored cover the 201s wrk counted and that the chain
verifies. Target: service throughput >= 0.6 x the bare app at 32 and 128 connections.

Beside the headline it reports the same pair on uvicorn's h11 parser
(`CONSENT_HTTP_PARSER=h11` for the service, `--http h11` for the bare app), so the
cost of the parser shows apart from the cost of the service (`--no-h11` skips it).

    python -m benchmarks.consent_throughput [--seconds 8] [--connections 32,128] [--rounds 3]
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
from consent_service.audit.verify import verify_rows
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


ROOT = Path(__file__).resolve().parent.parent


def _start(
    which: str, env: dict[str, str], code: Path = ROOT
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``benchmarks.serve which`` from the checkout at ``code`` (this one by default)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.serve", which, str(port)],
        env={**env, "PYTHONPATH": str(code)} if code != ROOT else env,
        cwd=code,
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


#: The servers of one round, in the order they run (each pair back to back).
APPS = ("bare", "kakor", "bare-h11", "kakor-h11")


def measure(
    which: str,
    env: dict[str, str],
    script: Path,
    seconds: int,
    connections: int,
    code: Path = ROOT,
) -> dict[str, float]:
    """One wrk run against a fresh server ``which`` (of the checkout at ``code``), with its
    CPU per request."""
    parser = {"CONSENT_HTTP_PARSER": "h11"} if which == "kakor-h11" else {}
    app = "kakor" if which.startswith("kakor") else which
    proc, base = _start(app, {**env, **parser}, code)
    try:
        user, system = cpu_times(proc.pid)
        result = _wrk(base, script, seconds, connections)
        user_after, system_after = cpu_times(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    done = max(result["requests"], 1)
    result["cpu_user_us_per_request"] = round((user_after - user) / done * 1e6, 1)
    result["cpu_sys_us_per_request"] = round((system_after - system) / done * 1e6, 1)
    return result


def _compare(
    kakor: list[dict[str, float]], bare: list[dict[str, float]], suffix: str
) -> dict[str, object]:
    """The figures of one pair (``suffix`` "" for the headline, "-h11" beside it)."""
    k_rps = statistics.median(r["rps"] for r in kakor)
    b_rps = statistics.median(r["rps"] for r in bare)
    tag = suffix.replace("-", "_")
    return {
        f"bare{tag}_rps_median": round(b_rps, 1),
        f"kakor{tag}_rps_median": round(k_rps, 1),
        f"ratio{tag}": round(k_rps / b_rps, 3),
        # Each round runs bare then kakor back to back: a slow spell on a shared host
        # hits both halves of a pair, so the median of the pairs moves less.
        f"ratio{tag}_paired_median": round(
            statistics.median(k["rps"] / b["rps"] for k, b in zip(kakor, bare, strict=True)), 3
        ),
        f"kakor{tag}_p50_ms": statistics.median(r["p50_ms"] for r in kakor),
        f"kakor{tag}_p99_ms": statistics.median(r["p99_ms"] for r in kakor),
        f"bare{tag}_p50_ms": statistics.median(r["p50_ms"] for r in bare),
        f"kakor{tag}_non2xx": sum(r["non2xx"] for r in kakor),
        # Server CPU per request (all its threads): less sensitive to a busy host.
        f"kakor{tag}_cpu_us_per_request": _cpu_median(kakor),
        f"bare{tag}_cpu_us_per_request": _cpu_median(bare),
    }


def main() -> None:
    """Run the comparison at each connection count and print a JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument(
        "--connections", default="32,128", help="comma-separated wrk connection counts"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-h11", action="store_true", help="skip the pair on the h11 parser")
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
    apps = list(APPS) if not args.no_h11 else ["bare", "kakor"]
    acknowledged = 0
    results = []
    for connections in levels:
        runs: dict[str, list[dict[str, float]]] = {app: [] for app in apps}
        for _ in range(args.rounds):
            for which in apps:
                result = measure(which, env, script, args.seconds, connections)
                runs[which].append(result)
                if which.startswith("kakor"):  # the start-up probe's consent counts too
                    acknowledged += int(result["requests"] - result["non2xx"]) + 1
        level: dict[str, object] = {"connections": connections}
        for suffix in ("", "-h11") if "kakor-h11" in runs else ("",):
            level.update(_compare(runs[f"kakor{suffix}"], runs[f"bare{suffix}"], suffix))
        level["runs"] = runs
        results.append(level)
    rows, chain_ok = asyncio.run(stored_chain(database))
    report["levels"] = results
    # wrk counts a request still in flight when it stops as not done; its row is stored.
    report["rows_stored"] = rows
    report["rows_acknowledged_at_most"] = acknowledged
    report["every_201_stored"] = rows >= acknowledged
    report["chain_verifies"] = chain_ok
    print(json.dumps(report, indent=2))
    for level in results:
        for tag in ("", "_h11") if "ratio_h11" in level else ("",):
            print(
                f"{level['connections']:>5} connections{' h11' if tag else '    '}: "
                f"bare {level[f'bare{tag}_rps_median']:>8} req/s, "
                f"kakor {level[f'kakor{tag}_rps_median']:>8} req/s, ratio {level[f'ratio{tag}']} "
                f"(paired {level[f'ratio{tag}_paired_median']}); server CPU per request "
                f"(user+sys us): bare {level[f'bare{tag}_cpu_us_per_request']}, "
                f"kakor {level[f'kakor{tag}_cpu_us_per_request']}",
                file=sys.stderr,
            )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
