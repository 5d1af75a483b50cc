"""RFC 9162 Merkle tree hashing, inclusion and consistency proofs (docs/SPEC.md §6).

Pure functions over 32-byte SHA-256 hashes. The tree is the one of RFC 9162 §2.1:

- ``leaf_hash(d) = SHA-256(0x00 ‖ d)``, ``node_hash(l, r) = SHA-256(0x01 ‖ l ‖ r)``;
- the root of ``n > 1`` leaves splits them at ``k``, the largest power of two below ``n``;
- the root of the empty tree is ``SHA-256("")``.

Stored-node model. Proof *generation* reads only **perfect** subtrees through a callback
``get_node(level, index)``: the hash of the subtree of height ``level`` covering the leaves
``[index·2^level, (index+1)·2^level)`` (level 0 is the leaf hashes). Those nodes never change once
the log has grown past them, so one table of them serves proofs for every past tree size: the
ragged right edge of a tree of a given size is recomputed from the perfect subtrees it is made of.
:class:`MerkleFrontier` maintains the right edge incrementally (and reports every perfect node it
completes, for storage); :class:`MemoryTree` keeps every node in memory, for tests and offline
bundles.

Verification (:func:`verify_inclusion`, :func:`verify_consistency`) follows RFC 9162 §2.1.3.2 and
§2.1.4.2 and raises :class:`~attest.errors.ProofError` naming what failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import NewType

from attest.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Hash",
    "MemoryTree",
    "MerkleFrontier",
    "NodeGetter",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_consistency",
    "root_from_inclusion",
    "root_from_leaf_hashes",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

Hash = NewType("Hash", bytes)
"""A 32-byte SHA-256 Merkle tree hash (leaf, node or root)."""

NodeGetter = Callable[[int, int], bytes]
"""``get_node(level, index)``: the hash of a perfect subtree (see the module docstring)."""

HASH_SIZE = 32
# Tree sizes and indexes are u64 in the leaf data (§6.1), so no proof is longer than 64 hashes.
_MAX_SIZE = 1 << 64
_MAX_PROOF = 64

EMPTY_ROOT = Hash(hashlib.sha256(b"").digest())
"""The root hash of the empty tree, ``SHA-256("")`` (RFC 9162 §2.1.1)."""


def leaf_hash(leaf_data: bytes) -> Hash:
    """The hash of one leaf: ``SHA-256(0x00 ‖ leaf_data)``."""
    return Hash(hashlib.sha256(b"\x00" + leaf_data).digest())


def node_hash(left: bytes, right: bytes) -> Hash:
    """The hash of an interior node: ``SHA-256(0x01 ‖ left ‖ right)``."""
    return Hash(hashlib.sha256(b"\x01" + left + right).digest())


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_SIZE:
        raise ValueError(f"{name} must be an integer in [0, 2^64), got {value!r}")


def subtree_hash(start: int, end: int, get_node: NodeGetter) -> Hash:
    """The hash of the leaves ``[start, end)`` as one subtree, from perfect stored nodes.

    ``[start, end)`` must be a node of some tree: ``start`` a multiple of the smallest power of
    two ``>= end - start``. It is the concatenation of perfect subtrees of decreasing size (one per
    set bit of ``end - start``); their hashes are folded from the right, as the recursive definition
    of RFC 9162 §2.1.1 does.

    Raises:
        ValueError: the range is empty or not aligned as a subtree.
    """
    width = end - start
    if width <= 0 or start < 0 or start % (1 << (width - 1).bit_length()):
        raise ValueError(f"[{start}, {end}) is not a subtree of any Merkle tree")
    parts: list[bytes] = []
    pos = start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            parts.append(get_node(level, pos >> level))
            pos += 1 << level
    acc = parts[-1]
    for part in reversed(parts[:-1]):
        acc = node_hash(part, acc)
    return Hash(bytes(acc))


def _subtree(start: int, end: int, get_node: NodeGetter) -> Hash:
    """:func:`subtree_hash` of a range a proof's recursion made (so aligned): a perfect subtree
    is one stored node, read directly."""
    width = end - start
    if width & (width - 1) == 0:
        level = width.bit_length() - 1
        return Hash(bytes(get_node(level, start >> level)))
    return subtree_hash(start, end, get_node)


def inclusion_proof(
    index: int,
    size: int,
    get_node: NodeGetter,
    *,
    memo: dict[tuple[int, int], Hash] | None = None,
) -> list[Hash]:
    """The inclusion proof ``PATH(index, D[0:size])`` of RFC 9162 §2.1.3.1, leaf side first.

    Reads O(log size) perfect nodes through ``get_node``, which must know the first ``size``
    leaves. Proofs of many leaves against one size share their right-edge subtrees (the ones
    that are not perfect and cost a fold of node hashes): pass the same ``memo`` dict to each
    call to compute each of those once.

    Raises:
        ValueError: ``index`` is not below ``size``.
    """
    _check_size("size", size)
    _check_size("index", index)
    if index >= size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    path: list[Hash] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            if memo is None or end != size:  # below the right edge, subtrees are perfect nodes
                path.append(_subtree(start + k, end, get_node))
            else:
                right = memo.get((start + k, end))
                if right is None:
                    right = memo[(start + k, end)] = _subtree(start + k, end, get_node)
                path.append(right)
            end = start + k
        else:
            path.append(_subtree(start, start + k, get_node))
            start += k
    path.reverse()
    return path


def consistency_proof(size1: int, size2: int, get_node: NodeGetter) -> list[Hash]:
    """The consistency proof ``PROOF(size1, D[0:size2])`` of RFC 9162 §2.1.4.1.

    Empty when ``size1 == size2``. ``size1 == 0`` is refused: nothing can be proved about the
    empty tree (every tree extends it), see :func:`verify_consistency`.

    Raises:
        ValueError: not ``0 < size1 <= size2``.
    """
    _check_size("size1", size1)
    _check_size("size2", size2)
    if not 0 < size1 <= size2:
        raise ValueError(f"no consistency proof from size {size1} to size {size2}")
    proof: list[Hash] = []
    start, end, m, whole = 0, size2, size1, True
    # SUBPROOF(m, D[start:end], whole), unrolled; hashes are collected root side first.
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(_subtree(start + k, end, get_node))
            end = start + k
        else:
            proof.append(_subtree(start, start + k, get_node))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append(_subtree(start, end, get_node))
    proof.reverse()
    return proof


def _hash_arg(name: str, value: bytes) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview) or len(value) != HASH_SIZE:
        length = len(value) if isinstance(value, bytes | bytearray | memoryview) else "not"
        raise ProofError(f"{name} is {length} bytes, not a {HASH_SIZE}-byte hash")
    return bytes(value)


def _proof_args(proof: Sequence[bytes] | None) -> list[bytes]:
    items = list(proof or ())
    if len(items) > _MAX_PROOF:
        raise ProofError(f"proof has {len(items)} hashes; no proof has more than {_MAX_PROOF}")
    return [_hash_arg(f"proof[{i}]", h) for i, h in enumerate(items)]


def _sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_SIZE:
            raise ProofError(f"{name} must be an integer in [0, 2^64), got {value!r}")


def root_from_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes] | None
) -> Hash:
    """The root that an inclusion proof implies (RFC 9162 §2.1.3.2, without the final compare).

    Args:
        leaf_hash: the hash of the leaf (already prefixed and hashed, :func:`leaf_hash`).
        index: the 0-based leaf index.
        size: the tree size the proof is for.
        proof: the proof hashes, leaf side first (``None`` is read as empty).

    Returns:
        The root hash of the tree of ``size`` leaves, if the proof is well formed.

    Raises:
        ProofError: the index is not below the size, a hash is not 32 bytes, or the proof has
            the wrong number of hashes for this index and size.
    """
    _sizes(index=index, size=size)
    if index >= size:
        raise ProofError(f"leaf index {index} is not below the tree size {size}", index=index)
    node = _hash_arg("leaf hash", leaf_hash)
    path = _proof_args(proof)
    fn, sn = index, size - 1
    for p in path:
        if sn == 0:
            raise ProofError(
                f"inclusion proof has {len(path)} hashes, more than index {index} in a tree of "
                f"size {size} needs",
                index=index,
            )
        if fn & 1 or fn == sn:
            node = hashlib.sha256(b"\x01" + p + node).digest()
            # Skip the levels where this node is the last one and has no right sibling.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = hashlib.sha256(b"\x01" + node + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            f"inclusion proof has {len(path)} hashes, fewer than index {index} in a tree of "
            f"size {size} needs",
            index=index,
        )
    return Hash(node)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes] | None, root: bytes
) -> None:
    """Check that ``leaf_hash`` is the leaf at ``index`` of the tree of ``size`` with ``root``.

    Args:
        leaf_hash: the hash of the leaf (:func:`leaf_hash` of its leaf data).
        index: the 0-based leaf index.
        size: the tree size, as signed in a checkpoint.
        proof: the inclusion proof, leaf side first (``None`` is read as empty).
        root: the root hash of the tree of ``size`` leaves.

    Raises:
        ProofError: the proof is malformed or does not lead from the leaf to ``root``.
    """
    expected = _hash_arg("root", root)
    got = root_from_inclusion(leaf_hash, index, size, proof)
    if got != expected:
        raise ProofError(
            f"inclusion proof for index {index} in a tree of size {size} leads to root "
            f"{got.hex()}, not {expected.hex()}",
            index=index,
        )


def root_from_consistency(
    size1: int, size2: int, proof: Sequence[bytes] | None, root1: bytes
) -> Hash:
    """The new root that a consistency proof implies, after checking it against ``root1``.

    This is RFC 9162 §2.1.4.2: the proof must rebuild ``root1`` from its old-tree part, and the
    returned hash is the root of the tree of ``size2`` it rebuilds from all of it. Requires
    ``0 < size1 < size2``.

    Raises:
        ProofError: the sizes are out of order, a hash is not 32 bytes, the proof has the wrong
            length, or it does not rebuild ``root1``.
    """
    _sizes(size1=size1, size2=size2)
    if not 0 < size1 < size2:
        raise ProofError(f"no consistency proof is needed or possible from {size1} to {size2}")
    old = _hash_arg("root1", root1)
    path = _proof_args(proof)
    if size1 & (size1 - 1) == 0:
        # The old tree is a perfect subtree of the new one: its root is the first node.
        path.insert(0, old)
    if not path:
        raise ProofError(f"consistency proof from {size1} to {size2} is empty")
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(
                f"consistency proof from {size1} to {size2} has too many hashes ({len(path)})"
            )
        if fn & 1 or fn == sn:
            fr = hashlib.sha256(b"\x01" + c + fr).digest()
            sr = hashlib.sha256(b"\x01" + c + sr).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = hashlib.sha256(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            f"consistency proof from {size1} to {size2} has too few hashes ({len(path)})"
        )
    if fr != old:
        raise ProofError(
            f"consistency proof from {size1} to {size2} rebuilds old root {fr.hex()}, "
            f"not {old.hex()}"
        )
    return Hash(sr)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes] | None, root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the tree of ``size1`` with ``root1``.

    Equal sizes need an empty proof and equal roots (for size 0, both must be the empty root).
    ``size1 == 0 < size2`` is refused: the empty tree is a prefix of every tree, so such a proof
    would prove nothing about ``root2``; a client that has never seen a checkpoint simply trusts
    its first one (docs/SPEC.md §6).

    Args:
        size1: the old tree size.
        size2: the new tree size.
        proof: the consistency proof (``None`` is read as empty).
        root1: the root hash of the old tree.
        root2: the root hash of the new tree.

    Raises:
        ProofError: the sizes are out of order, the proof is malformed, or it does not connect
            ``root1`` to ``root2``.
    """
    _sizes(size1=size1, size2=size2)
    if size1 > size2:
        raise ProofError(f"old tree size {size1} is larger than new tree size {size2}")
    if size1 == size2:
        if proof:
            raise ProofError(f"trees of equal size {size1} need an empty consistency proof")
        if bytes(root1) != bytes(root2):
            raise ProofError(f"trees of equal size {size1} have different roots")
        if size1 == 0 and bytes(root1) != EMPTY_ROOT:
            raise ProofError("the root of the empty tree must be SHA-256 of the empty string")
        return
    if size1 == 0:
        raise ProofError(f"a consistency proof from the empty tree to size {size2} proves nothing")
    new = _hash_arg("root2", root2)
    got = root_from_consistency(size1, size2, proof, root1)
    if got != new:
        raise ProofError(
            f"consistency proof from {size1} to {size2} leads to new root {got.hex()}, "
            f"not {new.hex()}"
        )


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> Hash:
    """The root hash of the tree with these leaf hashes, in O(log n) memory.

    Raises:
        ValueError: a leaf hash is not 32 bytes.
    """
    frontier = MerkleFrontier()
    for h in leaf_hashes:
        frontier.append(h)
    return frontier.root()


