"""Helpers for the gating suites: visitor tokens of every kind, and edited demo configs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from consent_service.consent.tokens import TokenSigner
from consent_service.settings import DEMO_CONFIG, Secret

from ..conftest import KEY, FakeClock, post_consent

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
