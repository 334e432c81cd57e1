"""docker-compose.yml runs what the tests run: every ``consent-service`` command and flag
it uses exists in the CLI, every ``CONSENT_*`` variable it sets is a known setting and
is explained in docs/deploy.md, and every known setting is read by the code."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from consent_service.cli.main import build_parser
from consent_service.settings import _READERS, ENV_VARS, Settings

from .store.replicas import serve_command, service_env

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
_INTERPOLATION = re.compile(r"\$\{([A-Z_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the CLI has no subcommands")


def service_commands(compose: dict[str, Any]) -> dict[str, list[str]]:
    return {
        name: service["command"]
        for name, service in compose["services"].items()
        if service.get("command", [None])[0] == "consent-service"
    }


def test_compose_has_two_replicas_a_database_and_a_proxy_with_health_checks(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert {"db", "app1", "app2", "proxy"} <= set(services)
    for name in ("db", "app1", "app2", "proxy"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert services["app1"]["command"] == services["app2"]["command"]
    assert services["app1"]["environment"] == services["app2"]["environment"]
    assert services["db"]["image"].startswith("postgres:")
    assert "/readyz" in " ".join(services["app1"]["healthcheck"]["test"])
    assert "[postgres]" in (ROOT / "Dockerfile").read_text()


def test_every_command_and_flag_exists_in_the_cli(compose: dict[str, Any]) -> None:
    known = subcommands()
    commands = service_commands(compose)
    assert {"app1", "app2", "migrate"} <= set(commands)
    for name, command in commands.items():
        sub = command[1]
        assert sub in known, f"{name}: no subcommand {sub!r}"
        flags = {opt for action in known[sub]._actions for opt in action.option_strings}
        for word in command[2:]:
            if word.startswith("-"):
                assert word in flags, f"{name}: `consent-service {sub}` has no {word}"
        build_parser().parse_args(command[1:])  # exits (fails the test) on anything else


def test_compose_runs_the_command_the_replica_tests_run(compose: dict[str, Any]) -> None:
    tested = serve_command(8000, "postgresql://x@y/z")[3:]  # after `python -m consent_service`
    deployed = compose["services"]["app1"]["command"][1:]
    assert deployed[0] == tested[0] == "serve"
    tested_flags = {w for w in tested if w.startswith("--")}
    deployed_flags = {w for w in deployed if w.startswith("--")}
    # Compose passes the database URL through CONSENT_DATABASE_URL instead of --database.
    assert deployed_flags <= tested_flags
    assert "CONSENT_DATABASE_URL" in compose["services"]["app1"]["environment"]


def test_every_consent_variable_is_a_known_setting(compose: dict[str, Any]) -> None:
    used: set[str] = set()
    for service in compose["services"].values():
        used.update(k for k in service.get("environment", {}) if k.startswith("CONSENT_"))
    used.update(n for n in _INTERPOLATION.findall(COMPOSE.read_text()) if n.startswith("CONSENT_"))
    used.update(k for k in service_env(["k" * 16]) if k.startswith("CONSENT_"))
    assert used, "compose sets no CONSENT_* variable"
    assert used <= set(ENV_VARS), f"unknown settings: {sorted(used - set(ENV_VARS))}"


def test_every_known_setting_is_read_by_the_code() -> None:
    """ENV_VARS holds no dead names: each sets a field of Settings that code outside
    settings.py reads (tests/core/test_docs.py checks they are documented)."""
    fields = {f.name for f in dataclasses.fields(Settings)}
    code = "\n".join(
        p.read_text() for p in (ROOT / "consent_service").rglob("*.py") if p.name != "settings.py"
    )
    for name, (attribute, _) in _READERS.items():
        assert attribute in fields, f"{name} sets {attribute}, which Settings does not have"
        assert f".{attribute}" in code, f"{name} sets {attribute}, which nothing reads"
    read = set(re.findall(r'"(CONSENT_[A-Z_]+)"', code))
    assert read <= set(ENV_VARS), f"read but not listed in ENV_VARS: {sorted(read - set(ENV_VARS))}"


def test_every_variable_of_a_deployment_is_in_docs_deploy() -> None:
    deploy_doc = (ROOT / "docs" / "deploy.md").read_text()
    compose_vars = set(_INTERPOLATION.findall(COMPOSE.read_text())) | set(
        re.findall(r"^\s+(CONSENT_[A-Z_]+):", COMPOSE.read_text(), re.M)
    )
    for name in sorted(compose_vars):
        assert name in deploy_doc, f"{name} (docker-compose.yml) is not in docs/deploy.md"


def test_the_proxy_balances_over_both_replicas(compose: dict[str, Any]) -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    port = compose["services"]["app1"]["command"][
        compose["services"]["app1"]["command"].index("--port") + 1
    ]
    for name in ("app1", "app2"):
        assert f"server {name}:{port}" in conf
    proxy_ip = compose["services"]["proxy"]["networks"]["kakor"]["ipv4_address"]
    assert compose["services"]["app1"]["environment"]["CONSENT_TRUSTED_PROXIES"] == proxy_ip
