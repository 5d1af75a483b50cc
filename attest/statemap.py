"""The state commitment: a sparse Merkle map of every stream's head and every party's record
(docs/SPEC.md §11).

After each entry the log's state is a map from 32-byte keys to 48-byte values:

- ``stream_key(s)`` → ``record(length, index of the head, head entry hash)`` for each stream ``s``
  with at least one entry;
- ``party_key(p)`` → ``record(count, index of the last, fold)`` over the registry entries about
  party ``p`` (:func:`subject`), where ``fold`` chains their entry hashes (:func:`fold`).

Its root (:func:`StateMap.root`) goes into the entry's Merkle leaf (SPEC §6.1), so a checkpoint
of size ``n`` commits to the state after entry ``n - 1``, and a proof of O(log k) hashes shows a
stream's or party's record at ``n`` — or that it has none.

The map is a binary trie over the keys' bits (most significant first) in which a subtree holding
one key is that key's leaf, and a subtree holding none is :data:`EMPTY`; so its root is a function
of the set of (key, value) pairs only, whatever the order they were written in. Nodes are
immutable and shared between versions: :meth:`StateMap.set` returns a new map in O(depth), and
keeping an old map costs only the nodes it does not share.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from attest.errors import EncodingError, ProofError
from attest.statements import (
    REGISTRY_KINDS,
    AccreditationGrant,
    AccreditationSuspend,
    KeyAdd,
    KeyRevoke,
    PartyRegister,
    PartyRetire,
    Statement,
)

__all__ = [
    "EMPTY",
    "FOLD_START",
    "KEY_PARTY",
    "KEY_STREAM",
    "Commitment",
    "MapLeaf",
    "MapProof",
    "Record",
    "StateMap",
    "apply_entry",
    "fold",
    "map_key",
    "party_key",
    "record_bytes",
    "stream_key",
    "subject",
    "verify_map_proof",
]

_KEY = b"claimledger:v2:map-key\x00"
_LEAF = b"claimledger:v2:map-leaf\x00"
_NODE = b"claimledger:v2:map-node\x00"
_FOLD = b"claimledger:v2:party-fold\x00"

KEY_STREAM = 1
"""Key type of a stream's head."""
KEY_PARTY = 2
"""Key type of a party's registry record."""

EMPTY = bytes(32)
"""The hash of an empty subtree (and the root of the empty map)."""

FOLD_START = bytes(32)
"""The fold of a party with no registry entry."""

_U64_MAX = 2**64 - 1
_MAX_DEPTH = 256
_sha256 = hashlib.sha256


def map_key(kind: int, ident: str) -> bytes:
    """``SHA-256("claimledger:v2:map-key" ‖ 0x00 ‖ u8(kind) ‖ ident)``."""
    return hashlib.sha256(_KEY + bytes((kind,)) + ident.encode("utf-8")).digest()


def stream_key(stream: str) -> bytes:
    """The map key of ``stream``'s head."""
    return map_key(KEY_STREAM, stream)


def party_key(party: str) -> bytes:
    """The map key of ``party``'s registry record."""
    return map_key(KEY_PARTY, party)


def fold(acc: bytes, ehash: bytes) -> bytes:
    """The next fold of a party's record: ``SHA-256(prefix ‖ acc ‖ entry hash)``."""
    return hashlib.sha256(_FOLD + acc + ehash).digest()


def subject(statement: Statement) -> str | None:
    """The party a registry statement is about (its record), or None for other kinds.

    The genesis and a log key rotation are about their signer, the authority; every other registry
    kind names its party.
    """
    if statement.kind not in REGISTRY_KINDS:
        return None
    body = statement.body
    if isinstance(
        body,
        PartyRegister
        | KeyAdd
        | KeyRevoke
        | AccreditationGrant
        | AccreditationSuspend
        | PartyRetire,
    ):
        return body.party
    return statement.signer  # genesis


@dataclass(frozen=True, slots=True)
class Record:
    """A map value: how many entries, the index of the last one, and a 32-byte digest.

    For a stream: its length, the index of its head and the head's entry hash. For a party: the
    number of registry entries about it, the index of the last, and their fold.
    """

    count: int
    last_index: int
    digest: bytes

    def __post_init__(self) -> None:
        if not (0 < self.count <= _U64_MAX and 0 <= self.last_index <= _U64_MAX):
            raise EncodingError(f"record numbers out of range: {self.count}, {self.last_index}")
        if len(self.digest) != 32:
            raise EncodingError("a record's digest is 32 bytes")

    def to_bytes(self) -> bytes:
        """``u64(count) ‖ u64(last index) ‖ digest`` (48 bytes)."""
        return record_bytes(self.count, self.last_index, self.digest)

    @classmethod
    def from_bytes(cls, data: bytes) -> Record:
        """Parse 48 value bytes.

        Raises:
            EncodingError: not 48 bytes, or a count of zero.
        """
        if len(data) != 48:
            raise EncodingError(f"a record is 48 bytes, not {len(data)}")
        count, last = struct.unpack(">QQ", data[:16])
        return cls(count, last, bytes(data[16:]))


