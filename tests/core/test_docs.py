"""Documentation keeps up: every setting, config key, route and command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route

from consent_service.cli.main import build_parser
from consent_service.settings import ENV_VARS, Settings
from consent_service.sites.rules import SITE_KEYS, TEXT_KEYS
from consent_service.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]


def _docs() -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))


def test_readme_starts_with_the_two_commands() -> None:
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.strip()]
    assert lines[1] == "```sh"
    assert lines[2].startswith("make run")
    assert lines[3].startswith("make test")


def test_every_setting_is_in_env_example_and_docs() -> None:
    example = (ROOT / ".env.example").read_text()
    source = "\n".join(p.read_text() for p in (ROOT / "consent_service").rglob("*.py"))
    read = set(re.findall(r'"(CONSENT_[A-Z_]+)"', source))
    assert read <= set(ENV_VARS), f"read but not listed in ENV_VARS: {read - set(ENV_VARS)}"
    for name in ENV_VARS:
        assert re.search(rf"^#? ?{name}=", example, re.M), f"{name} missing from .env.example"
        assert name in _docs(), f"{name} missing from docs/"


def test_every_site_key_and_text_key_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for key in sorted(SITE_KEYS) + list(TEXT_KEYS):
        assert f"`{key}`" in text, f"config key {key} missing from docs/configuration.md"


def test_every_route_is_documented(tmp_path: Path) -> None:
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path}/d.db", secret_keys=(), demo=True
        ).with_demo_key(tmp_path / "key")
    )
    docs = _docs()
    for route in app.routes:
        if isinstance(route, Route):
            assert f" {route.path}`" in docs, f"{route.path} missing from docs/"


def test_every_command_is_documented() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert commands is not None
    docs = _docs()
    for name in commands:
        assert f"consent-service {name}" in docs, f"command {name} missing from docs/"
