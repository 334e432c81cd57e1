"""The Merkle tree against RFC 6962/9162's reference vectors, and its proofs (C22)."""

from __future__ import annotations

import hashlib

import pytest

from consent_service.audit import merkle
from consent_service.audit.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    split,
    verify_consistency,
    verify_inclusion,
)

# The Certificate Transparency reference leaves and tree heads (sizes 1..8), as
# published with RFC 6962's implementations (transparency-dev/merkle, testonly).
ENTRIES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CONSISTENCY = {
    (2, 8): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


def reference_tree() -> MemoryTree:
    return MemoryTree([leaf_hash(e) for e in ENTRIES])


def test_c22_hashes_are_domain_separated_as_rfc_9162_says() -> None:
    assert EMPTY_ROOT.hex() == hashlib.sha256(b"").hexdigest()
    assert leaf_hash(b"").hex() == ROOTS[0]
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != node_hash(right, left)
    assert leaf_hash(left + right) != node_hash(left, right)  # a leaf never poses as a node


def test_c22_tree_heads_match_the_reference_roots_at_every_size() -> None:
    tree = reference_tree()
    assert root(tree, 0) == EMPTY_ROOT
    for size, expected in enumerate(ROOTS, start=1):
        assert root(tree, size).hex() == expected, size
    grown = MemoryTree()
    for size, entry in enumerate(ENTRIES, start=1):
        grown.append(leaf_hash(entry))
        assert root(grown).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size"), sorted(INCLUSION))
def test_c22_inclusion_proofs_match_the_reference(index: int, size: int) -> None:
    tree = reference_tree()
    proof = inclusion_proof(tree, index, size)
    assert [p.hex() for p in proof] == INCLUSION[index, size]
    leaf = leaf_hash(ENTRIES[index])
    assert verify_inclusion(leaf, index, size, proof, bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize(("first", "second"), sorted(CONSISTENCY))
def test_c22_consistency_proofs_match_the_reference(first: int, second: int) -> None:
    tree = reference_tree()
    proof = consistency_proof(tree, first, second)
    assert [p.hex() for p in proof] == CONSISTENCY[first, second]
    old, new = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
    assert verify_consistency(first, second, old, new, proof)
    assert not verify_consistency(first, second, new, old, proof)


def _tree(n: int) -> MemoryTree:
    return MemoryTree([leaf_hash(i.to_bytes(4, "big")) for i in range(n)])


def _naive_root(leaves: list[bytes]) -> bytes:
    """RFC 9162's recursive definition, word for word: the reference for every size."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node_hash(_naive_root(leaves[:k]), _naive_root(leaves[k:]))


def test_c22_every_size_agrees_with_the_recursive_definition() -> None:
    tree = _tree(70)
    for size in range(71):
        assert root(tree, size) == _naive_root(tree.levels[0][:size])


def test_c22_every_inclusion_proof_verifies_and_a_wrong_one_does_not() -> None:
    tree = _tree(40)
    for size in range(1, 41):
        head = root(tree, size)
        for index in range(size):
            leaf = tree.levels[0][index]
            proof = inclusion_proof(tree, index, size)
            assert verify_inclusion(leaf, index, size, proof, head)
            assert not verify_inclusion(leaf_hash(b"forged"), index, size, proof, head)
            if size > 1:
                other = (index + 1) % size
                assert not verify_inclusion(leaf, other, size, proof, head)
                flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                assert not verify_inclusion(leaf, index, size, flipped, head)
                assert not verify_inclusion(leaf, index, size, proof[:-1], head)
                assert not verify_inclusion(leaf, index, size, [*proof, head], head)


def test_c22_every_consistency_proof_verifies_and_a_wrong_one_does_not() -> None:
    tree = _tree(33)
    roots = [root(tree, n) for n in range(34)]
    for second in range(34):
        for first in range(second + 1):
            proof = consistency_proof(tree, first, second)
            assert verify_consistency(first, second, roots[first], roots[second], proof)
            if 0 < first < second:
                assert not verify_consistency(first, second, roots[first], roots[first], proof)
                assert not verify_consistency(
                    first, second, leaf_hash(b"rewritten"), roots[second], proof
                )
                assert not verify_consistency(first, second, roots[first], roots[second], [])
                flipped = [bytes([proof[-1][0] ^ 1]) + proof[-1][1:]]
                bad = [*proof[:-1], *flipped]
                assert not verify_consistency(first, second, roots[first], roots[second], bad)
                assert not verify_consistency(
                    first, second, roots[first], roots[second], proof[:-1]
                )


def test_c22_a_rewritten_leaf_breaks_consistency_with_the_old_head() -> None:
    """The witness's check: a log that edits an old row cannot prove it only grew."""
    honest = _tree(20)
    old_head = root(honest, 12)
    leaves = list(honest.levels[0])
    leaves[3] = leaf_hash(b"accept all, says the operator")
    rewritten = MemoryTree(leaves)
    proof = consistency_proof(rewritten, 12, 20)
    assert not verify_consistency(12, 20, old_head, root(rewritten), proof)


def test_malformed_input_is_refused_not_crashed() -> None:
    tree = reference_tree()
    head = root(tree)
    leaf = leaf_hash(ENTRIES[5])
    proof = inclusion_proof(tree, 5)
    assert not verify_inclusion(leaf[:31], 5, 8, proof, head)
    assert not verify_inclusion(leaf, 5, 8, [proof[0][:31], *proof[1:]], head)
    assert not verify_inclusion(leaf, 8, 8, proof, head)
    assert not verify_inclusion(leaf, -1, 8, proof, head)
    assert not verify_inclusion(leaf, 5, 8, [head] * (merkle.MAX_PROOF + 1), head)
    assert not verify_consistency(8, 6, head, head, [])
    assert not verify_consistency(0, 8, head, head, [])
    assert verify_consistency(0, 8, EMPTY_ROOT, head, [])
    with pytest.raises(ValueError, match="leaf 8 is not in a tree of 8"):
        inclusion_proof(tree, 8)
    with pytest.raises(ValueError, match="holds 8 leaves, not 9"):
        consistency_proof(tree, 5, 9)
    with pytest.raises(ValueError, match="holds 8 leaves, not 9"):
        root(tree, 9)
    with pytest.raises(ValueError, match="32 bytes"):
        tree.append(b"short")