def record_bytes(count: int, last_index: int, digest: bytes) -> bytes:
    """The 48 value bytes of a record (unchecked; :class:`Record` checks)."""
    return struct.pack(">QQ", count, last_index) + digest


def _leaf_hash(key: bytes, value: bytes) -> bytes:
    return hashlib.sha256(_LEAF + key + value).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def _bit(key: int, depth: int) -> int:
    return (key >> (255 - depth)) & 1


# Nodes are tuples, for speed: a leaf is (hash, key, value, key as int), an inner node is
# (hash, left, right), an empty subtree is None.
_Tree = tuple[Any, ...] | None


def _leaf(key: bytes, value: bytes) -> tuple[Any, ...]:
    return (_leaf_hash(key, value), key, value, int.from_bytes(key, "big"))


def _node(left: _Tree, right: _Tree) -> tuple[Any, ...]:
    return (
        _sha256(
            _NODE + (EMPTY if left is None else left[0]) + (EMPTY if right is None else right[0])
        ).digest(),
        left,
        right,
    )


@dataclass(frozen=True, slots=True)
class MapLeaf:
    """The leaf a proof ends at: the key it holds and its value bytes."""

    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class MapProof:
    """A proof of one key's value (or of its absence) in a map with a given root.

    Attributes:
        siblings: the sibling hashes along the key's path, from the root down (one per level
            until the path ends).
        leaf: the leaf at the end of the path: the key's own (membership), another key's whose
            path shares these levels (absence), or None where the path ends in an empty
            subtree (absence).
    """

    siblings: tuple[bytes, ...]
    leaf: MapLeaf | None


class StateMap:
    """An immutable sparse Merkle map; :meth:`set` returns a new map sharing unchanged nodes.

    A map may also be *deferred* (:meth:`deferred`): its nodes are read when first needed, and
    its root and size are known before (a ledger's snapshot: 40 MB of nodes at 100,000
    companies, which a server need not read until its first append or evidence bundle).
    """

    __slots__ = ("_hash", "_load", "_root", "size")

    def __init__(self, _root: _Tree = None, size: int = 0) -> None:
        self._root = _root
        self.size = size
        self._load: Callable[[], _Tree] | None = None
        self._hash = b""

    @classmethod
    def deferred(cls, root: bytes, size: int, load: Callable[[], _Tree]) -> StateMap:
        """A map of ``size`` keys with root hash ``root``, whose nodes ``load`` returns when
        first needed (checked then against ``root``)."""
        m = cls(None, size)
        m._hash, m._load = root, load
        return m

    @property
    def loader(self) -> Callable[[], _Tree] | None:
        """What reads this map's nodes, if they were not read yet."""
        return self._load

    def nodes(self) -> _Tree:
        """The root node (read now, if deferred).

        Raises:
            EncodingError: the nodes read have another root hash than the one given.
        """
        load = self._load
        if load is not None:
            tree = load()
            if (EMPTY if tree is None else bytes(tree[0])) != self._hash:
                raise EncodingError("the state map's nodes do not have the map's root hash")
            self._root = tree  # before the loader goes: another thread then sees the nodes
            self._load = None
        return self._root

    def root(self) -> bytes:
        """The map's root hash (:data:`EMPTY` when it holds nothing)."""
        if self._load is not None:
            return self._hash
        return EMPTY if self._root is None else bytes(self._root[0])

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, if any."""
        ikey = int.from_bytes(key, "big")
        node, shift = self.nodes(), 255
        while node is not None and len(node) == 3:
            node = node[2] if (ikey >> shift) & 1 else node[1]
            shift -= 1
        return bytes(node[2]) if node is not None and node[1] == key else None

    def set(self, key: bytes, value: bytes) -> StateMap:
        """A map equal to this one with ``key`` set to ``value``, in O(depth) hashes.

        Raises:
            EncodingError: the key is not 32 bytes.
        """
        if len(key) != 32:
            raise EncodingError("a map key is 32 bytes")
        leaf = _leaf(key, value)
        ikey: int = leaf[3]
        path: list[tuple[Any, ...]] = []
        node, shift = self.nodes(), 255
        while node is not None and len(node) == 3:
            path.append(node)
            node = node[2] if (ikey >> shift) & 1 else node[1]
            shift -= 1
        grew = 1
        new: tuple[Any, ...]
        if node is None:
            new = leaf
        elif node[1] == key:
            new, grew = leaf, 0
        else:
            new = _split(node, leaf, 255 - shift)
        sha, prefix = _sha256, _NODE
        for parent in reversed(path):
            shift += 1
            if (ikey >> shift) & 1:
                left = parent[1]
                lh = EMPTY if left is None else left[0]
                new = (sha(prefix + lh + new[0]).digest(), left, new)
            else:
                right = parent[2]
                rh = EMPTY if right is None else right[0]
                new = (sha(prefix + new[0] + rh).digest(), new, right)
        return StateMap(new, self.size + grew)

    def prove(self, key: bytes) -> MapProof:
        """The proof of ``key``'s value, or of its absence."""
        ikey = int.from_bytes(key, "big")
        siblings: list[bytes] = []
        node, shift = self.nodes(), 255
        while node is not None and len(node) == 3:
            if (ikey >> shift) & 1:
                sib, node = node[1], node[2]
            else:
                sib, node = node[2], node[1]
            siblings.append(EMPTY if sib is None else sib[0])
            shift -= 1
        leaf = None if node is None else MapLeaf(node[1], node[2])
        return MapProof(tuple(siblings), leaf)

    @classmethod
    def build(cls, items: Iterable[tuple[bytes, bytes]]) -> StateMap:
        """A map holding ``items`` (later values of a key replace earlier ones)."""
        m = cls()
        for k, v in items:
            m = m.set(k, v)
        return m


