"""Crash durability (C15, C19, C22): every consent answered 201 survives a SIGKILL.

A real server takes ~20 concurrent visitors (a first decision, then an update with the
token, so each consent ID gets several rows); mid-stream it is killed with SIGKILL, no
shutdown hook runs. After a restart every acknowledged write is in the log, the
chain verifies, and the restarted server extends the chain.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from consent_service.audit.verify import verify_rows
from consent_service.store import open_store

from ..conftest import KEY, signed
from .server import Server, running

CONCURRENCY = 20
#: Kill once this many writes were acknowledged (or after KILL_AFTER seconds).
KILL_AT_ACKS = 250
KILL_AFTER = 8.0


async def _visitor(client: httpx.AsyncClient, acks: Counter[str], stop: asyncio.Event) -> int:
    """Decide, then change one's mind with the token, until the server dies; count failures."""
    errors = 0
    while not stop.is_set():
        try:
            first = await client.post("/v1/sites/demo/consent", json={"action": "accept-all"})
            if first.status_code != 201:
                errors += 1
                continue
            body = first.json()
            acks[body["consent_id"]] += 1
            again = await client.post(
                "/v1/sites/demo/consent",
                json={"action": "reject-all"},
                headers={"Kakor-Token": body["token"]},
            )
            if again.status_code == 201:
                assert again.json()["consent_id"] == body["consent_id"]
                acks[body["consent_id"]] += 1
            else:
                errors += 1
        except httpx.HTTPError:
            return errors  # the server is gone
    return errors


async def _drive_and_kill(server: Server) -> tuple[Counter[str], int, float]:
    """Run the visitors; SIGKILL the server while their requests are in flight."""
    acks: Counter[str] = Counter()
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=10) as client:
        tasks = [asyncio.create_task(_visitor(client, acks, stop)) for _ in range(CONCURRENCY)]
        started = time.monotonic()
        while sum(acks.values()) < KILL_AT_ACKS and time.monotonic() - started < KILL_AFTER:
            await asyncio.sleep(0.01)
        server.kill()  # mid-stream: CONCURRENCY requests are in flight
        stop.set()
        errors = sum(await asyncio.gather(*tasks))
    return acks, errors, time.monotonic() - started


async def _stored(url: str, consent_ids: list[str]) -> tuple[dict[str, int], int, dict[str, Any]]:
    store = signed(open_store(url))
    await store.open()
    try:
        counts = {cid: len(await store.consent_history("demo", cid)) for cid in consent_ids}
        total = await store.row_count()
        verified = (await verify_rows(store.iter_rows())).to_dict()
    finally:
        await store.close()
    return counts, total, verified


def _verify_cli(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consent_service", "verify", "--database", url],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "CONSENT_SECRET_KEYS": KEY,
            "CONSENT_LOG_KEY_FILE": os.environ["CONSENT_LOG_KEY_FILE"],  # the servers' key
            "PATH": "/usr/bin:/bin",
        },
        check=False,
    )


def test_every_acknowledged_consent_survives_sigkill(any_database_url: str, tmp_path: Path) -> None:
    url = any_database_url
    log = tmp_path / "server.log"
    server = Server(url, log)
    server.wait_ready()
    acks, errors, seconds = asyncio.run(_drive_and_kill(server))
    server.stop()
    acknowledged = sum(acks.values())
    print(f"crash: {acknowledged} writes acknowledged in {seconds:.2f}s, then SIGKILL")
    assert acknowledged >= 20, f"too few writes before the kill ({acknowledged} in {seconds:.1f}s)"
    assert errors == 0, "a write was refused before the kill"

    with running(url, log) as restarted:  # the same database, after the crash
        after = httpx.post(f"{restarted.base_url}/v1/sites/demo/consent", json={"action": "gpc"})
        assert after.status_code == 201

    counts, total, verified = asyncio.run(_stored(url, list(acks)))
    lost = {cid: (n, counts[cid]) for cid, n in acks.items() if counts[cid] < n}
    assert not lost, f"acknowledged but missing after the crash (acks, rows): {lost}"
    assert total >= acknowledged + 1
    assert verified["ok"], verified
    assert verified["rows_checked"] == total
    cli = _verify_cli(url)
    assert cli.returncode == 0, cli.stdout + cli.stderr
