"""C2SP tlog-cosignature: witness cosignatures on checkpoints (docs/SPEC.md §12).

A cosignature is one more signed-note signature line on a checkpoint, made by a *cosigner*
(a witness) that checked the checkpoint is consistent with every earlier one it saw of that log::

    — <cosigner name> base64(key id (4) ‖ timestamp (u64, big-endian) ‖ signature)

Two types, each with its own key id type byte and signed message:

- **Ed25519** ``cosignature/v1`` (type ``0x04``): the signature covers
  ``"cosignature/v1\\n" ‖ "time <timestamp>\\n" ‖ <the whole note text>``, extension lines included.
  Verified with the project's strict Ed25519 rule (:meth:`keys.PublicKey.verify`).
- **ML-DSA-44** ``subtree/v1`` (type ``0x06``, FIPS 204, empty context): the signature covers the
  binary ``cosigned_message``: ``"subtree/v1\\n\\0"``, the cosigner name and the log origin each
  prefixed by a one-byte length, the timestamp, ``start = 0``, ``end = size`` (u64 big-endian) and
  the 32-byte root. It commits to the cosigner's name but not to extension lines, and stays
  unforgeable if Ed25519 falls to a quantum computer.

Key ids are ``SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]``; verifier keys (vkeys) are
``<name>+<hex key id>+<base64(type ‖ public key)>``. Parsing is strict, as in
:mod:`attest.checkpoint`. Every failure raises :class:`CosignatureError` (a
:class:`~attest.errors.CheckpointError`). Nothing here reads a clock: timestamps are arguments.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

import keys
from attest.checkpoint import (
    Checkpoint,
    NoteSignature,
    _b64decode,
    _b64encode,
    _check_key_name,
    note_signature_line,
    parse_note,
)
from attest.errors import CheckpointError

__all__ = [
    "COSIGNATURE_V1_HEADER",
    "MAX_TIMESTAMP",
    "MLDSA44_PUBLIC_KEY_SIZE",
    "MLDSA44_SEED_SIZE",
    "MLDSA44_SIGNATURE_SIZE",
    "SUBTREE_V1_LABEL",
    "Cosignature",
    "CosignatureError",
    "CosignatureType",
    "CosignedCheckpoint",
    "CosignerKey",
    "CosignerSigner",
    "add_cosignatures",
    "cosign",
    "cosign_subtree",
    "cosignature_v1_message",
    "cosigner_key_id",
    "subtree_v1_message",
    "verify_cosignature",
    "verify_subtree_cosignature",
]

COSIGNATURE_V1_HEADER: Final = b"cosignature/v1\n"
"""The first line of the Ed25519 cosigned message (domain separation)."""

SUBTREE_V1_LABEL: Final = b"subtree/v1\n\x00"
"""The 12-byte label that starts the ML-DSA-44 ``cosigned_message``."""

MAX_TIMESTAMP: Final = (1 << 63) - 1
"""Cosignature timestamps are POSIX seconds and must not exceed 2^63 - 1."""

MLDSA44_PUBLIC_KEY_SIZE: Final = 1312
MLDSA44_SIGNATURE_SIZE: Final = 2420
MLDSA44_SEED_SIZE: Final = 32

_ED25519_PUBLIC_KEY_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64
_KEY_ID_SIZE = 4
_TIMESTAMP_SIZE = 8
_HEX_KEY_ID = frozenset("0123456789abcdef")


class CosignatureError(CheckpointError):
    """A witness cosignature or cosigner key is malformed, missing or does not verify.

    A :class:`~attest.errors.CheckpointError`, so code that refuses bad checkpoints refuses bad
    cosignatures too.
    """


class CosignatureType(enum.IntEnum):
    """The signed-note signature type byte of each cosignature type."""

    ED25519 = 0x04
    """Timestamped Ed25519 checkpoint cosignature (``cosignature/v1``)."""
    MLDSA44 = 0x06
    """Timestamped ML-DSA-44 (sub)tree cosignature (``subtree/v1``)."""

    @property
    def public_key_size(self) -> int:
        """The length of the raw public key."""
        return (
            _ED25519_PUBLIC_KEY_SIZE if self is CosignatureType.ED25519 else MLDSA44_PUBLIC_KEY_SIZE
        )

    @property
    def signature_size(self) -> int:
        """The length of the signature after the timestamp."""
        return (
            _ED25519_SIGNATURE_SIZE if self is CosignatureType.ED25519 else MLDSA44_SIGNATURE_SIZE
        )

    @property
    def label(self) -> str:
        """A short human name (``ed25519`` or ``ml-dsa-44``)."""
        return "ed25519" if self is CosignatureType.ED25519 else "ml-dsa-44"


_TYPES = frozenset(int(t) for t in CosignatureType)


def cosigner_key_id(name: str, kind: CosignatureType, public_key: bytes) -> bytes:
    """``SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]``, the key id of a cosigner key.

    Raises:
        CosignatureError: the name is not a valid note key name.
    """
    _name(name)
    preimage = name.encode("utf-8") + b"\n" + bytes([kind]) + public_key
    return hashlib.sha256(preimage).digest()[:_KEY_ID_SIZE]


def _name(name: str) -> None:
    try:
        _check_key_name(name)
    except CheckpointError as exc:
        raise CosignatureError(f"cosigner {exc.what}") from exc


def _timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise CosignatureError(f"a cosignature timestamp must be an int, not {timestamp!r}")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError(f"cosignature timestamp {timestamp} is not in [0, 2^63 - 1]")


def cosignature_v1_message(text: bytes, timestamp: int) -> bytes:
    """The bytes an Ed25519 ``cosignature/v1`` signs: header, time line, whole note text.

    Args:
        text: the checkpoint note text (ending in a newline, without signatures).
        timestamp: POSIX seconds, ``0 <= timestamp <= 2^63 - 1``.

    Raises:
        CosignatureError: the timestamp is out of range.
    """
    _timestamp(timestamp)
    return COSIGNATURE_V1_HEADER + b"time %d\n" % timestamp + text


def subtree_v1_message(
    cosigner: str, timestamp: int, origin: str, start: int, end: int, root: bytes
) -> bytes:
    """The ML-DSA-44 ``cosigned_message`` (TLS presentation language, big-endian integers).

    For a checkpoint, ``start`` is 0 and ``end`` the tree size. A subtree with ``start > 0``
    must have a zero timestamp (and the spec lets a cosigner that states nothing about the
    latest tree use zero as well).

    Raises:
        CosignatureError: the name or origin is empty or over 255 bytes, the range or timestamp
            is out of bounds, or the root is not 32 bytes.
    """
    _name(cosigner)
    _timestamp(timestamp)
    name_bytes = cosigner.encode("utf-8")
    origin_bytes = origin.encode("utf-8")
    for what, part in (("cosigner name", name_bytes), ("log origin", origin_bytes)):
        if not 1 <= len(part) <= 255:
            raise CosignatureError(f"a subtree/v1 {what} is 1 to 255 bytes, got {len(part)}")
    for bound in (start, end):
        if isinstance(bound, bool) or not isinstance(bound, int) or not 0 <= bound < 1 << 64:
            raise CosignatureError(f"subtree bounds must be u64 integers, got {bound!r}")
    if start > end:
        raise CosignatureError(f"subtree start {start} is after its end {end}")
    if start and timestamp:
        raise CosignatureError("a subtree cosignature with a non-zero start has timestamp 0")
    if not isinstance(root, bytes) or len(root) != 32:
        raise CosignatureError("a subtree hash is 32 bytes")
    return b"".join(
        (
            SUBTREE_V1_LABEL,
            bytes([len(name_bytes)]),
            name_bytes,
            struct.pack(">Q", timestamp),
            bytes([len(origin_bytes)]),
            origin_bytes,
            struct.pack(">QQ", start, end),
            root,
        )
    )


def _message(kind: CosignatureType, name: str, text: bytes, timestamp: int) -> bytes:
    if kind is CosignatureType.ED25519:
        return cosignature_v1_message(text, timestamp)
    try:
        cp = Checkpoint.parse_body(text)
    except CheckpointError as exc:
        raise CosignatureError(f"cosigned note is not a checkpoint: {exc.what}") from exc
    return subtree_v1_message(name, timestamp, cp.origin, 0, cp.size, cp.root)


@dataclass(frozen=True, slots=True)
class CosignerKey:
    """A cosigner's (witness's) public key: name, type, raw key and the key id of all three.

    Attributes:
        name: the cosigner name (a note key name; C2SP: a schema-less URL).
        kind: the cosignature type.
        public_key: the raw key, 32 bytes (Ed25519) or 1312 bytes (ML-DSA-44).
        key_id: :func:`cosigner_key_id` of the above (checked when built).
    """

    name: str
    kind: CosignatureType
    public_key: bytes = field(repr=False)
    key_id: bytes
    _ed25519: keys.PublicKey | None = field(init=False, repr=False, compare=False)
    _mldsa: mldsa.MLDSA44PublicKey | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, CosignatureType):
            raise CosignatureError(f"unknown cosignature type {self.kind!r}")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != (
            self.kind.public_key_size
        ):
            raise CosignatureError(
                f"a {self.kind.label} cosigner key is {self.kind.public_key_size} bytes"
            )
        ed: keys.PublicKey | None = None
        ml: mldsa.MLDSA44PublicKey | None = None
        if self.kind is CosignatureType.ED25519:
            try:
                ed = keys.PublicKey.from_raw(self.public_key)
            except keys.KeyFormatError as exc:
                raise CosignatureError(f"cosigner key {self.name!r} is refused: {exc}") from exc
        else:
            try:
                ml = mldsa.MLDSA44PublicKey.from_public_bytes(self.public_key)
            except ValueError as exc:
                raise CosignatureError(f"cosigner key {self.name!r} is refused: {exc}") from exc
        object.__setattr__(self, "_ed25519", ed)
        object.__setattr__(self, "_mldsa", ml)
        expected = cosigner_key_id(self.name, self.kind, self.public_key)
        if self.key_id != expected:
            raise CosignatureError(
                f"key id {bytes(self.key_id).hex()} of cosigner {self.name!r} does not match its "
                f"name, type and key (expected {expected.hex()})"
            )

    @classmethod
    def for_key(cls, name: str, kind: CosignatureType, public_key: bytes) -> CosignerKey:
        """The key with its key id computed.

        Raises:
            CosignatureError: the name or key is refused.
        """
        return cls(name, kind, public_key, cosigner_key_id(name, kind, public_key))

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignerKey:
        """Parse ``<name>+<8 lowercase hex key id>+<base64(type ‖ public key)>``.

        The type byte must be 0x04 (Ed25519) or 0x06 (ML-DSA-44); an Ed25519 key must pass the
        strict key rule (docs/SPEC.md §2.1); the key id must match.

        Raises:
            CosignatureError: anything else.
        """
        if not isinstance(vkey, str):
            raise CosignatureError(f"a cosigner vkey must be a string, not {type(vkey).__name__}")
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise CosignatureError(f"cosigner vkey {vkey[:100]!r} is not <name>+<key id>+<key>")
        name, id_hex, key_text = parts
        _name(name)
        if len(id_hex) != 8 or not set(id_hex) <= _HEX_KEY_ID:
            raise CosignatureError(f"cosigner key id {id_hex[:20]!r} is not 8 lowercase hex digits")
        try:
            data = _b64decode(key_text, "cosigner vkey data")
        except CheckpointError as exc:
            raise CosignatureError(exc.what) from exc
        if not data or data[0] not in _TYPES:
            got = f"0x{data[0]:02x}" if data else "nothing"
            raise CosignatureError(
                f"cosigner vkey {name!r} has signature type {got}, not 0x04 (Ed25519 "
                "cosignature/v1) or 0x06 (ML-DSA-44 subtree/v1)"
            )
        return cls(name, CosignatureType(data[0]), data[1:], bytes.fromhex(id_hex))

    def vkey(self) -> str:
        """The verifier key string."""
        data = bytes([self.kind]) + self.public_key
        return f"{self.name}+{self.key_id.hex()}+{_b64encode(data)}"

    def verify(self, text: bytes, signature: bytes) -> int:
        """Verify one cosignature (the bytes after the key id) over a checkpoint's note text.

        Args:
            text: the checkpoint note text.
            signature: ``timestamp (8 bytes, big-endian) ‖ signature``.

        Returns:
            The cosignature's timestamp.

        Raises:
            CosignatureError: wrong length, timestamp over 2^63 - 1, a text that is not a
                checkpoint (ML-DSA-44), or a signature that does not verify.
        """
        expected = _TIMESTAMP_SIZE + self.kind.signature_size
        if len(signature) != expected:
            raise CosignatureError(
                f"a {self.kind.label} cosignature is {expected} bytes after the key id, "
                f"got {len(signature)}"
            )
        (timestamp,) = struct.unpack(">Q", signature[:_TIMESTAMP_SIZE])
        message = _message(self.kind, self.name, text, timestamp)
        raw = signature[_TIMESTAMP_SIZE:]
        if self._ed25519 is not None:
            try:
                self._ed25519.verify(raw, message)
            except keys.InvalidSignatureError as exc:
                raise CosignatureError(
                    f"cosignature by {self.name}+{self.key_id.hex()} does not verify: {exc}"
                ) from exc
        else:
            assert self._mldsa is not None  # noqa: S101 -- set in __post_init__ for ML-DSA-44
            try:
                self._mldsa.verify(raw, message)
            except InvalidSignature as exc:
                raise CosignatureError(
                    f"cosignature by {self.name}+{self.key_id.hex()} does not verify (ML-DSA-44)"
                ) from exc
        return int(timestamp)


class CosignerSigner:
    """A cosigner's private key (Ed25519 or ML-DSA-44) under its name; makes cosignature lines."""

    __slots__ = ("_ed25519", "_mldsa", "_verifier")

    _ed25519: keys.PrivateKey | None
    _mldsa: mldsa.MLDSA44PrivateKey | None
    _verifier: CosignerKey

    def __init__(self, name: str, key: keys.PrivateKey | mldsa.MLDSA44PrivateKey) -> None:
        """Wrap a key under a cosigner name.

        Raises:
            CosignatureError: the name is not a valid key name or the key is of another type.
        """
        if isinstance(key, keys.PrivateKey):
            self._ed25519, self._mldsa = key, None
            self._verifier = CosignerKey.for_key(name, CosignatureType.ED25519, key.public_key.raw)
        elif isinstance(key, mldsa.MLDSA44PrivateKey):
            self._ed25519, self._mldsa = None, key
            raw = key.public_key().public_bytes_raw()
            self._verifier = CosignerKey.for_key(name, CosignatureType.MLDSA44, raw)
        else:
            raise CosignatureError(f"a cosigner key is Ed25519 or ML-DSA-44, not {type(key)}")

    @classmethod
    def mldsa44_from_seed(cls, name: str, seed: bytes) -> CosignerSigner:
        """An ML-DSA-44 cosigner from its 32-byte FIPS 204 seed (fixed test and vector keys).

        Raises:
            CosignatureError: the seed is not 32 bytes or the name is refused.
        """
        if not isinstance(seed, bytes) or len(seed) != MLDSA44_SEED_SIZE:
            raise CosignatureError(f"an ML-DSA-44 seed is {MLDSA44_SEED_SIZE} bytes")
        return cls(name, mldsa.MLDSA44PrivateKey.from_seed_bytes(seed))

    def __repr__(self) -> str:
        v = self._verifier
        return f"CosignerSigner({v.name!r}, {v.kind.label}, key_id={v.key_id.hex()})"

    @property
    def verifier(self) -> CosignerKey:
        """The matching public key."""
        return self._verifier

    def sign(self, text: bytes, timestamp: int) -> bytes:
        """The cosignature (``timestamp ‖ signature``, without key id) over a note text.

        ML-DSA-44 signing is randomized (hedged, FIPS 204): two calls give different bytes,
        both valid. Ed25519 is deterministic.

        Raises:
            CosignatureError: the timestamp is out of range, or (ML-DSA-44) the text is not a
                checkpoint or its origin is longer than 255 bytes.
        """
        message = _message(self._verifier.kind, self._verifier.name, text, timestamp)
        if self._ed25519 is not None:
            raw = self._ed25519.sign(message)
        else:
            assert self._mldsa is not None  # noqa: S101 -- set in __init__ for ML-DSA-44
            raw = self._mldsa.sign(message)
        return struct.pack(">Q", timestamp) + raw


