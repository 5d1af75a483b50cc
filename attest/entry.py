"""Entry hashes, the stream chain rule and Merkle leaf data (docs/SPEC.md §5, §6.1).

Every preimage here is a byte concatenation with a domain-separation prefix and explicit lengths,
so that a verifier in any language (a browser included) can rebuild it without a JSON library.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from attest.dsse import Envelope
from attest.errors import EncodingError
from attest.merkle import leaf_hash

__all__ = [
    "Leaf",
    "LogEntry",
    "entry_hash",
    "genesis_prev",
    "leaf_data",
    "parse_leaf_data",
]

_ENTRY = b"claimledger:v1:entry\x00"
_GENESIS = b"claimledger:v1:genesis\x00"
_LEAF = b"claimledger:v2:leaf\x00"
_U64_MAX = 2**64 - 1


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def entry_hash(envelope: Envelope) -> bytes:
    """SHA-256 over the payload type, payload and signatures of ``envelope`` (SPEC §5.1)."""
    parts = [
        _ENTRY,
        _field(envelope.payload_type.encode("utf-8")),
        _field(envelope.payload),
        struct.pack(">I", len(envelope.signatures)),
    ]
    for s in envelope.signatures:
        parts.append(_field(s.keyid.encode("ascii")))
        parts.append(_field(s.sig))
    return hashlib.sha256(b"".join(parts)).digest()


def genesis_prev(stream: str) -> str:
    """The ``prev`` value (hex) of the first statement of ``stream`` (SPEC §5.2)."""
    return hashlib.sha256(_GENESIS + stream.encode("utf-8")).hexdigest()


def leaf_data(
    index: int, stream: str, position: int, log_time_ms: int, ehash: bytes, state_root: bytes
) -> bytes:
    """The Merkle leaf data of one log entry (SPEC §6.1); hash it with ``merkle.leaf_hash``.

    ``state_root`` is the root of the state commitment after the entry (SPEC §11).

    Raises:
        EncodingError: a number is out of range, or the entry hash or state root is not 32 bytes.
    """
    for name, n in (("index", index), ("position", position), ("log time", log_time_ms)):
        if not 0 <= n <= _U64_MAX:
            raise EncodingError(f"{name} {n} is out of range")
    if len(ehash) != 32:
        raise EncodingError("entry hash must be 32 bytes")
    if len(state_root) != 32:
        raise EncodingError("state root must be 32 bytes")
    return b"".join(
        (
            _LEAF,
            struct.pack(">Q", index),
            _field(stream.encode("utf-8")),
            struct.pack(">QQ", position, log_time_ms),
            ehash,
            state_root,
        )
    )


_MIN_LEAF = len(_LEAF) + 8 + 4 + 8 + 8 + 32 + 32


@dataclass(frozen=True, slots=True)
class Leaf:
    """Everything one entry's Merkle leaf commits to (SPEC §6.1), without the envelope."""

    index: int
    stream: str
    position: int
    log_time_ms: int
    entry_hash: bytes
    state_root: bytes

    def to_bytes(self) -> bytes:
        """The leaf data.

        Raises:
            EncodingError: a number is out of range or a hash is not 32 bytes.
        """
        return leaf_data(
            self.index,
            self.stream,
            self.position,
            self.log_time_ms,
            self.entry_hash,
            self.state_root,
        )

    def leaf_hash(self) -> bytes:
        """The leaf's Merkle hash, ``SHA-256(0x00 ‖ leaf data)``."""
        return leaf_hash(self.to_bytes())


def parse_leaf_data(data: bytes) -> Leaf:
    """Read leaf data (SPEC §6.1) strictly: the prefix, exact lengths, UTF-8 stream name.

    Raises:
        EncodingError: the bytes are not the leaf data of any entry.
    """
    if len(data) < _MIN_LEAF or not data.startswith(_LEAF):
        raise EncodingError("not claimledger v2 leaf data (prefix or length)")
    at = len(_LEAF)
    (index,) = struct.unpack_from(">Q", data, at)
    (length,) = struct.unpack_from(">I", data, at + 8)
    at += 12
    if len(data) != _MIN_LEAF + length:
        raise EncodingError(f"leaf data of {len(data)} bytes for a stream name of {length}")
    try:
        stream = data[at : at + length].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError("the leaf's stream name is not UTF-8") from exc
    at += length
    position, log_time_ms = struct.unpack_from(">QQ", data, at)
    at += 16
    leaf = Leaf(index, stream, position, log_time_ms, data[at : at + 32], data[at + 32 :])
    if leaf.to_bytes() != data:  # pragma: no cover - every field was read exactly
        raise EncodingError("leaf data does not re-encode to itself")
    return leaf


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One raw log entry as a ledger serves it: where the log put it, when, and the envelope.

    Nothing here is trusted: :mod:`attest.verify` re-derives every hash from these bytes, and
    replays the state commitment itself; ``state_root`` is the log's word for it (SPEC §11),
    which a sparse client needs to rebuild the leaf, and a full verifier compares with its own.
    """

    index: int
    stream: str
    position: int
    log_time_ms: int
    envelope: bytes
    state_root: bytes | None = None
