"""What the transparency log costs the consent write path: this code against the code before it.

Issue 16's target: consent writes keep at least 90 % of their throughput with the Merkle
tree and the signed heads on. "Off" is the service as it was before them (``--before``,
by default the last commit without the tree), exported with ``git archive`` and run
from its own folder, so both sides are the real ``consent-service serve`` of their
code, each on its own fresh SQLite file (WAL, ``synchronous=FULL``). The same wrk load
runs against each, alternating, ``--rounds`` times per connection count; the report is
the median throughput of each and their ratio. After the run the new side's log is
verified with its tree and signed heads.

    python -m benchmarks.signing_bench [--seconds 8] [--connections 32,128] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from benchmarks.consent_throughput import BODY, LUA, ROOT, measure
from consent_service.audit.integrity import verify_log
from consent_service.audit.signing import load_signer
from consent_service.settings import Settings
from consent_service.store import open_store

#: The last commit before the Merkle tree and signed heads.
BEFORE = "c697202"


def _export(ref: str, into: Path) -> Path:
    """The tree of ``ref`` as files in ``into``."""
    archive = subprocess.run(
        ["git", "archive", ref], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def _measure(
    code: Path, env: dict[str, str], script: Path, seconds: int, connections: int
) -> dict[str, float]:
    result = measure("kakor", env, script, seconds, connections, code)
    result["cpu_us_per_request"] = round(
        result["cpu_user_us_per_request"] + result["cpu_sys_us_per_request"], 1
    )
    return result


async def _verified(url: str, key: Path) -> dict[str, object]:
    store = open_store(url)
    store.signer = load_signer(Settings(database_url=url, log_key_file=key))
    await store.open()
    try:
        report = await verify_log(store)
    finally:
        await store.close()
    return {
        "ok": report["ok"],
        "rows": report["rows_checked"],
        "roots_compared": report["tree"]["roots_compared"],
    }


def main() -> None:
    """Run both sides at each connection count; print a JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", default="32,128")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", default=BEFORE, help="the code without the tree (a git ref)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="kakor-signing-"))
    sides = {"before": _export(args.before, work / "before"), "now": ROOT}
    script = work / "post.lua"
    script.write_text(LUA.replace("{body}", json.dumps(BODY)))
    key = work / "log-key.pem"
    envs = {
        side: {
            **os.environ,
            "CONSENT_DATABASE_URL": f"sqlite:///{work / side}.db",
            "CONSENT_SECRET_KEYS": "benchmark-key-0123456789abcdef",
            "CONSENT_RATE_LIMIT": "1000000000",
            "CONSENT_LOG_KEY_FILE": str(key),
        }
        for side in sides
    }
    from consent_service.audit.heads import create_key_file

    create_key_file(key, "localhost")
    levels = []
    for connections in [int(c) for c in args.connections.split(",")]:
        runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
        for _ in range(args.rounds):
            for side, code in sides.items():
                runs[side].append(_measure(code, envs[side], script, args.seconds, connections))
        before = statistics.median(r["rps"] for r in runs["before"])
        now = statistics.median(r["rps"] for r in runs["now"])
        levels.append(
            {
                "connections": connections,
                "before_rps_median": round(before, 1),
                "now_rps_median": round(now, 1),
                "ratio": round(now / before, 3),
                "ratio_paired_median": round(
                    statistics.median(
                        n["rps"] / b["rps"]
                        for n, b in zip(runs["now"], runs["before"], strict=True)
                    ),
                    3,
                ),
                "before_cpu_us_per_request": statistics.median(
                    r["cpu_us_per_request"] for r in runs["before"]
                ),
                "now_cpu_us_per_request": statistics.median(
                    r["cpu_us_per_request"] for r in runs["now"]
                ),
                "non2xx": sum(r["non2xx"] for rs in runs.values() for r in rs),
                "runs": runs,
            }
        )
    report = {
        "command": "python -m benchmarks.signing_bench " + " ".join(sys.argv[1:]),
        "before": args.before,
        "target": 0.9,
        "levels": levels,
        "now_log": asyncio.run(_verified(envs["now"]["CONSENT_DATABASE_URL"], key)),
    }
    print(json.dumps(report, indent=2))
    for level in levels:
        print(
            f"{level['connections']:>5} connections: before {level['before_rps_median']} req/s, "
            f"now {level['now_rps_median']} req/s, ratio {level['ratio']} "
            f"(paired {level['ratio_paired_median']}); CPU us/request before "
            f"{level['before_cpu_us_per_request']}, now {level['now_cpu_us_per_request']}",
            file=sys.stderr,
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