def cosign(note: bytes, signer: CosignerSigner, timestamp: int) -> bytes:
    """One cosignature line for a signed checkpoint note (its signatures are not checked here).

    Args:
        note: a signed checkpoint note (the witness has verified the log's signature).
        signer: the cosigner.
        timestamp: POSIX seconds of signing; a witness must not use 0.

    Returns:
        ``— <cosigner name> <base64(key id ‖ timestamp ‖ signature)>\\n``.

    Raises:
        CheckpointError: the note is malformed (a :class:`CosignatureError` for cosigning
            problems).
    """
    text, _lines = parse_note(note)
    Checkpoint.parse_body(text)
    v = signer.verifier
    return note_signature_line(v.name, v.key_id, signer.sign(text, timestamp))


def cosign_subtree(
    signer: CosignerSigner, origin: str, start: int, end: int, subtree_hash: bytes
) -> bytes:
    """An ML-DSA-44 ``subtree/v1`` cosignature line for subtree ``[start, end)`` of a log.

    Its timestamp is 0 (tlog-witness ``sign-subtree``): it states only that the subtree is
    consistent with everything the cosigner saw of the log, not that it is the latest.

    Raises:
        CosignatureError: the signer is not ML-DSA-44, or the message is refused
            (:func:`subtree_v1_message`).
    """
    v = signer.verifier
    if v.kind is not CosignatureType.MLDSA44:
        raise CosignatureError("only ML-DSA-44 (subtree/v1) cosignatures cover subtrees")
    message = subtree_v1_message(v.name, 0, origin, start, end, subtree_hash)
    assert signer._mldsa is not None  # noqa: S101 -- an ML-DSA-44 signer holds its key
    raw = struct.pack(">Q", 0) + signer._mldsa.sign(message)
    return note_signature_line(v.name, v.key_id, raw)


