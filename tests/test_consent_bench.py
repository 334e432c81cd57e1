"""The consent throughput benchmark runs end to end and checks durability (issue 2).

A one-second run at a few connections: the numbers mean nothing here, but the report
must hold every level, server CPU per request for both apps, and the store check —
every 201 stored, chain intact — must pass against the real service.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import ON_CI

ROOT = Path(__file__).resolve().parent.parent


def _require(tool: str) -> None:
    """Skip without ``tool`` (a Debian package of the same name); under CI, fail."""
    if shutil.which(tool) is None:
        message = f"{tool} is not installed (make test installs it: apt-get install {tool})"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)


def test_the_benchmark_reports_each_level_and_finds_every_201_stored() -> None:
    _require("wrk")
    out = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.consent_throughput"),
            *("--seconds", "1", "--rounds", "1", "--connections", "4,16"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(out.stdout)
    assert [level["connections"] for level in report["levels"]] == [4, 16]
    for level in report["levels"]:
        for tag in ("", "_h11"):  # the headline pair, and the pair on h11 beside it
            assert level[f"bare{tag}_rps_median"] > 0 and level[f"kakor{tag}_rps_median"] > 0
            assert level[f"kakor{tag}_non2xx"] == 0
            assert level[f"ratio{tag}"] > 0
            assert level[f"ratio{tag}_paired_median"] == level[f"ratio{tag}"]  # one pair
            for app in ("kakor", "bare"):
                assert level[f"{app}{tag}_cpu_us_per_request"]["user"] > 0
    assert report["rows_stored"] >= report["rows_acknowledged_at_most"] > 0
    assert report["every_201_stored"] is True
    assert report["chain_verifies"] is True
    assert "ratio" in out.stderr


def _inprocess(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.consent_inprocess", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def test_the_in_process_benchmark_stores_every_consent_it_counts() -> None:
    report = _inprocess("--requests", "400", "--concurrency", "16")
    assert report["consents"] == 400
    assert report["all_201"] is True
    assert report["stored"] == 400
    assert report["chain_verifies"] is True
    assert report["cpu_us_per_consent"] > 0


def test_the_in_process_benchmark_counts_instructions_per_consent_under_callgrind() -> None:
    _require("valgrind")
    report = _inprocess("--measure", "instructions", "--requests", "48", "--concurrency", "8")
    small, large = report["runs"]
    assert (small["consents"], large["consents"]) == (48, 144)
    assert small["all_201"] and large["all_201"]
    # A consent signs, hashes, stores and answers: far more than nothing, far less than
    # what Python's start-up costs (which the difference of the two runs cancels).
    assert 50_000 < report["instructions_per_consent"] < 5_000_000
