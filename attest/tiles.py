"""C2SP tlog-tiles: tile paths, tile contents, proofs from tiles, entry bundles (SPEC §14).

A tiled log serves its Merkle tree as static files (https://c2sp.org/tlog-tiles):

- ``tile/<L>/<N>[.p/<W>]``: the ``W`` (256 for a full tile) consecutive hashes at tree height
  ``8·L`` starting at hash ``256·N``. Hash ``j`` at height ``8·L`` is the perfect node
  ``node(8·L, j)`` of SPEC §6 (level 0: the leaf hashes).
- ``tile/entries/<N>[.p/<W>]``: the entry bundle: the leaf data (SPEC §6.1) of the same leaves as
  ``tile/0/<N>``, each prefixed by its length as a big-endian uint16, exactly as tlog-tiles says;
  each entry hashes (RFC 9162 ``leaf_hash``) to the hash at its place in ``tile/0/<N>``.
- ``tile/envelopes/<N>[.p/<W>]``: claimledger's second bundle of the same leaves (a different URL,
  as tlog-tiles allows for other encodings): each entry's stored DSSE envelope (SPEC §4), prefixed
  by its length as a big-endian uint32 (envelopes may be up to 256 KiB). The leaf data names the
  envelope's entry hash (SPEC §5.1), so each envelope is checked against its leaf.

``<N>`` is written in 3-digit groups, all but the last prefixed with ``x`` (1234067 is
``x001/x234/067``). Everything here is pure: fetching is the caller's (a callback), and nothing is
trusted until a root computed from tiles equals a verified checkpoint's root, or a proof computed
from tiles verifies against it (:mod:`attest.merkle`).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from attest.dsse import MAX_ENVELOPE_BYTES, Envelope
from attest.entry import LogEntry, entry_hash, parse_leaf_data
from attest.errors import EncodingError, ProofError, VerificationError
from attest.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Hash,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    subtree_hash,
)

__all__ = [
    "MAX_TILE_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileBuilder",
    "TileFetcher",
    "TileHashReader",
    "TileKind",
    "TileRef",
    "bundle_log_entries",
    "decode_entry_bundle",
    "decode_envelope_bundle",
    "encode_entry_bundle",
    "encode_envelope_bundle",
    "encode_tile_index",
    "new_tiles",
    "parse_tile_path",
    "root_with_leaves",
    "tile_bytes",
    "tiles_for_size",
]

TILE_HEIGHT = 8
"""Tree levels spanned by one tile: a tile at level ``L`` holds hashes at height ``8·L``."""
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile (entries in a full bundle): 256."""
MAX_TILE_LEVEL = 63
"""The largest tile level a path may name (tlog-tiles: 0 to 63)."""

TileKind = Literal["hash", "entries", "envelopes"]

TileFetcher = Callable[[int, int, int], bytes]
"""``fetch(level, index, width)``: the bytes of hash tile ``tile/<level>/<index>[.p/<width>]``."""


@dataclass(frozen=True, slots=True, order=True)
class TileRef:
    """One tile or bundle resource: ``kind``, level (0 for bundles), index and width (1..256)."""

    kind: TileKind
    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if self.kind not in ("hash", "entries", "envelopes"):
            raise ValueError(f"unknown tile kind {self.kind!r}")
        if not 0 <= self.level <= MAX_TILE_LEVEL or (self.kind != "hash" and self.level):
            raise ValueError(f"tile level {self.level} out of range for {self.kind}")
        if self.index < 0 or not 1 <= self.width <= TILE_WIDTH:
            raise ValueError(f"tile index {self.index} or width {self.width} out of range")

    @property
    def full(self) -> bool:
        """Whether this is a full (256-wide) tile."""
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """The path below the log's prefix, e.g. ``tile/1/x001/234.p/17``."""
        head = f"tile/{self.level}" if self.kind == "hash" else f"tile/{self.kind}"
        tail = "" if self.full else f".p/{self.width}"
        return f"{head}/{encode_tile_index(self.index)}{tail}"

    @property
    def start(self) -> int:
        """The first leaf index the tile spans: ``index · 256^(level+1)``."""
        return self.index << (TILE_HEIGHT * (self.level + 1))

    @property
    def end(self) -> int:
        """One past the last leaf its hashes span: ``start + width · 256^level``."""
        return self.start + (self.width << (TILE_HEIGHT * self.level))


