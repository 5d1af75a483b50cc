"""Tests for attest.subtree against draft-ietf-plants-merkle-tree-certs (Appendix: test vectors)."""

from __future__ import annotations

import hashlib
from functools import cache

import pytest

from attest.errors import ProofError
from attest.merkle import EMPTY_ROOT, MemoryTree, consistency_proof, inclusion_proof, leaf_hash
from attest.merkle import subtree_hash as mth
from attest.subtree import is_valid_subtree, subtree_consistency_proof, verify_subtree_consistency

# The draft's accumulated vectors: leaves d[i] = the byte i, trees of up to 130 leaves.
SUBTREE_HASHES = "b82806ad4265bb151c1119c0f4db437bb4d1a1f887b3a7fba1cd4ebf552e3e81"
SUBTREE_CONSISTENCY_PROOFS = "10fa99b37bf9bf9ffa26b412fbd98bd75363256d0b75d61bc4538b9c9c5a0a74"


@cache
def _tree() -> MemoryTree:
    return MemoryTree(leaf_hash(bytes([i])) for i in range(130))


def _hash(start: int, end: int) -> bytes:
    return EMPTY_ROOT if start == end else mth(start, end, _tree().get_node)


def _cases() -> list[tuple[int, int, int]]:
    return [
        (start, end, n)
        for n in range(131)
        for end in range(n + 1)
        for start in range(end + 1)
        if is_valid_subtree(start, end)
    ]


def test_accumulated_subtree_hashes() -> None:
    h = hashlib.sha256()
    for end in range(131):
        for start in range(end + 1):
            if is_valid_subtree(start, end):
                h.update(f"[{start}, {end}) {_hash(start, end).hex()}\n".encode())
    assert h.hexdigest() == SUBTREE_HASHES


def test_accumulated_consistency_proofs_and_each_verifies() -> None:
    h = hashlib.sha256()
    tree = _tree()
    for start, end, n in _cases():
        proof = subtree_consistency_proof(start, end, n, tree.get_node)
        h.update((f"[{start}, {end}) {n}" + "".join(f" {p.hex()}" for p in proof) + "\n").encode())
        verify_subtree_consistency(start, end, n, proof, _hash(start, end), tree.root(n))
    assert h.hexdigest() == SUBTREE_CONSISTENCY_PROOFS


def test_special_cases_are_rfc9162_proofs() -> None:
    tree = _tree()
    for n in (1, 7, 64, 130):
        for end in range(1, n + 1):
            assert subtree_consistency_proof(0, end, n, tree.get_node) == (
                consistency_proof(end, n, tree.get_node) if end < n else []
            )
        for i in range(n):
            assert subtree_consistency_proof(i, i + 1, n, tree.get_node) == inclusion_proof(
                i, n, tree.get_node
            )


def test_validity() -> None:
    assert is_valid_subtree(0, 0)
    assert is_valid_subtree(5, 5)
    assert is_valid_subtree(0, (1 << 63) + 1)
    assert is_valid_subtree(8, 13)
    assert is_valid_subtree(4, 8)
    assert not is_valid_subtree(4, 9)
    assert not is_valid_subtree(2, 5)
    assert not is_valid_subtree(3, 2)
    assert not is_valid_subtree(0, 1 << 64)
    assert not is_valid_subtree(-1, 0)


def test_every_corruption_refused() -> None:
    tree = _tree()
    for start, end, n in [(8, 13, 14), (4, 8, 14), (0, 5, 9), (6, 7, 11), (64, 128, 129)]:
        proof = subtree_consistency_proof(start, end, n, tree.get_node)
        node, root = _hash(start, end), tree.root(n)
        for i in range(len(proof)):
            for bit in range(0, 256, 37):
                bad: list[bytes] = list(proof)
                b = bytearray(bad[i])
                b[bit // 8] ^= 1 << (bit % 8)
                bad[i] = bytes(b)
                with pytest.raises(ProofError):
                    verify_subtree_consistency(start, end, n, bad, node, root)
        with pytest.raises(ProofError):
            verify_subtree_consistency(start, end, n, [*proof, proof[0]], node, root)
        with pytest.raises(ProofError):
            verify_subtree_consistency(start, end, n, proof[:-1], node, root)
        with pytest.raises(ProofError):
            verify_subtree_consistency(start, end, n, proof, root, node)
        with pytest.raises(ProofError):
            verify_subtree_consistency(start, end, n + 1, proof, node, tree.root(n + 1))


@pytest.mark.parametrize(("start", "end", "n"), [(4, 9, 14), (3, 2, 14), (8, 15, 14), (0, 0, -1)])
def test_not_a_subtree_of_the_tree(start: int, end: int, n: int) -> None:
    with pytest.raises(ProofError, match="not a subtree"):
        verify_subtree_consistency(start, end, n, [], EMPTY_ROOT, EMPTY_ROOT)
    if n >= 0:
        with pytest.raises(ValueError, match="not a subtree"):
            subtree_consistency_proof(start, end, n, _tree().get_node)


def test_empty_subtree() -> None:
    verify_subtree_consistency(3, 3, 9, [], EMPTY_ROOT, _tree().root(9))
    with pytest.raises(ProofError):
        verify_subtree_consistency(3, 3, 9, [EMPTY_ROOT], EMPTY_ROOT, _tree().root(9))
    with pytest.raises(ProofError):
        verify_subtree_consistency(3, 3, 9, [], _tree().root(9), _tree().root(9))
