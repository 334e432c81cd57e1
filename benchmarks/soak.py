#!/usr/bin/env python3
"""Soak: mixed traffic against a real ``consent-service serve`` for a while.

Starts the server on 127.0.0.1 (a fresh SQLite file unless ``--database`` says
otherwise), drives it with an asyncio httpx load generator and reports, per kind of
request, the count, errors and latency percentiles, plus the server's resident memory
sampled from ``/proc/<pid>/status`` over time.

Kinds of traffic (``--mix``):

=========  ==========================================================================
widget     ``GET /v1/sites/{site}/widget.js`` (gzip), as every page view does
config     ``GET /v1/sites/{site}/config``
consent    ``POST /v1/sites/{site}/consent``: new visitors, and returning ones with a token
read       ``GET /v1/sites/{site}/consent`` with a token from an earlier consent
withdraw   ``DELETE /v1/sites/{site}/consent`` with a token
export     ``GET /admin/v1/sites/{site}/consents?format=jsonl`` for the last 30 s (bearer)
=========  ==========================================================================

``--mix auto`` (the default) runs every kind whose route is in the server's
``/openapi.json`` and says which were left out and why; an explicit mix such as
``--mix widget=4,consent=3`` fails if a kind it names is not available. An export
needs an admin token: ``--admin-token``, or one is created with
``consent-service token create`` when that command exists.

    python benchmarks/soak.py --duration 180 --markdown docs-table.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script

from benchmarks.procs import free_port, rss_kib  # noqa: E402 - after the path it needs

DEMO_CONFIG = ROOT / "consent_service" / "demo" / "site.toml"
SOAK_KEY = "soak-key-0123456789abcdef0123"
ROUTES = {
    "widget": "/v1/sites/{site}/widget.js",
    "config": "/v1/sites/{site}/config",
    "consent": "/v1/sites/{site}/consent",
    "read": "/v1/sites/{site}/consent",
    "withdraw": "/v1/sites/{site}/consent",
    "export": "/admin/v1/sites/{site}/consents",
}
DEFAULT_WEIGHTS = {"widget": 5, "config": 2, "consent": 3, "read": 4, "withdraw": 1, "export": 1}
TOKEN_POOL = 2000


@dataclass
class Tally:
    """Latencies and failures of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    server_errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        ms = sorted(x * 1000 for x in self.latencies)
        return {
            "count": len(ms),
            "errors": self.errors,
            "server_errors": self.server_errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "p50_ms": _pct(ms, 50),
            "p95_ms": _pct(ms, 95),
            "p99_ms": _pct(ms, 99),
            "max_ms": round(ms[-1], 2) if ms else None,
        }


def _pct(sorted_ms: list[float], p: float) -> float | None:
    if not sorted_ms:
        return None
    index = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return round(sorted_ms[index], 2)


class Server:
    """``python -m consent_service serve`` on a free port."""

    def __init__(self, database_url: str, config: Path, log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CONSENT_SECRET_KEYS": SOAK_KEY,
            "CONSENT_RATE_LIMIT": "0",
            "CONSENT_LOG_LEVEL": "warning",
        }
        self.database_url = database_url
        self.config = config
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "consent_service",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--database",
                database_url,
                "--config",
                str(config),
            ],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("the server exited before it was ready")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit("the server was not ready in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def create_admin_token(self, site: str) -> str | None:
        """An officer token from ``consent-service token create``, if the command exists."""
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "consent_service",
                "token",
                "create",
                "--site",
                site,
                "--database",
                self.database_url,
                "--config",
                str(self.config),
            ],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        found = re.search(r"kakor_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", result.stdout)
        return found.group(0) if found else None


def parse_mix(text: str) -> dict[str, int] | None:
    """``auto`` → None; ``widget=4,consent=3`` → weights (unknown kinds refused)."""
    if text == "auto":
        return None
    weights = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in ROUTES:
            raise SystemExit(f"unknown kind {name!r} in --mix; kinds: {', '.join(ROUTES)}")
        weights[name] = int(weight or DEFAULT_WEIGHTS[name])
    return weights


def available_kinds(base_url: str, admin_token: str | None) -> dict[str, str | None]:
    """Each kind → None when it can run, else why not."""
    paths = httpx.get(f"{base_url}/openapi.json", timeout=10).json()["paths"]
    reasons: dict[str, str | None] = {}
    for kind, route in ROUTES.items():
        if route not in paths:
            reasons[kind] = f"{route} is not in /openapi.json"
        elif kind == "export" and not admin_token:
            reasons[kind] = "no admin token (give --admin-token; `token create` is not available)"
        else:
            reasons[kind] = None
    return reasons


