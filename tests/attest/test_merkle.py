"""Tests for attest.merkle: RFC 9162 hashing and proofs, against transparency-dev's vectors."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from attest.errors import ProofError
from attest.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    MerkleFrontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_consistency,
    root_from_inclusion,
    root_from_leaf_hashes,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.conftest import SHARED_VECTORS, shared_vectors


def _files(kind: str) -> list[Path]:
    return sorted((shared_vectors() / "merkle" / kind).rglob("*.json"))


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "", validate=True)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.name}" for p in paths]


# Collected at import so each vector is its own test; a missing folder gives an empty list, which
# the count tests below turn into failures (shared_vectors() fails when the folder is absent).
_INCLUSION = sorted((SHARED_VECTORS / "merkle" / "inclusion").rglob("*.json"))
_CONSISTENCY = sorted((SHARED_VECTORS / "merkle" / "consistency").rglob("*.json"))


def test_inclusion_vectors_are_all_there() -> None:
    files = _files("inclusion")
    assert len(files) >= 98, f"expected at least 98 inclusion vectors, found {len(files)}"
    assert files == _INCLUSION
    assert sum(1 for p in files if not _load(p)["wantErr"]) >= 5


def test_consistency_vectors_are_all_there() -> None:
    files = _files("consistency")
    assert len(files) >= 98, f"expected at least 98 consistency vectors, found {len(files)}"
    assert files == _CONSISTENCY
    assert sum(1 for p in files if not _load(p)["wantErr"]) >= 5


@pytest.mark.parametrize("path", _INCLUSION, ids=_ids(_INCLUSION))
def test_inclusion_vector(path: Path) -> None:
    v = _load(path)
    proof = [_b64(h) for h in v["proof"] or []]
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], proof, _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _CONSISTENCY, ids=_ids(_CONSISTENCY))
def test_consistency_vector(path: Path) -> None:
    v = _load(path)
    proof = [_b64(h) for h in v["proof"] or []]
    args = (v["size1"], v["size2"], proof, _b64(v["root1"]), _b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


# ../shared/vectors/merkle/subtree*/ (subtree proofs over arbitrary [start, end) ranges, as used
# by Merkle Tree Certificates) are optional per the vectors' README and not part of claimledger's
# byte spec (docs/SPEC.md §6): only whole-tree RFC 9162 proofs are. No test pretends otherwise.


# --- known answers -------------------------------------------------------------------------------


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(8, "big")) for i in range(n)]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT


def test_hashes_use_rfc9162_prefixes() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )


def test_three_leaf_tree_matches_definition() -> None:
    a, b, c = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    root = node_hash(node_hash(a, b), c)
    assert root_from_leaf_hashes([a, b, c]) == root
    tree = MemoryTree([a, b, c])
    assert tree.inclusion_proof(2) == [node_hash(a, b)]
    assert tree.inclusion_proof(0) == [b, c]
    assert tree.consistency_proof(2, 3) == [c]
    verify_inclusion(c, 2, 3, [node_hash(a, b)], root)


def test_spec_worked_example() -> None:
    # docs/SPEC.md §6, "Worked example": these hex strings are printed there.
    tree = MemoryTree([leaf_hash(x) for x in (b"a", b"b", b"c")])
    g = tree.get_node
    assert g(0, 0).hex() == "022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c"
    assert g(0, 1).hex() == "57eb35615d47f34ec714cacdf5fd74608a5e8e102724e80b24b287c0c27b6a31"
    assert g(0, 2).hex() == "597fcb31282d34654c200d3418fca5705c648ebf326ec73d8ddef11841f876d8"
    assert g(1, 0).hex() == "b137985ff484fb600db93107c77b0365c80d78f5b429ded0fd97361d077999eb"
    assert tree.root(2) == g(1, 0)
    assert tree.root().hex() == "36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1"
    assert base64.b64encode(tree.root()).decode() == "NmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE="
    assert tree.inclusion_proof(2) == [g(1, 0)]
    assert tree.inclusion_proof(0) == [g(0, 1), g(0, 2)]
    assert tree.consistency_proof(2) == [g(0, 2)]
    assert tree.consistency_proof(1) == [g(0, 1), g(0, 2)]
    with pytest.raises(LookupError):
        g(1, 1)  # the frontier of size 3 is [node(1,0), node(0,2)]: no other node is stored


def test_rfc9162_example_tree_of_seven() -> None:
    # RFC 9162 §2.1.5: the tree of 7 leaves d0..d6 and its worked proofs.
    tree = MemoryTree(_leaves(7))
    g = tree.get_node
    a, b, c, d = g(1, 0), g(1, 1), g(1, 2), g(0, 6)
    i, j = g(2, 0), node_hash(c, d)
    assert tree.root() == node_hash(i, j)
    assert tree.inclusion_proof(0) == [g(0, 1), b, j]  # PATH(0, D[7]) = [b, h, l]
    assert tree.inclusion_proof(3) == [g(0, 2), a, j]  # PATH(3, D[7]) = [c, g, l]
    assert tree.inclusion_proof(4) == [g(0, 5), d, i]  # PATH(4, D[7]) = [f, j, k]
    assert tree.inclusion_proof(6) == [c, i]  # PATH(6, D[7]) = [i, k]
    assert tree.consistency_proof(3, 7) == [g(0, 2), g(0, 3), a, j]  # [c, d, g, l]
    assert tree.consistency_proof(4, 7) == [j]  # [l]
    assert tree.consistency_proof(6, 7) == [c, d, i]  # [i, j, k]


def test_proofs_for_an_old_size_come_from_the_same_stored_nodes() -> None:
    tree = MemoryTree(_leaves(100))
    for size in (1, 5, 37, 64, 99):
        root = root_from_leaf_hashes(_leaves(size))
        assert tree.root(size) == root
        for index in (0, size // 2, size - 1):
            verify_inclusion(
                tree.get_node(0, index), index, size, tree.inclusion_proof(index, size), root
            )


def test_proofs_sharing_a_memo_equal_proofs_computed_alone() -> None:
    tree = MemoryTree(_leaves(300))
    for size in (1, 2, 3, 63, 64, 65, 255, 257, 300):
        memo: dict[tuple[int, int], bytes] = {}
        for index in range(size):
            shared = inclusion_proof(index, size, tree.get_node, memo=memo)  # type: ignore[arg-type]
            assert shared == inclusion_proof(index, size, tree.get_node)
        # Only right-edge subtrees are kept, one per step down the right edge at most.
        assert len(memo) <= max(0, (size - 1).bit_length())
        assert all(end == size for _, end in memo)


def test_subtree_hash_refuses_misaligned_ranges() -> None:
    tree = MemoryTree(_leaves(8))
    with pytest.raises(ValueError, match="not a subtree"):
        subtree_hash(1, 3, tree.get_node)
    with pytest.raises(ValueError, match="not a subtree"):
        subtree_hash(2, 2, tree.get_node)


def test_generation_refuses_bad_arguments() -> None:
    tree = MemoryTree(_leaves(4))
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_proof(4, 4, tree.get_node)
    with pytest.raises(ValueError, match="exceeds"):
        tree.inclusion_proof(0, 5)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(0, 4, tree.get_node)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(3, 2, tree.get_node)
    with pytest.raises(LookupError):
        tree.get_node(3, 0)


def test_verification_errors_say_what_failed() -> None:
    tree = MemoryTree(_leaves(5))
    proof = tree.inclusion_proof(2)
    leaf, root = tree.get_node(0, 2), tree.root()
    with pytest.raises(ProofError, match="not below the tree size"):
        verify_inclusion(leaf, 5, 5, proof, root)
    with pytest.raises(ProofError, match=r"proof\[1\] is 31 bytes"):
        verify_inclusion(leaf, 2, 5, [proof[0], proof[1][:31], proof[2]], root)
    with pytest.raises(ProofError, match="more than"):
        verify_inclusion(leaf, 2, 5, [*proof, proof[0]], root)
    with pytest.raises(ProofError, match="fewer than"):
        verify_inclusion(leaf, 2, 5, proof[:-1], root)
    with pytest.raises(ProofError, match="leads to root"):
        verify_inclusion(leaf, 2, 5, proof, EMPTY_ROOT)
    with pytest.raises(ProofError, match="root is 0 bytes"):
        verify_inclusion(leaf, 2, 5, proof, b"")
    with pytest.raises(ProofError, match="integer"):
        verify_inclusion(leaf, -1, 5, proof, root)
    cproof = tree.consistency_proof(3)
    with pytest.raises(ProofError, match="rebuilds old root"):
        verify_consistency(3, 5, cproof, EMPTY_ROOT, root)
    with pytest.raises(ProofError, match="new root"):
        verify_consistency(3, 5, cproof, tree.root(3), EMPTY_ROOT)
    with pytest.raises(ProofError, match="proves nothing"):
        verify_consistency(0, 5, [], EMPTY_ROOT, root)
    with pytest.raises(ProofError, match="larger"):
        verify_consistency(5, 3, [], root, tree.root(3))
    verify_consistency(0, 0, None, EMPTY_ROOT, EMPTY_ROOT)
    assert root_from_consistency(3, 5, cproof, tree.root(3)) == root


def test_frontier_reports_completed_nodes_and_rebuilds_from_them() -> None:
    frontier = MerkleFrontier()
    made = [frontier.append(h) for h in _leaves(4)]
    assert [[(lvl, idx) for lvl, idx, _ in m] for m in made] == [
        [(0, 0)],
        [(0, 1), (1, 0)],
        [(0, 2)],
        [(0, 3), (1, 1), (2, 0)],
    ]
    tree = MemoryTree(_leaves(11))
    rebuilt = MerkleFrontier.from_nodes(11, tree.get_node)
    assert rebuilt.size == 11
    assert rebuilt.root() == tree.root()
    copy = rebuilt.copy()
    copy.append(leaf_hash(b"x"))
    assert rebuilt.size == 11
    assert copy.root() == root_from_leaf_hashes([*_leaves(11), leaf_hash(b"x")])
    with pytest.raises(ValueError, match="32 bytes"):
        frontier.append(b"short")


# --- properties ----------------------------------------------------------------------------------

_MAX_N = 300
# One leaf more than the strategies draw, so that size + 1 always has a tree and a root.
_TREE = MemoryTree(_leaves(_MAX_N + 1))
_ROOTS = [_TREE.root(n) for n in range(_MAX_N + 2)]


@st.composite
def _index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, _MAX_N))
    return draw(st.integers(0, size - 1)), size


@st.composite
def _two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(1, _MAX_N))
    return draw(st.integers(1, size2)), size2


def _flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_roots_match_root_from_leaf_hashes_for_every_prefix() -> None:
    frontier = MerkleFrontier()
    leaves = _leaves(_MAX_N)
    for n in range(_MAX_N + 1):
        assert frontier.size == n
        assert frontier.root() == _ROOTS[n] == root_from_leaf_hashes(leaves[:n])
        if n < _MAX_N:
            frontier.append(leaves[n])


@given(_index_and_size())
def test_generated_inclusion_proofs_verify(case: tuple[int, int]) -> None:
    index, size = case
    proof = inclusion_proof(index, size, _TREE.get_node)
    verify_inclusion(_TREE.get_node(0, index), index, size, proof, _ROOTS[size])
    assert root_from_inclusion(_TREE.get_node(0, index), index, size, proof) == _ROOTS[size]


@given(_index_and_size(), st.integers(0, 2**20), st.sampled_from(["proof", "root", "leaf"]))
def test_inclusion_rejects_any_flipped_bit(case: tuple[int, int], bit: int, where: str) -> None:
    index, size = case
    leaf: bytes = _TREE.get_node(0, index)
    proof: list[bytes] = list(_TREE.inclusion_proof(index, size))
    root: bytes = _ROOTS[size]
    if where == "proof":
        assume(proof)
        i = bit % len(proof)
        proof[i] = _flip(proof[i], bit // len(proof))
    elif where == "root":
        root = _flip(root, bit)
    else:
        leaf = _flip(leaf, bit)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, root)


@given(_index_and_size(), st.sampled_from([(1, 0), (-1, 0), (0, 1), (0, -1)]))
def test_inclusion_rejects_off_by_one(case: tuple[int, int], delta: tuple[int, int]) -> None:
    # A changed size is checked against the root of the tree of that size: RFC 9162 roots do not
    # commit to the size, so the size is bound to the root by the checkpoint signature only (see
    # test_tree_size_is_bound_to_its_root_only_by_the_checkpoint).
    index, size = case
    proof = _TREE.inclusion_proof(index, size)
    root = _ROOTS[size + delta[1]]
    with pytest.raises(ProofError):
        verify_inclusion(_TREE.get_node(0, index), index + delta[0], size + delta[1], proof, root)


def test_tree_size_is_bound_to_its_root_only_by_the_checkpoint() -> None:
    # Inherent to RFC 9162: the proof of leaf 0 in the tree of 3 leaves, [l1, l2], also "proves"
    # leaf 0 in a tree of 4 leaves whose root is root(3), because a verifier cannot tell the leaf
    # hash l2 from the node hash of leaves 2..3. A verifier must take size and root together from
    # one verified checkpoint (docs/SPEC.md §6 and §7), never from separate sources.
    proof = _TREE.inclusion_proof(0, 3)
    verify_inclusion(_TREE.get_node(0, 0), 0, 4, proof, _ROOTS[3])
    with pytest.raises(ProofError):
        verify_inclusion(_TREE.get_node(0, 0), 0, 4, proof, _ROOTS[4])


@given(_two_sizes())
def test_generated_consistency_proofs_verify(sizes: tuple[int, int]) -> None:
    size1, size2 = sizes
    proof = consistency_proof(size1, size2, _TREE.get_node)
    verify_consistency(size1, size2, proof, _ROOTS[size1], _ROOTS[size2])


@given(_two_sizes(), st.integers(0, 2**20), st.sampled_from(["proof", "root1", "root2"]))
def test_consistency_rejects_any_flipped_bit(sizes: tuple[int, int], bit: int, where: str) -> None:
    size1, size2 = sizes
    proof: list[bytes] = list(_TREE.consistency_proof(size1, size2))
    root1: bytes = _ROOTS[size1]
    root2: bytes = _ROOTS[size2]
    if where == "proof":
        assume(proof)
        i = bit % len(proof)
        proof[i] = _flip(proof[i], bit // len(proof))
    elif where == "root1":
        root1 = _flip(root1, bit)
    else:
        root2 = _flip(root2, bit)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof, root1, root2)


@settings(max_examples=300)
@given(_two_sizes(), st.sampled_from([(1, 0), (-1, 0), (0, 1), (0, -1)]))
def test_consistency_rejects_off_by_one(sizes: tuple[int, int], delta: tuple[int, int]) -> None:
    size1, size2 = sizes
    proof = _TREE.consistency_proof(size1, size2)
    new_size2 = size2 + delta[1]
    root2 = _ROOTS[new_size2]
    with pytest.raises(ProofError):
        verify_consistency(size1 + delta[0], new_size2, proof, _ROOTS[size1], root2)