def _split(old: tuple[Any, ...], new: tuple[Any, ...], depth: int) -> tuple[Any, ...]:
    """The subtree at ``depth`` holding two leaves whose keys agree on the first ``depth`` bits."""
    a, b = old[3], new[3]
    d = depth
    while _bit(a, d) == _bit(b, d):
        d += 1
    node = _node(new, old) if _bit(a, d) else _node(old, new)
    while d > depth:
        d -= 1
        node = _node(None, node) if _bit(b, d) else _node(node, None)
    return node


def apply_entry(
    m: StateMap,
    records: Mapping[str, tuple[int, int, bytes]],
    stream: str,
    index: int,
    position: int,
    ehash: bytes,
    who: str | None,
) -> tuple[StateMap, tuple[int, int, bytes] | None]:
    """The state map after one entry (SPEC §11.2), and the new record of the party it is about.

    ``records`` holds each party's record before the entry: (count, last index, fold). The one
    definition of the update, shared by the rules engine and :class:`Commitment`.
    """
    m = m.set(stream_key(stream), record_bytes(position + 1, index, ehash))
    if who is None:
        return m, None
    count, _, acc = records.get(who, (0, 0, FOLD_START))
    record = (count + 1, index, fold(acc, ehash))
    return m.set(party_key(who), record_bytes(*record)), record


class Commitment:
    """The state commitment built entry by entry, without the rules (SPEC §11.2).

    The rules engine (:class:`attest.rules.LogState`) keeps the same commitment as part of its
    state, undoable; this stand-alone fold serves what has no rules to run: rebuilding the map at
    an older size from stored leaves, test logs, vectors.

    Args:
        keep: keep the map of every size in ``maps`` (``maps[n]`` is the map at size ``n``);
            they share nodes, so this costs O(depth) nodes per entry.
    """

    def __init__(self, *, keep: bool = False) -> None:
        self.map = StateMap()
        self.size = 0
        self.maps: list[StateMap] | None = [self.map] if keep else None
        self.records: dict[str, tuple[int, int, bytes]] = {}

    def add(self, stream: str, index: int, position: int, ehash: bytes, who: str | None) -> bytes:
        """Record the entry at ``index`` (position ``position`` of ``stream``, about party
        ``who`` if a registry entry); return the state root after it.

        Raises:
            EncodingError: ``index`` is not the next index.
        """
        if index != self.size:
            raise EncodingError(f"index {index} is not the next index {self.size}")
        m, record = apply_entry(self.map, self.records, stream, index, position, ehash, who)
        if who is not None and record is not None:
            self.records[who] = record
        self.map = m
        self.size += 1
        if self.maps is not None:
            self.maps.append(m)
        return m.root()


def verify_map_proof(root: bytes, key: bytes, proof: MapProof) -> bytes | None:
    """Verify ``proof`` for ``key`` against ``root``; return the key's value, or None if absent.

    Raises:
        ProofError: the proof is malformed (too long, a hash not 32 bytes, a leaf whose key does
            not share the path) or does not lead to ``root``.
    """
    siblings: Sequence[bytes] = proof.siblings
    if len(key) != 32 or len(root) != 32:
        raise ProofError("map keys and roots are 32 bytes")
    if len(siblings) > _MAX_DEPTH:
        raise ProofError(f"a map proof has at most {_MAX_DEPTH} siblings")
    if any(len(s) != 32 for s in siblings):
        raise ProofError("every sibling of a map proof is 32 bytes")
    depth = len(siblings)
    ikey = int.from_bytes(key, "big")
    leaf = proof.leaf
    value: bytes | None = None
    if leaf is None:
        h = EMPTY
    else:
        if len(leaf.key) != 32:
            raise ProofError("a map leaf's key is 32 bytes")
        if depth and (int.from_bytes(leaf.key, "big") ^ ikey) >> (256 - depth):
            raise ProofError("the proof's leaf is not on the key's path")
        if leaf.key == key:
            value = leaf.value
        h = _leaf_hash(leaf.key, leaf.value)
    for d in range(depth - 1, -1, -1):
        s = siblings[d]
        h = _node_hash(s, h) if _bit(ikey, d) else _node_hash(h, s)
    if h != root:
        raise ProofError("the map proof does not lead to the state root")
    return value
