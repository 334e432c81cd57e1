"""Fixtures of the admin suites: two sites, tokens made by the real CLI, seeded consents."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from consent_service.audit.events import AuditRow
from consent_service.cli.main import main
from consent_service.settings import DEMO_CONFIG
from consent_service.store import open_store

from ..conftest import KEY, FakeClock, signed
from ..rawdb import RawDb

DAY = 86400.0


@pytest.fixture
def two_sites(tmp_path: Path) -> Path:
    """A config with the demo site and a copy of it named ``other``."""
    text = DEMO_CONFIG.read_text()
    path = tmp_path / "sites.toml"
    path.write_text(text + "\n" + text.replace("[sites.demo", "[sites.other"))
    return path


@pytest.fixture
def admin_client(make_client: Callable[..., TestClient], two_sites: Path) -> TestClient:
    """The service with two sites, started."""
    return make_client(config_path=two_sites)


@pytest.fixture
def cli(clock: FakeClock) -> Callable[..., int]:
    """``consent-service ARGS…`` in-process, on the tests' clock; returns the exit code."""

    def run(*args: str) -> int:
        return main(list(args), now=clock.datetime)

    return run


@pytest.fixture
def make_token(
    database_url: str, two_sites: Path, capsys: pytest.CaptureFixture[str], cli: Callable[..., int]
) -> Callable[..., str]:
    """Factory: a token made by ``consent-service token create``, as the CLI prints it."""

    def factory(*sites: str, role: str = "officer") -> str:
        capsys.readouterr()
        args = ["token", "create", "--database", database_url, "--config", str(two_sites)]
        for site in sites or ("demo",):
            args += ["--site", site]
        assert cli(*args, "--role", role) == 0
        return capsys.readouterr().out.strip()

    return factory


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def consent(client: TestClient, site: str = "demo", **body: Any) -> dict[str, Any]:
    """POST one decision (no cookie carried over: each is a new visitor) and return it."""
    headers = body.pop("headers", {})
    client.cookies.clear()
    answer = client.post(f"/v1/sites/{site}/consent", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


@pytest.fixture
def seed(admin_client: TestClient, clock: FakeClock) -> Callable[[], list[dict[str, Any]]]:
    """Factory: a known mix of decisions over two days on ``demo`` and one on ``other``.

    Day 1: accept-all, reject-all, save(statistics), GPC. Day 2: accept-all, reject-all.
    """

    def factory() -> list[dict[str, Any]]:
        made = [
            consent(admin_client, action="accept-all", language="sv"),
            consent(admin_client, action="reject-all", language="en"),
            consent(
                admin_client,
                action="save",
                choices={"statistics": True, "third-party": False},
                language="sv",
            ),
            consent(admin_client, action="gpc", headers={"Sec-GPC": "1"}),
        ]
        consent(admin_client, site="other", action="accept-all")
        clock.advance(DAY)
        made += [
            consent(admin_client, action="accept-all"),
            consent(admin_client, action="reject-all"),
        ]
        return made

    return factory


def stored_rows(database_url: str, site_id: str | None = None) -> list[AuditRow]:
    """Every row as the store reads it back, oldest first."""

    async def go() -> list[AuditRow]:
        store = signed(open_store(database_url))
        await store.open()
        try:
            return [row async for row in store.iter_rows(site_id=site_id)]
        finally:
            await store.close()

    return asyncio.run(go())


@pytest.fixture
def raw_db(database_url: str) -> Iterator[RawDb]:
    """A direct connection to the database, as an attacker with database rights has it."""
    conn = RawDb(database_url)
    yield conn
    conn.close()


def tamper(conn: RawDb, sql: str, *args: Any) -> None:
    """Run ``sql`` past the append-only trigger (what an attacker would do)."""
    conn.execute(sql, *args, bypass_triggers=True)


@dataclass
class Service:
    base: str
    database_url: str
    env: dict[str, str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """``consent-service serve`` on a free port with a fresh SQLite file."""
    port = _free_port()
    database_url = f"sqlite:///{tmp_path / 'kakor.db'}"
    env = {**os.environ, "CONSENT_SECRET_KEYS": KEY, "CONSENT_RATE_LIMIT": "0"}
    env.pop("CONSENT_AUTO_PURGE", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "consent_service",
            "serve",
            "--port",
            str(port),
            "--database",
            database_url,
            "--config",
            str(DEMO_CONFIG),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "the service exited"
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.1)
        yield Service(base, database_url, env)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
