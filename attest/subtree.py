"""Subtrees and subtree consistency proofs (draft-ietf-plants-merkle-tree-certs §4; SPEC §12.7).

A *subtree* ``[start, end)`` of a Merkle tree is ``MTH(D[start:end])`` where ``start`` is a
multiple of ``BIT_CEIL(end - start)``; it stays the same as the tree grows. A subtree
consistency proof shows that a subtree hash and a tree root were built over the same leaves.
It generalizes both RFC 9162 proofs: ``start = 0`` gives a consistency proof and
``end = start + 1`` an inclusion proof. The tlog-witness ``sign-subtree`` call uses it to have a
witness cosign a subtree of a checkpoint it cosigned before.

Verification follows the draft's §4.4.3 step by step and raises
:class:`~attest.errors.ProofError`; generation reads stored perfect nodes like
:mod:`attest.merkle`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from attest.errors import ProofError
from attest.merkle import EMPTY_ROOT, Hash, NodeGetter, subtree_hash

__all__ = [
    "is_valid_subtree",
    "subtree_consistency_proof",
    "verify_subtree_consistency",
]

_MAX = 1 << 64


def is_valid_subtree(start: int, end: int) -> bool:
    """Whether ``[start, end)`` is a subtree: ``0 <= start <= end < 2^64`` and ``start`` a
    multiple of the smallest power of two ``>= end - start``."""
    for v in (start, end):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < _MAX:
            return False
    if start > end:
        return False
    width = end - start
    return start % (1 << (width - 1).bit_length() if width else 1) == 0


def _mth(start: int, end: int, get_node: NodeGetter) -> bytes:
    return EMPTY_ROOT if start == end else subtree_hash(start, end, get_node)


def subtree_consistency_proof(start: int, end: int, n: int, get_node: NodeGetter) -> list[Hash]:
    """``SUBTREE_PROOF(start, end, D_n)``: the proof that subtree ``[start, end)`` is in the tree
    of ``n`` leaves.

    Raises:
        ValueError: ``[start, end)`` is not a subtree or ``end > n``.
    """
    if not is_valid_subtree(start, end) or not end <= n < _MAX:
        raise ValueError(f"[{start}, {end}) is not a subtree of a tree of size {n}")
    if start == end:
        return []
    out: list[bytes] = []
    # Iterative form of SUBTREE_SUBPROOF over the window [lo, lo + size) of the whole tree;
    # the hashes it appends are collected innermost last, so they are reversed at the end.
    lo, size, keep_first = 0, n, True
    s, e = start, end
    while not (s == 0 and e == size):
        k = 1 << ((size - 1).bit_length() - 1)
        if e <= k:
            out.append(_mth(lo + k, lo + size, get_node))
            size = k
        elif k <= s:
            out.append(_mth(lo, lo + k, get_node))
            lo, size, s, e = lo + k, size - k, s - k, e - k
        else:  # s == 0 < k < e
            out.append(_mth(lo, lo + k, get_node))
            lo, size, e = lo + k, size - k, e - k
            keep_first = False
    if not keep_first:
        out.append(_mth(lo, lo + size, get_node))
    return [Hash(bytes(h)) for h in reversed(out)]


def verify_subtree_consistency(
    start: int, end: int, n: int, proof: Sequence[bytes], node_hash: bytes, root_hash: bytes
) -> None:
    """Check that ``proof`` shows subtree ``[start, end)`` with ``node_hash`` is in the tree of
    ``n`` leaves with ``root_hash`` (the draft's §4.4.3).

    Raises:
        ProofError: the range is not a subtree of that tree, a hash is not 32 bytes, or the proof
            does not connect ``node_hash`` to ``root_hash``.
    """
    if not is_valid_subtree(start, end) or not isinstance(n, int) or not end <= n < _MAX:
        raise ProofError(f"[{start}, {end}) is not a subtree of a tree of size {n}")
    for h in (node_hash, root_hash, *proof):
        if not isinstance(h, bytes) or len(h) != 32:
            raise ProofError("subtree proof hashes are 32 bytes")
    if start == end:
        if proof or node_hash != EMPTY_ROOT:
            raise ProofError("an empty subtree has an empty proof and the empty hash")
        return
    path = list(proof)
    fn, sn, tn = start, end - 1, n - 1
    if sn == tn:
        while fn != sn:
            fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    else:
        while fn != sn and sn & 1:
            fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    if fn == sn:
        fr = sr = node_hash
    else:
        if not path:
            raise ProofError(f"subtree proof for [{start}, {end}) in {n} is empty")
        fr = sr = path.pop(0)
    for c in path:
        if tn == 0:
            raise ProofError(f"subtree proof for [{start}, {end}) in {n} has too many hashes")
        if sn & 1 or sn == tn:
            if fn < sn:
                fr = hashlib.sha256(b"\x01" + c + fr).digest()
            sr = hashlib.sha256(b"\x01" + c + sr).digest()
            while sn and not sn & 1:
                fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
        else:
            sr = hashlib.sha256(b"\x01" + sr + c).digest()
        fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    if tn != 0:
        raise ProofError(f"subtree proof for [{start}, {end}) in {n} has too few hashes")
    if fr != node_hash:
        raise ProofError(f"subtree proof for [{start}, {end}) in {n} rebuilds another subtree hash")
    if sr != root_hash:
        raise ProofError(f"subtree proof for [{start}, {end}) in {n} rebuilds another root")