def verify_subtree_cosignature(
    line: bytes, key: CosignerKey, origin: str, start: int, end: int, subtree_hash: bytes
) -> int:
    """Verify one signature line as ``key``'s ``subtree/v1`` cosignature of ``[start, end)``.

    Returns:
        Its timestamp (0 for a subtree cosignature; the checkpoint time if ``start`` is 0 and the
        cosigner stated one).

    Raises:
        CosignatureError: the line is malformed or from another key, or does not verify.
    """
    if key.kind is not CosignatureType.MLDSA44:
        raise CosignatureError("only ML-DSA-44 (subtree/v1) cosignatures cover subtrees")
    try:
        _text, lines = parse_note(b"x\n\n" + line)
    except CheckpointError as exc:
        raise CosignatureError(f"malformed cosignature line: {exc.what}") from exc
    if len(lines) != 1 or (lines[0].name, lines[0].key_id) != (key.name, key.key_id):
        raise CosignatureError(f"not one cosignature line by {key.name}+{key.key_id.hex()}")
    sig = lines[0].signature
    if len(sig) != _TIMESTAMP_SIZE + MLDSA44_SIGNATURE_SIZE:
        raise CosignatureError("an ML-DSA-44 cosignature is 2428 bytes after the key id")
    (timestamp,) = struct.unpack(">Q", sig[:_TIMESTAMP_SIZE])
    message = subtree_v1_message(key.name, timestamp, origin, start, end, subtree_hash)
    assert key._mldsa is not None  # noqa: S101 -- an ML-DSA-44 key holds its verifier
    try:
        key._mldsa.verify(sig[_TIMESTAMP_SIZE:], message)
    except InvalidSignature as exc:
        raise CosignatureError(
            f"subtree cosignature by {key.name}+{key.key_id.hex()} does not verify"
        ) from exc
    return int(timestamp)