class Load:
    """The load generator: ``concurrency`` visitors picking kinds by weight."""

    def __init__(self, site: str, weights: dict[str, int], admin_token: str | None, seed: int):
        self.site = site
        self.kinds = list(weights)
        self.weights = [weights[k] for k in self.kinds]
        self.admin_token = admin_token
        self.random = random.Random(seed)
        self.tokens: list[str] = []
        self.tallies = {kind: Tally() for kind in self.kinds}
        self.actions: dict[str, Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]] = {
            "widget": self._widget,
            "config": self._config,
            "consent": self._consent,
            "read": self._read,
            "withdraw": self._withdraw,
            "export": self._export,
        }

    def _token(self) -> str | None:
        return self.random.choice(self.tokens) if self.tokens else None

    async def _widget(self, client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(
            f"/v1/sites/{self.site}/widget.js", headers={"Accept-Encoding": "gzip, br"}
        )

    async def _config(self, client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(f"/v1/sites/{self.site}/config")

    async def _consent(self, client: httpx.AsyncClient) -> httpx.Response:
        token = self._token() if self.random.random() < 0.3 else None
        action = self.random.choice(["accept-all", "reject-all", "save"])
        body: dict[str, Any] = {"action": action, "language": "sv", "page": "https://x.se/a"}
        if action == "save":
            body["choices"] = {"statistics": self.random.random() < 0.5}
        headers = {"Kakor-Token": token} if token else {}
        answer = await client.post(f"/v1/sites/{self.site}/consent", json=body, headers=headers)
        if answer.status_code == 201:
            self.tokens.append(answer.json()["token"])
            if len(self.tokens) > TOKEN_POOL:
                del self.tokens[: TOKEN_POOL // 2]
        return answer

    async def _read(self, client: httpx.AsyncClient) -> httpx.Response:
        token = self._token()
        if token is None:
            return await self._consent(client)
        return await client.get(f"/v1/sites/{self.site}/consent", headers={"Kakor-Token": token})

    async def _withdraw(self, client: httpx.AsyncClient) -> httpx.Response:
        token = self._token()
        headers = {"Kakor-Token": token} if token else {}
        return await client.delete(f"/v1/sites/{self.site}/consent", headers=headers)

    async def _export(self, client: httpx.AsyncClient) -> httpx.Response:
        since = (datetime.now(UTC) - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        async with client.stream(
            "GET",
            f"/admin/v1/sites/{self.site}/consents",
            params={"format": "jsonl", "since": since},
            headers={"Authorization": f"Bearer {self.admin_token}"},
        ) as answer:
            async for _ in answer.aiter_bytes():
                pass
        return answer

    async def visitor(self, client: httpx.AsyncClient, until: float) -> None:
        while time.monotonic() < until:
            kind = self.random.choices(self.kinds, self.weights)[0]
            tally = self.tallies[kind]
            started = time.perf_counter()
            try:
                answer = await self.actions[kind](client)
            except httpx.HTTPError:
                tally.errors += 1
                continue
            tally.latencies.append(time.perf_counter() - started)
            tally.statuses[answer.status_code] = tally.statuses.get(answer.status_code, 0) + 1
            if answer.status_code >= 400:
                tally.errors += 1
            if answer.status_code >= 500:
                tally.server_errors += 1


async def sample_memory(
    pid: int, interval: float, until: float, out: list[dict[str, float]]
) -> None:
    started = time.monotonic()
    while time.monotonic() < until:
        rss = rss_kib(pid)
        if rss is not None:
            out.append({"t": round(time.monotonic() - started, 1), "rss_mib": round(rss / 1024, 1)})
        await asyncio.sleep(interval)


async def drive(
    args: argparse.Namespace, server: Server, weights: dict[str, int], token: str | None
) -> tuple[Load, list[dict[str, float]], float]:
    load = Load(args.site, weights, token, args.seed)
    memory: list[dict[str, float]] = []
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as client:
        # warm-up: one of each, so the first percentile is not the import of a module
        for kind in load.kinds:
            await load.actions[kind](client)
        started = time.monotonic()
        until = started + args.duration
        interval = max(0.5, args.duration / 40)
        await asyncio.gather(
            sample_memory(server.process.pid, interval, until, memory),
            *(load.visitor(client, until) for _ in range(args.concurrency)),
        )
        elapsed = time.monotonic() - started
    return load, memory, elapsed


def memory_growth(samples: list[dict[str, float]], duration: float) -> dict[str, float | None]:
    """Mean RSS of the second and the last quarter of the run, and their ratio."""

    def mean(lo: float, hi: float) -> float | None:
        values = [s["rss_mib"] for s in samples if lo <= s["t"] < hi]
        return round(statistics.fmean(values), 1) if values else None

    second = mean(duration / 4, duration / 2)
    last = mean(duration * 3 / 4, duration + 1)
    ratio = round(last / second, 3) if second and last else None
    return {"second_quarter_mib": second, "last_quarter_mib": last, "ratio": ratio}


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"{report['duration_s']:.0f} s, {report['concurrency']} concurrent clients, "
        f"{report['requests']} requests ({report['requests_per_s']:.0f}/s), "
        f"{report['errors']} errors, {report['server_errors']} 5xx. "
        f"Kinds run: {', '.join(report['ran'])}"
        + (
            "; not available: "
            + "; ".join(f"{k} ({why})" for k, why in report["not_available"].items())
            if report["not_available"]
            else ""
        )
        + ".",
        "",
        "| kind | requests | errors | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, row in report["kinds"].items():
        lines.append(
            f"| {kind} | {row['count']} | {row['errors']} | {row['p50_ms']} | {row['p95_ms']} "
            f"| {row['p99_ms']} | {row['max_ms']} |"
        )
    lines += ["", "Server memory (RSS) over time:", "", "| t (s) | RSS MiB |", "|---:|---:|"]
    samples = report["rss"]
    step = max(1, len(samples) // 10)
    for sample in samples[::step] + (
        [samples[-1]] if samples and (len(samples) - 1) % step else []
    ):
        lines.append(f"| {sample['t']:.1f} | {sample['rss_mib']} |")
    growth = report["rss_growth"]
    lines += [
        "",
        f"RSS mean, second quarter {growth['second_quarter_mib']} MiB → last quarter "
        f"{growth['last_quarter_mib']} MiB (ratio {growth['ratio']}).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load (180)")
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent clients (20)")
    parser.add_argument("--mix", default="auto", help="auto, or kind=weight,… (see above)")
    parser.add_argument("--site", default="demo", help="site id (demo)")
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--config", type=Path, default=DEMO_CONFIG, help="site config TOML")
    parser.add_argument("--admin-token", help="bearer token for the export kind")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the report as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the report as Markdown here")
    args = parser.parse_args(argv)
    requested = parse_mix(args.mix)
    with tempfile.TemporaryDirectory(prefix="kakor-soak-") as tmp:
        database = args.database or f"sqlite:///{Path(tmp) / 'soak.db'}"
        server = Server(database, args.config, Path(tmp) / "server.log")
        try:
            server.wait_ready()
            token = args.admin_token
            if (
                token is None
                and "/admin/v1/sites/{site}/consents"
                in httpx.get(f"{server.base_url}/openapi.json").json()["paths"]
            ):
                token = server.create_admin_token(args.site)
            reasons = available_kinds(server.base_url, token)
            if requested is None:
                weights = {k: w for k, w in DEFAULT_WEIGHTS.items() if reasons[k] is None}
            else:
                missing = {k: reasons[k] for k in requested if reasons[k] is not None}
                if missing:
                    raise SystemExit(f"--mix names kinds that cannot run: {missing}")
                weights = requested
            load, memory, elapsed = asyncio.run(drive(args, server, weights, token))
        finally:
            server.stop()
            log = (Path(tmp) / "server.log").read_text(errors="replace")
    kinds = {kind: tally.summary() for kind, tally in load.tallies.items()}
    requests = sum(k["count"] for k in kinds.values())
    report = {
        "duration_s": round(elapsed, 1),
        "concurrency": args.concurrency,
        "database": database.split(":", 1)[0],
        "mix": weights,
        "ran": list(weights),
        "not_available": {k: why for k, why in reasons.items() if why and k not in weights},
        "requests": requests,
        "requests_per_s": round(requests / elapsed, 1),
        "errors": sum(k["errors"] for k in kinds.values()),
        "server_errors": sum(k["server_errors"] for k in kinds.values()),
        "kinds": kinds,
        "rss": memory,
        "rss_growth": memory_growth(memory, elapsed),
        "server_log_errors": [ln for ln in log.splitlines() if "ERROR" in ln][:20],
    }
    text = markdown(report)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.markdown:
        args.markdown.write_text(text)
    return 1 if report["server_errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
