"""Fixtures of the admin suites: two sites, tokens made by the real CLI, seeded consents."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.audit.events import AuditRow
from consent_service.cli.main import main
from consent_service.settings import DEMO_CONFIG
from consent_service.store import open_store

from ..conftest import FakeClock, signed
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
