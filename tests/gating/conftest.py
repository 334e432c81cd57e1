"""Helpers for the gating suites: visitor tokens, edited demo configs, the browser, the demo."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from consent_service.consent.tokens import TokenSigner
from consent_service.settings import DEMO_CONFIG, Secret

from ..conftest import KEY, ON_CI, FakeClock, post_consent
from .servers import Processes, free_port

CHROMIUM = os.environ.get("CONSENT_CHROMIUM", "/usr/bin/chromium")

#: The demo's optional categories, in the token's bit order.
OPTIONAL = ("statistics", "third-party")
#: Every combination of the demo's optional choices.
COMBINATIONS = [{"statistics": s, "third-party": t} for s in (False, True) for t in (False, True)]


def token_for(client: TestClient, choices: dict[str, bool]) -> str:
    """A real token from the service for ``choices``; the client's cookie jar is left empty."""
    answer = post_consent(client, {"action": "save", "choices": choices})
    assert answer.status_code == 201, answer.text
    client.cookies.clear()
    token: str = answer.json()["token"]
    return token


def cookie(token: str) -> dict[str, str]:
    """The request header a browser sends with the demo's consent cookie."""
    return {"Cookie": f"consent={token}"}


def forged_token(clock: FakeClock, mask: int = 0b11) -> str:
    """A well-formed token for the demo site signed with a key the service does not have."""
    return TokenSigner((Secret("not-the-service-key-000000"),), clock=clock).sign(
        "demo", "forged-id-0000000000000", "2026-11-01", mask
    )


def token_with(clock: FakeClock, *, policy_version: str, mask: int) -> str:
    """A token signed with the service's real key, with any policy version and mask."""
    return TokenSigner((Secret(KEY),), clock=clock).sign(
        "demo", "some-consent-id-0000000", policy_version, mask
    )


@pytest.fixture
def edited_config(tmp_path: Path) -> Callable[..., Path]:
    """Factory: the demo config with text replacements applied, written to a temp file."""

    def factory(*replacements: tuple[str, str]) -> Path:
        text = DEMO_CONFIG.read_text(encoding="utf-8")
        for old, new in replacements:
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / "site.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return factory


def need_browser() -> None:
    """Skip (fail under ``CI=true``) when Chromium or Playwright is missing."""
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium at {CHROMIUM}")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing.append("Playwright")
    if missing:
        message = f"the scanner tests need {' and '.join(missing)}"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Factory: ``consent-service demo`` as a real subprocess on a free port; its base URL."""
    procs = Processes(tmp_path)

    def start() -> str:
        port = free_port()
        exe = shutil.which("consent-service", path=str(Path(sys.executable).parent))
        assert exe, "consent-service is not installed in this environment"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENT_")}
        database = f"sqlite:///{tmp_path / 'demo.db'}"
        procs.start(
            [exe, "demo", "--port", str(port), "--database", database],
            port,
            probe="/healthz",
            env=env,
        )
        return f"http://127.0.0.1:{port}"

    yield start
    procs.stop()
