"""The export benchmark's seeding writes a real, verifiable chain (so its numbers mean something)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.export_bench import seed
from consent_service.cli.main import main


def test_bench_seed_is_a_verifiable_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "bench.db"
    seed(db, 250, batch=100)
    capsys.readouterr()
    assert main(["verify", "--database", f"sqlite:///{db}"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rows_checked"] == 250
    assert result["ok"] is True
