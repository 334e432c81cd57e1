"""``benchmarks/proof_bench.py`` measures real proofs: each one it times also verifies."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchmarks.export_bench import seed
from benchmarks.proof_bench import measure


def test_the_proof_benchmark_verifies_what_it_times(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    seed(db, 3000, batch=700)  # batches that end inside tiles, as appends do
    report = asyncio.run(measure(db, 25))
    assert report["tree_size"] == 3000
    assert report["proofs"] == 25
    assert 0 < report["inclusion_ms_median"] <= report["inclusion_ms_p95"]  # type: ignore[operator]