class MerkleFrontier:
    """The right edge of an append-only Merkle tree: one perfect subtree root per set bit of size.

    ``append`` adds a leaf hash in amortised O(1) hash operations and returns every perfect node
    it completes (for a node table); ``root`` folds the at most 64 stored hashes. A streaming
    verifier recomputes a checkpoint's root this way in constant memory.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        # Perfect subtree roots left to right; their heights are the set bits of _size, descending.
        self._stack: list[Hash] = []

    @classmethod
    def from_nodes(cls, size: int, get_node: NodeGetter) -> MerkleFrontier:
        """The frontier of the first ``size`` leaves, read from stored perfect nodes.

        Raises:
            ValueError: ``size`` is negative or too large, or a node is not 32 bytes.
        """
        _check_size("size", size)
        frontier = cls()
        pos = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                frontier._stack.append(_node_arg(get_node(level, pos >> level)))
                pos += 1 << level
        frontier._size = size
        return frontier

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, Hash]]:
        """Append one leaf hash.

        Returns:
            Every perfect node this append completes, as ``(level, index, hash)``, leaf first: the
            leaf itself at level 0, then one node per level it closes.

        Raises:
            ValueError: ``leaf_hash`` is not 32 bytes, or the tree is full (2^64 leaves).
        """
        node = _node_arg(leaf_hash)
        if self._size + 1 >= _MAX_SIZE:
            raise ValueError("the tree is full")
        index = self._size
        made = [(0, index, node)]
        level = 0
        while index & 1:
            node = node_hash(self._stack.pop(), node)
            index >>= 1
            level += 1
            made.append((level, index, node))
        self._stack.append(node)
        self._size += 1
        return made

    def root(self) -> Hash:
        """The root hash of the tree of the leaves appended so far."""
        if not self._stack:
            return EMPTY_ROOT
        acc = self._stack[-1]
        for h in reversed(self._stack[:-1]):
            acc = node_hash(h, acc)
        return acc

    def copy(self) -> MerkleFrontier:
        """An independent copy (to try a batch and roll back)."""
        other = MerkleFrontier()
        other._size = self._size
        other._stack = list(self._stack)
        return other


def _node_arg(value: bytes) -> Hash:
    if len(value) != HASH_SIZE:
        raise ValueError(f"a tree hash is {HASH_SIZE} bytes, got {len(value)}")
    return Hash(bytes(value))


class MemoryTree:
    """A whole Merkle tree in memory: every perfect node, level by level.

    ``get_node`` is the callback the proof functions take; the ledger serves the same nodes from
    a table. Meant for tests, offline bundles and small logs.
    """

    __slots__ = ("_frontier", "_levels")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[Hash]] = []
        self._frontier = MerkleFrontier()
        for h in leaf_hashes:
            self.append(h)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._frontier.size

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash.

        Raises:
            ValueError: ``leaf_hash`` is not 32 bytes.
        """
        for level, _index, node in self._frontier.append(leaf_hash):
            if level == len(self._levels):
                self._levels.append([])
            self._levels[level].append(node)

    def get_node(self, level: int, index: int) -> Hash:
        """The hash of the perfect subtree at ``level`` and ``index``.

        Raises:
            LookupError: the tree has no such (complete) subtree yet.
        """
        if (
            level < 0
            or index < 0
            or level >= len(self._levels)
            or index >= len(self._levels[level])
        ):
            raise LookupError(f"no perfect subtree at level {level}, index {index}")
        return self._levels[level][index]

    def root(self, size: int | None = None) -> Hash:
        """The root hash of the first ``size`` leaves (default: all).

        Raises:
            ValueError: ``size`` exceeds the tree.
        """
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is not within 0..{self.size}")
        return EMPTY_ROOT if size == 0 else subtree_hash(0, size, self.get_node)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[Hash]:
        """The inclusion proof of leaf ``index`` in the first ``size`` leaves (default: all).

        Raises:
            ValueError: the index or size is out of range.
        """
        size = self.size if size is None else size
        if size > self.size:
            raise ValueError(f"tree size {size} exceeds the tree ({self.size})")
        return inclusion_proof(index, size, self.get_node)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[Hash]:
        """The consistency proof from ``size1`` to ``size2`` leaves (default: all).

        Raises:
            ValueError: the sizes are out of range.
        """
        size2 = self.size if size2 is None else size2
        if size2 > self.size:
            raise ValueError(f"tree size {size2} exceeds the tree ({self.size})")
        return consistency_proof(size1, size2, self.get_node)
