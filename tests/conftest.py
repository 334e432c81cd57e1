"""Shared fixtures: factories for settings, apps and clients; time is injected, never slept."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from consent_service.audit.heads import create_key_file
from consent_service.audit.signing import LogSigner, load_signer
from consent_service.settings import DEMO_CONFIG, Secret, Settings
from consent_service.store import Store
from consent_service.web.app import create_app

from . import pg

KEY = "test-key-0123456789abcdef"
ON_CI = os.environ.get("CI", "").lower() == "true"


class FakeClock:
    """A settable clock: call it for the time, ``advance`` it instead of sleeping."""

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def datetime(self) -> datetime:
        """The clock's time as an aware UTC datetime (the command line's clock)."""
        return datetime.fromtimestamp(self.now, tz=UTC)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def utc(text: str) -> float:
    """The POSIX time of an ISO 8601 UTC moment, e.g. ``utc("2026-12-31T23:59:59")``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


#: Moments where code that depends on today breaks: month and year ends, a leap day.
#: Parametrise ``clock`` with them: ``@pytest.mark.parametrize("clock", EDGES, indirect=True)``.
EDGES = [
    pytest.param(utc("2026-11-18T08:26:40"), id="mid-month"),
    pytest.param(utc("2027-03-01T00:00:00"), id="first-of-month"),
    pytest.param(utc("2026-11-30T23:59:59"), id="last-second-of-month"),
    pytest.param(utc("2026-12-31T23:59:59"), id="new-years-eve"),
    pytest.param(utc("2028-02-29T12:00:00"), id="leap-day"),
]


@pytest.fixture(scope="session", autouse=True)
def log_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One log signing key for the whole run, as a deployment has one: apps, stores and
    the command line (in-process or a subprocess, through the environment) all use it."""
    path = tmp_path_factory.mktemp("log-key") / "log-key.pem"
    create_key_file(path, "localhost")
    before = os.environ.get("CONSENT_LOG_KEY_FILE")
    os.environ["CONSENT_LOG_KEY_FILE"] = str(path)
    yield path
    if before is None:
        os.environ.pop("CONSENT_LOG_KEY_FILE", None)
    else:
        os.environ["CONSENT_LOG_KEY_FILE"] = before


def run_signer() -> LogSigner:
    """The run's log signer (:func:`log_key`), for stores a test opens itself."""
    return load_signer(Settings.from_env())


def signed(store: Store) -> Store:
    """``store``, signing its heads with the run's log key as the service would."""
    store.signer = run_signer()
    return store


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> FakeClock:
    """The fixed clock of the app, its signer and the command line (``EDGES`` to vary it)."""
    return FakeClock(getattr(request, "param", 1_795_000_000.0))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL database created for this test session and dropped after it.

    Unreachable server: the test skips, or fails under ``CI=true``.
    """
    yield from pg.session_database()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    pg.reset(postgres_server)
    return postgres_server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database for one test, once per store: every API test runs on both.

    A test that only makes sense on one store narrows it with
    ``@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)``.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kakor.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "config_path": DEMO_CONFIG,
            "secret_keys": (Secret(KEY),),
            "rate_limit": 0,
            "log_key_file": Path(os.environ["CONSENT_LOG_KEY_FILE"]),
        }
        values.update(overrides)
        return Settings(**values)

    return factory


@pytest.fixture
def make_client(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> Iterator[Callable[..., TestClient]]:
    """Factory: a started app (lifespan run) behind a TestClient.

    ``base_url`` and ``peer`` (the client's address) set how the request arrives; every
    other keyword overrides a setting. Each client runs its own app: the recorder lives
    on the event loop of the client that started it.
    """
    opened: list[TestClient] = []

    def factory(
        *, base_url: str = "http://localhost", peer: tuple[str, int] | None = None, **overrides: Any
    ) -> TestClient:
        extra: dict[str, Any] = {"client": peer} if peer else {}
        client = TestClient(
            create_app(make_settings(**overrides), clock=clock), base_url=base_url, **extra
        )
        client.__enter__()
        opened.append(client)
        return client

    yield factory
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def post_consent(client: TestClient, body: dict[str, Any], **kwargs: Any) -> Any:
    """POST a decision to the demo site."""
    return client.post("/v1/sites/demo/consent", json=body, **kwargs)