def encode_tile_index(n: int) -> str:
    """``n`` as tlog-tiles path elements: zero-padded 3-digit groups, all but the last with
    an ``x`` prefix (``1234067`` → ``x001/x234/067``, ``5`` → ``005``).

    Raises:
        ValueError: ``n`` is negative.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"a tile index is a non-negative integer, not {n!r}")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


_PATH = re.compile(
    r"tile/(?P<level>0|[1-9][0-9]?|entries|envelopes)/"
    r"(?P<index>(?:x[0-9]{3}/)*[0-9]{3})(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)


def parse_tile_path(path: str) -> TileRef:
    """The tile a path names (``tile/<L>/<N>[.p/<W>]``, ``tile/entries/...``,
    ``tile/envelopes/...``), read strictly: the level 0..63 without leading zeros, every group
    of the index exactly 3 digits, no leading ``x000/`` group (one index, one path), ``W`` 1..255.

    Raises:
        ValueError: not a tile path in canonical form.
    """
    m = _PATH.fullmatch(path)
    if m is None:
        raise ValueError(f"{path!r} is not a tile path")
    groups = m["index"].split("/")
    if len(groups) > 1 and groups[0] == "x000":
        raise ValueError(f"{path!r}: the tile index has a leading zero group")
    index = int("".join(g.removeprefix("x") for g in groups))
    width = TILE_WIDTH if m["width"] is None else int(m["width"])
    if m["width"] is not None and width >= TILE_WIDTH:
        raise ValueError(f"{path!r}: a partial tile is 1 to 255 wide")
    level = m["level"]
    if level in ("entries", "envelopes"):
        return TileRef(level, 0, index, width)  # type: ignore[arg-type]
    if int(level) > MAX_TILE_LEVEL:
        raise ValueError(f"{path!r}: tile level above {MAX_TILE_LEVEL}")
    return TileRef("hash", int(level), index, width)


def _partial_width(level: int, size: int) -> int:
    return (size >> (TILE_HEIGHT * level)) % TILE_WIDTH


def tiles_for_size(size: int, kinds: Sequence[TileKind] = ("hash",)) -> list[TileRef]:
    """Every tile a tree of ``size`` leaves is served as: per level, the full tiles, then the
    partial one if the level has one (tlog-tiles: a 70,000-leaf tree has 273 full and one
    112-wide level-0 tile, one full and one 17-wide level-1 tile, one 1-wide level-2 tile).
    Bundle kinds (``entries``, ``envelopes``) follow level 0."""
    return new_tiles(0, size, kinds)


def new_tiles(old: int, size: int, kinds: Sequence[TileKind] = ("hash",)) -> list[TileRef]:
    """The tiles of a tree of ``size`` leaves that a tree of ``old`` leaves did not have in
    full: full tiles completed since ``old``, and the partial tiles of ``size`` (what an
    incremental export writes; the full tiles of ``old`` are immutable).

    Raises:
        ValueError: ``old`` is not in ``[0, size]``.
    """
    if not 0 <= old <= size:
        raise ValueError(f"cannot go from {old} to {size} leaves")
    out: list[TileRef] = []
    for kind in kinds:
        level = 0
        while size >> (TILE_HEIGHT * level):
            shift = TILE_HEIGHT * (level + 1)
            out.extend(TileRef(kind, level, n) for n in range(old >> shift, size >> shift))
            width = _partial_width(level, size)
            if width:
                out.append(TileRef(kind, level, size >> shift, width))
            if kind != "hash":
                break
            level += 1
    return out


def tile_bytes(ref: TileRef, get_node: Callable[[int, int], bytes]) -> bytes:
    """The contents of hash tile ``ref``: its ``width`` hashes at height ``8·level``, read as
    perfect nodes (SPEC §6) with ``get_node(height, index)``."""
    if ref.kind != "hash":
        raise ValueError("not a hash tile")
    height = TILE_HEIGHT * ref.level
    first = ref.index * TILE_WIDTH
    return b"".join(bytes(get_node(height, first + i)) for i in range(ref.width))


def encode_entry_bundle(leaf_datas: Iterable[bytes]) -> bytes:
    """An entry bundle: each leaf data (SPEC §6.1) prefixed by its big-endian uint16 length.

    Raises:
        EncodingError: an entry is longer than 65,535 bytes (leaf data never is).
    """
    parts = []
    for d in leaf_datas:
        if len(d) > 0xFFFF:
            raise EncodingError(f"an entry of {len(d)} bytes does not fit an entry bundle")
        parts.append(struct.pack(">H", len(d)) + d)
    return b"".join(parts)


def encode_envelope_bundle(envelopes: Iterable[bytes]) -> bytes:
    """An envelope bundle: each stored envelope prefixed by its big-endian uint32 length."""
    return b"".join(struct.pack(">I", len(e)) + e for e in envelopes)


def _split(data: bytes, width: int, prefix: int, limit: int, what: str) -> list[bytes]:
    out: list[bytes] = []
    at = 0
    fmt = ">H" if prefix == 2 else ">I"
    while at < len(data):
        if len(out) == width:
            raise EncodingError(f"the {what} holds more than {width} entries")
        if at + prefix > len(data):
            raise EncodingError(f"the {what} ends inside a length prefix")
        (length,) = struct.unpack_from(fmt, data, at)
        at += prefix
        if length > limit or at + length > len(data):
            raise EncodingError(f"entry {len(out)} of the {what} is cut short or too long")
        out.append(data[at : at + length])
        at += length
    if len(out) != width:
        raise EncodingError(f"the {what} holds {len(out)} entries, not {width}")
    return out


def decode_entry_bundle(data: bytes, width: int) -> list[bytes]:
    """The ``width`` entries of an entry bundle, read strictly (no missing or trailing bytes).

    Raises:
        EncodingError: the bytes are not exactly ``width`` uint16-prefixed entries.
    """
    return _split(data, width, 2, 0xFFFF, "entry bundle")


def decode_envelope_bundle(data: bytes, width: int) -> list[bytes]:
    """The ``width`` envelopes of an envelope bundle, read strictly.

    Raises:
        EncodingError: the bytes are not exactly ``width`` uint32-prefixed envelopes of at most
            ``MAX_ENVELOPE_BYTES`` each.
    """
    return _split(data, width, 4, MAX_ENVELOPE_BYTES, "envelope bundle")


def bundle_log_entries(
    index: int, entries: bytes, envelopes: bytes, width: int, tile: bytes | None = None
) -> list[LogEntry]:
    """The raw log entries of bundle ``index`` (``tile/entries`` and ``tile/envelopes``).

    Each leaf data must be leaf ``index·256 + i`` and name the entry hash of its envelope
    (SPEC §5.1); with ``tile`` (the level-0 tile of the same width), each leaf's RFC 9162 leaf
    hash must be the tile's hash at its place. Nothing here checks a signature or a rule: the
    returned entries go to :class:`attest.verify.LogVerifier`, whose root must equal a
    verified checkpoint's.

    Raises:
        EncodingError: a bundle is malformed.
        VerificationError: a leaf is out of place or names another envelope.
        ProofError: a leaf does not hash to the tile's hash at its place.
    """
    leaves = decode_entry_bundle(entries, width)
    envs = decode_envelope_bundle(envelopes, width)
    if tile is not None and len(tile) != width * HASH_SIZE:
        raise EncodingError(f"tile/0/{index} is {len(tile)} bytes, not {width * HASH_SIZE}")
    out: list[LogEntry] = []
    for i, (data, env) in enumerate(zip(leaves, envs, strict=True)):
        at = index * TILE_WIDTH + i
        leaf = parse_leaf_data(data)
        if leaf.index != at:
            raise VerificationError(
                f"entry bundle {index} holds leaf {leaf.index} at {at}", index=at
            )
        if tile is not None and leaf_hash(data) != tile[i * HASH_SIZE : (i + 1) * HASH_SIZE]:
            raise ProofError(f"leaf {at} does not hash to its place in tile/0/{index}", index=at)
        if entry_hash(Envelope.parse_stored(env)) != leaf.entry_hash:
            raise VerificationError(
                f"the envelope of leaf {at} is not the one its leaf data names",
                stream=leaf.stream,
                position=leaf.position,
                index=at,
            )
        out.append(LogEntry(at, leaf.stream, leaf.position, leaf.log_time_ms, env, leaf.state_root))
    return out


class TileHashReader:
    """Any node hash, root or proof of the tree of ``size`` leaves, from hash tiles.

    ``fetch(level, index, width)`` returns a tile's bytes; each tile is fetched once (full tiles
    where the tree has them, else the partial tile of ``size``). Tiles are untrusted: compare
    :meth:`root` with a verified checkpoint's root, and verify the proofs this computes against
    it; a tile of the wrong length is refused here.
    """

    def __init__(self, size: int, fetch: TileFetcher) -> None:
        if size < 0:
            raise ValueError("size must not be negative")
        self.size = size
        self._fetch = fetch
        self._tiles: dict[tuple[int, int], bytes] = {}
        self.fetched: list[TileRef] = []

    def tile(self, level: int, index: int) -> bytes:
        """The hash tile ``(level, index)`` as the tree of ``size`` has it (full or partial).

        Raises:
            ValueError: the tree of ``size`` has no such tile.
            EncodingError: the fetched tile is not ``width · 32`` bytes.
        """
        key = (level, index)
        found = self._tiles.get(key)
        if found is not None:
            return found
        shift = TILE_HEIGHT * (level + 1)
        if index < self.size >> shift:
            width = TILE_WIDTH
        elif index == self.size >> shift and _partial_width(level, self.size):
            width = _partial_width(level, self.size)
        else:
            raise ValueError(f"a tree of {self.size} leaves has no tile {level}/{index}")
        ref = TileRef("hash", level, index, width)
        data = bytes(self._fetch(level, index, width))
        if len(data) != width * HASH_SIZE:
            raise EncodingError(f"{ref.path} is {len(data)} bytes, not {width * HASH_SIZE}")
        self.fetched.append(ref)
        self._tiles[key] = data
        return data

    def node(self, height: int, index: int) -> Hash:
        """The perfect node ``node(height, index)`` of SPEC §6, from the tile at level
        ``height // 8`` (folding up to 128 of its hashes when ``height`` is not a multiple of 8).

        Raises:
            ValueError: the node is not a perfect subtree of the tree of ``size`` leaves.
        """
        if height < 0 or index < 0 or (index + 1) << height > self.size:
            raise ValueError(f"node({height}, {index}) is not in a tree of {self.size} leaves")
        level, rest = divmod(height, TILE_HEIGHT)
        first = index << rest  # the first hash at height 8·level below this node
        tile = self.tile(level, first >> TILE_HEIGHT)
        at = first % TILE_WIDTH
        hashes = [tile[(at + i) * HASH_SIZE : (at + i + 1) * HASH_SIZE] for i in range(1 << rest)]
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return Hash(hashes[0])

    def root(self) -> Hash:
        """The root hash of the tree of ``size`` leaves (``SHA-256("")`` when empty)."""
        return EMPTY_ROOT if self.size == 0 else subtree_hash(0, self.size, self.node)

    def inclusion_proof(self, index: int) -> list[Hash]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
        return inclusion_proof(index, self.size, self.node)

    def consistency_proof(self, old: int) -> list[Hash]:
        """RFC 9162 consistency proof from the tree of ``old`` leaves to that of ``size``."""
        return consistency_proof(old, self.size, self.node)

    def leaf_hashes(self, start: int, end: int) -> Iterator[Hash]:
        """The leaf hashes ``[start, end)`` from level-0 tiles."""
        for i in range(start, end):
            yield self.node(0, i)


class TileBuilder:
    """Every hash tile of a tree, recomputed from its leaf hashes in order, in O(256 · levels)
    memory: what a full verifier compares the served tiles with.

    :meth:`add` returns the full tiles a leaf completes, :meth:`finish` the partial tiles of
    the tree's size; each as ``(TileRef, bytes)``.
    """

    def __init__(self) -> None:
        self._pending: list[list[bytes]] = []
        self._done: list[int] = []  # full tiles completed per level

    def add(self, leaf: bytes) -> list[tuple[TileRef, bytes]]:
        """Append one leaf hash; the full tiles it completes (level 0 first)."""
        out: list[tuple[TileRef, bytes]] = []
        h, level = bytes(leaf), 0
        while True:
            if level == len(self._pending):
                self._pending.append([])
                self._done.append(0)
            row = self._pending[level]
            row.append(h)
            if len(row) < TILE_WIDTH:
                return out
            out.append((TileRef("hash", level, self._done[level]), b"".join(row)))
            self._done[level] += 1
            while len(row) > 1:
                row[:] = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
            h = row.pop()
            level += 1

    def finish(self) -> list[tuple[TileRef, bytes]]:
        """The partial tiles of the tree so far (none at a level whose tiles are all full)."""
        return [
            (TileRef("hash", level, self._done[level], len(row)), b"".join(row))
            for level, row in enumerate(self._pending)
            if row
        ]


def root_with_leaves(reader: TileHashReader, start: int, leaves: Sequence[bytes]) -> Hash:
    """The root of the reader's tree, with the leaf hashes ``[start, size)`` taken from
    ``leaves`` (recomputed by the caller from leaf data) and every node left of ``start`` from
    tiles. Equal to a verified checkpoint's root, it authenticates those leaves.

    Raises:
        ValueError: ``leaves`` is not exactly the leaves ``[start, size)``.
    """
    size = reader.size
    if len(leaves) != size - start or not 0 <= start <= size:
        raise ValueError(f"{len(leaves)} leaves do not end a tree of {size} at {start}")
    if size == 0:
        return EMPTY_ROOT

    def node(height: int, index: int) -> bytes:
        lo = index << height
        if (index + 1) << height <= start:
            return reader.node(height, index)
        if height == 0:
            return leaves[lo - start]
        return node_hash(node(height - 1, 2 * index), node(height - 1, 2 * index + 1))

    return subtree_hash(0, size, node)