def add_cosignatures(note: bytes, lines: Iterable[bytes]) -> bytes:
    """The note with signature lines appended (a witness's answer concatenated to it).

    Raises:
        CheckpointError: the result is not a well-formed note.
    """
    out = note + b"".join(lines)
    parse_note(out)
    return out


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A cosignature that verified.

    Attributes:
        key: the cosigner key it verified under.
        timestamp: the time it states (POSIX seconds).
    """

    key: CosignerKey
    timestamp: int


@dataclass(frozen=True, slots=True)
class CosignedCheckpoint:
    """A checkpoint with the cosignatures on it that verified under the keys asked for.

    Attributes:
        checkpoint: the checkpoint body (its log signature is checked elsewhere).
        cosignatures: one per cosigner key that signed, in the order the keys were given.
    """

    checkpoint: Checkpoint
    cosignatures: tuple[Cosignature, ...]


def verify_cosignature(note: bytes, key: CosignerKey) -> CosignedCheckpoint:
    """Verify the cosignature of ``key`` on a checkpoint note.

    Lines of other keys (another name or key id) are ignored; every line with the key's name
    *and* key id must verify (a failing one refuses the note, as for the log's own signature),
    and there must be at least one. This does not check the log's signature:
    :func:`attest.policy.verify_policy` checks both.

    Returns:
        The checkpoint and the cosignature (the latest timestamp, if there are several lines).

    Raises:
        CheckpointError: the note or its text is malformed; :class:`CosignatureError` if the
            cosignature is missing or does not verify.
    """
    text, lines = parse_note(note)
    cp = Checkpoint.parse_body(text)
    found = _verify_lines(text, lines, key)
    if found is None:
        raise CosignatureError(
            f"checkpoint has no cosignature by {key.name}+{key.key_id.hex()} "
            f"({key.kind.label}, among {len(lines)} signature line(s))"
        )
    return CosignedCheckpoint(cp, (Cosignature(key, found),))


def _verify_lines(text: bytes, lines: Iterable[NoteSignature], key: CosignerKey) -> int | None:
    """The latest timestamp among ``key``'s lines, all of which must verify; None if none."""
    latest: int | None = None
    for number, line in enumerate(lines, 1):
        if line.name != key.name or line.key_id != key.key_id:
            continue
        try:
            ts = key.verify(text, line.signature)
        except CosignatureError as exc:
            raise CosignatureError(f"signature line {number}: {exc.what}") from exc
        latest = ts if latest is None else max(latest, ts)
    return latest
