"""Without PostgreSQL the PostgreSQL half of the suite skips locally and fails under CI=true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .replicas import free_port

ROOT = Path(__file__).resolve().parent.parent.parent


def run_smoke_on_a_dead_server(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["KAKOR_TEST_POSTGRES"] = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
            "tests/test_smoke.py",
            "-k",
            "postgresql",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("ci", [False, True], ids=["local", "ci"])
def test_an_unreachable_postgresql_skips_locally_and_fails_on_ci(ci: bool) -> None:
    result = run_smoke_on_a_dead_server(ci)
    if ci:
        assert result.returncode != 0, result.stdout
        assert "CI=true: the PostgreSQL tests must run" in result.stdout
    else:
        assert result.returncode == 0, result.stdout
        assert "1 skipped" in result.stdout
