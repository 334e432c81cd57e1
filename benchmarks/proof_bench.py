"""Proofs from a stored log: one row's inclusion proof, and a consistency proof, at 1M rows.

Seeds a SQLite file as the export benchmark does (``export_bench.seed``: real chained
rows, their tree's tiles and a signed head), then asks the store for proofs as the
routes do (``audit.proofs``: read the tiles the proof needs, fold them) for random
leaves and sizes, and verifies each with RFC 9162's verifier. Reports the median and
the 95th percentile in milliseconds. Issue 16's target: under 10 ms median at 1M rows.

    python -m benchmarks.proof_bench [--rows 1000000] [--proofs 300] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks.export_bench import seed
from consent_service.audit import merkle, proofs
from consent_service.audit.chain import row_leaf
from consent_service.store import open_store


async def measure(path: Path, count: int) -> dict[str, object]:
    """Median and p95 of ``count`` inclusion and consistency proofs, each verified."""
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        head = await proofs.stored_tree(store, "demo")
        size, root = head.size, head.root
        picks = random.Random(16).sample(range(size), count)
        inclusion_ms, consistency_ms = [], []
        for index in picks:
            started = time.perf_counter()
            await proofs.inclusion(store, "demo", [index], size)
            inclusion_ms.append((time.perf_counter() - started) * 1000)
            first = max(1, index)
            started = time.perf_counter()
            proof = await proofs.consistency(store, "demo", first, size)
            consistency_ms.append((time.perf_counter() - started) * 1000)
            old_root = await proofs.root_at(store, "demo", first)
            if not merkle.verify_consistency(first, size, old_root, root, proof):
                raise SystemExit(f"consistency proof from {first} does not verify")
        # The newest rows' leaves, hashed from their content, under the head's root.
        checked = 0
        async for row in store.iter_rows(site_id="demo", after_seq=await store.last_seq() - 3):
            [path_] = await proofs.inclusion(store, "demo", [row.leaf_index], size)
            checked += merkle.verify_inclusion(row_leaf(row), row.leaf_index, size, path_, root)
        if checked != 3:
            raise SystemExit("the newest rows' inclusion proofs do not verify")
    finally:
        await store.close()
    return {
        "tree_size": size,
        "proofs": count,
        "inclusion_ms_median": round(statistics.median(inclusion_ms), 3),
        "inclusion_ms_p95": round(statistics.quantiles(inclusion_ms, n=20)[18], 3),
        "consistency_ms_median": round(statistics.median(consistency_ms), 3),
        "consistency_ms_p95": round(statistics.quantiles(consistency_ms, n=20)[18], 3),
        "target_ms_median": 10,
    }


def main() -> None:
    """Seed (unless ``--workdir`` holds a seeded file) and measure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kakor-proofs-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.db"
    seconds = 0.0 if db.exists() else seed(db, args.rows)
    report = asyncio.run(measure(db, args.proofs))
    report["seed_seconds"] = round(seconds, 1)
    report["command"] = "python -m benchmarks.proof_bench " + " ".join(sys.argv[1:])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
