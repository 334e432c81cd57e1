"""What a Merkle proof costs in a large log: ``python -m benchmarks.merkle_bench``.

Builds the tree of ``--leaves`` rows (default one million) in memory, as
:class:`~consent_service.audit.merkle.MemoryTree` keeps it, then times inclusion
proofs for random rows and consistency proofs between random sizes, each with its
verification, and prints the medians as JSON. This is the computation a proof needs
(``O(log n)`` subtree hashes and the hashing that folds them); where the service
keeps the subtree hashes adds the cost of reading about ``log2(n)`` of them.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from consent_service.audit.merkle import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)


def main() -> None:
    """Build the tree, time the proofs, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=1_000)
    args = parser.parse_args()
    started = time.perf_counter()
    tree = MemoryTree()
    for i in range(args.leaves):
        tree.append(leaf_hash(i.to_bytes(8, "big")))
    built = time.perf_counter() - started
    head = root(tree)
    rng = random.Random(9162)
    inclusion: list[float] = []
    consistency: list[float] = []
    for _ in range(args.proofs):
        index = rng.randrange(args.leaves)
        t0 = time.perf_counter()
        proof = inclusion_proof(tree, index)
        if not verify_inclusion(tree.levels[0][index], index, tree.size, proof, head):
            raise SystemExit(f"the proof for leaf {index} does not verify")
        inclusion.append(time.perf_counter() - t0)
        first = rng.randrange(1, args.leaves)
        t0 = time.perf_counter()
        old = root(tree, first)
        proof = consistency_proof(tree, first)
        if not verify_consistency(first, tree.size, old, head, proof):
            raise SystemExit(f"the consistency proof from {first} does not verify")
        consistency.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "leaves": args.leaves,
                "build_seconds": round(built, 2),
                "build_us_per_leaf": round(built / args.leaves * 1e6, 2),
                "inclusion_proof_and_verify_ms_median": round(
                    statistics.median(inclusion) * 1e3, 4
                ),
                "consistency_proof_and_verify_ms_median": round(
                    statistics.median(consistency) * 1e3, 4
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
