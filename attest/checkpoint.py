"""C2SP signed notes and tlog-checkpoints, signed with the log's Ed25519 key (docs/SPEC.md §7).

A checkpoint is the log's signed statement "the tree of ``size`` leaves has root ``root``". Its
body is the C2SP ``tlog-checkpoint`` text; it travels as a C2SP ``signed-note``::

    <origin>\\n<size>\\n<base64 root>\\n[<extension line>\\n ...]
    \\n
    — <key name> <base64(key id (4 bytes) ‖ Ed25519 signature (64 bytes))>\\n

Parsing is strict ("canonical or reject"): valid UTF-8, no control characters but newline,
standard padded base64 whose re-encoding is identical, decimal sizes without leading zeros. Every
signature line must be well formed, but lines from keys other than the verifier's (a different
name or key id) are ignored, as the spec requires; a line with the verifier's name *and* key id
must verify, or the whole note is refused. Every failure raises
:class:`~attest.errors.CheckpointError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

import keys
from attest.errors import CheckpointError

__all__ = [
    "ED25519_SIGNATURE_TYPE",
    "MAX_NOTE_SIGNATURES",
    "MAX_NOTE_SIZE",
    "Checkpoint",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "note_key_id",
    "note_signature_line",
    "parse_note",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_note",
]

ED25519_SIGNATURE_TYPE = 0x01
"""The C2SP signed-note signature type byte of Ed25519."""

MAX_NOTE_SIGNATURES = 64
"""Notes with more signature lines are refused (C2SP requires accepting at least 16)."""

MAX_NOTE_SIZE = 1 << 20
"""Notes longer than this many bytes (1 MiB) are refused before parsing."""

_KEY_ID_SIZE = 4
_HASH_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64
_MAX_TREE_SIZE = 1 << 64
_SIG_PREFIX = "\u2014 "  # em dash, space
_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,19}")
_KEY_ID_HEX_RE = re.compile(r"[0-9a-f]{8}")
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f]")


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64 with padding: the text must be the re-encoding of its bytes."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise CheckpointError(f"{what} is not valid base64: {text[:100]!r}") from exc
    if _b64encode(data) != text:
        raise CheckpointError(f"{what} is not canonical padded standard base64: {text[:100]!r}")
    return data


def _decode_text(data: bytes, what: str) -> str:
    if not isinstance(data, bytes):
        raise CheckpointError(f"{what} must be bytes, not {type(data).__name__}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{what} is not valid UTF-8 (byte {exc.start})") from exc
    bad = _CONTROL_RE.search(text)
    if bad is not None:
        raise CheckpointError(
            f"{what} contains the control character U+{ord(bad.group()):04X} at character "
            f"{bad.start()}; only newline is allowed"
        )
    if not text.endswith("\n"):
        raise CheckpointError(f"{what} does not end with a newline")
    return text


def _check_key_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise CheckpointError("a note key name must be a non-empty string")
    if any(ch.isspace() or ch == "+" for ch in name) or _CONTROL_RE.search(name):
        raise CheckpointError(
            f"note key name {name!r} contains a space, a plus sign or a control character"
        )
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CheckpointError(f"note key name {name!r} is not encodable as UTF-8") from exc


def note_key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte C2SP key id of an Ed25519 note key.

    ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public_key)[:4]``, where ``public_key`` is the 32 raw bytes.

    Raises:
        CheckpointError: the name is not a valid note key name.
    """
    _check_key_name(name)
    preimage = name.encode("utf-8") + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + public_key
    return hashlib.sha256(preimage).digest()[:_KEY_ID_SIZE]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body: the log's origin, a tree size and its root hash.

    Attributes:
        origin: the log's identity (first line); non-empty, no control characters.
        size: the number of leaves, ``0 <= size < 2^64``.
        root: the 32-byte RFC 9162 root hash of the first ``size`` leaves.
        extensions: opaque non-empty extension lines, kept as read (claimledger writes none).
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError("checkpoint origin must be a non-empty string")
        if "\n" in self.origin or _CONTROL_RE.search(self.origin):
            raise CheckpointError(f"checkpoint origin {self.origin!r} contains a control character")
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or not 0 <= self.size < _MAX_TREE_SIZE
        ):
            raise CheckpointError(f"checkpoint tree size must be in [0, 2^64), got {self.size!r}")
        if not isinstance(self.root, bytes) or len(self.root) != _HASH_SIZE:
            got = len(self.root) if isinstance(self.root, bytes) else type(self.root).__name__
            raise CheckpointError(f"checkpoint root hash must be {_HASH_SIZE} bytes, got {got}")
        if not isinstance(self.extensions, tuple):
            raise CheckpointError("checkpoint extensions must be a tuple of strings")
        for line in self.extensions:
            if not isinstance(line, str) or not line:
                raise CheckpointError("checkpoint extension lines must be non-empty strings")
            if "\n" in line or _CONTROL_RE.search(line):
                raise CheckpointError(
                    f"checkpoint extension line {line!r} contains a control character"
                )

    def body(self) -> bytes:
        """The note text: origin, size, base64 root and extension lines, each ending in ``\\n``."""
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines).encode("utf-8")

    @classmethod
    def parse_body(cls, text: bytes) -> Checkpoint:
        """Parse a checkpoint body strictly (the text of a verified note).

        Args:
            text: the note text, ending in a newline.

        Returns:
            The checkpoint; its :meth:`body` is byte for byte ``text``.

        Raises:
            CheckpointError: the text is not a well-formed checkpoint body.
        """
        lines = _decode_text(text, "checkpoint body")[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(
                f"checkpoint body has {len(lines)} line(s); it needs origin, size and root hash"
            )
        origin, size_text, root_text, *extensions = lines
        if not origin:
            raise CheckpointError("checkpoint origin line is empty")
        if _SIZE_RE.fullmatch(size_text) is None:
            raise CheckpointError(
                f"checkpoint tree size {size_text[:40]!r} is not a decimal number without "
                "leading zeros"
            )
        size = int(size_text)
        if size >= _MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint tree size {size} is not below 2^64")
        root = _b64decode(root_text, "checkpoint root hash")
        if len(root) != _HASH_SIZE:
            raise CheckpointError(f"checkpoint root hash is {len(root)} bytes, not {_HASH_SIZE}")
        for i, line in enumerate(extensions):
            if not line:
                raise CheckpointError(f"checkpoint extension line {i + 1} is empty")
        return cls(origin, size, root, tuple(extensions))


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A note verifier key: name, Ed25519 public key and the key id derived from both.

    Attributes:
        name: the key name in signature lines (for the log: its origin).
        key: the Ed25519 public key.
        key_id: the 4-byte key id, :func:`note_key_id` of name and key (checked when built).
    """

    name: str
    key: keys.PublicKey
    key_id: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.key, keys.PublicKey):
            raise CheckpointError(f"a note verifier needs a keys.PublicKey, not {self.key!r}")
        expected = note_key_id(self.name, self.key.raw)
        if self.key_id != expected:
            raise CheckpointError(
                f"key id {bytes(self.key_id).hex()} of note key {self.name!r} does not match its "
                f"name and public key (expected {expected.hex()})"
            )

    @classmethod
    def for_key(cls, name: str, key: keys.PublicKey) -> NoteVerifier:
        """The verifier of ``key`` under ``name``, with its key id computed.

        Raises:
            CheckpointError: the name is not a valid note key name.
        """
        return cls(name, key, note_key_id(name, key.raw))

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse a verifier key string ``<name>+<8 hex key id>+<base64(0x01 ‖ public key)>``.

        The key id must be lowercase hex and must match the name and key.

        Raises:
            CheckpointError: the string is malformed, names another signature type, holds a key
                the strict key rule refuses, or its key id does not match.
        """
        if not isinstance(vkey, str):
            raise CheckpointError(f"a verifier key must be a string, not {type(vkey).__name__}")
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise CheckpointError(f"verifier key {vkey[:100]!r} is not <name>+<key id>+<key>")
        name, id_hex, key_text = parts
        _check_key_name(name)
        if _KEY_ID_HEX_RE.fullmatch(id_hex) is None:
            raise CheckpointError(f"verifier key id {id_hex!r} is not 8 lowercase hex digits")
        data = _b64decode(key_text, "verifier key data")
        if len(data) != 33 or data[0] != ED25519_SIGNATURE_TYPE:
            raise CheckpointError(
                "verifier key data must be 0x01 (Ed25519) followed by a 32-byte public key"
            )
        try:
            key = keys.PublicKey.from_raw(data[1:])
        except keys.KeyFormatError as exc:
            raise CheckpointError(f"verifier key {name!r} holds a refused key: {exc}") from exc
        return cls(name, key, bytes.fromhex(id_hex))

    def vkey(self) -> str:
        """The verifier key string ``<name>+<8 hex key id>+<base64(0x01 ‖ public key)>``."""
        data = bytes([ED25519_SIGNATURE_TYPE]) + self.key.raw
        return f"{self.name}+{self.key_id.hex()}+{_b64encode(data)}"


@dataclass(frozen=True, slots=True)
class NoteSigner:
    """Signs notes with an Ed25519 private key under a key name.

    Attributes:
        name: the key name written in signature lines.
        key: the Ed25519 private key.
    """

    name: str
    key: keys.PrivateKey = field(repr=False)
    _verifier: NoteVerifier = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_verifier", NoteVerifier.for_key(self.name, self.key.public_key))

    @property
    def verifier(self) -> NoteVerifier:
        """The matching verifier."""
        return self._verifier

    def sign(self, text: bytes) -> bytes:
        """Sign ``text`` and return the whole note: text, blank line, one signature line.

        Args:
            text: UTF-8 text ending in a newline, with no control character but newline. It may
                contain blank lines: the last blank line of a note separates text and signatures.

        Returns:
            The signed note.

        Raises:
            CheckpointError: ``text`` is not valid note text.
        """
        _decode_text(text, "note text")
        line = note_signature_line(self.name, self._verifier.key_id, self.key.sign(text))
        return text + b"\n" + line


def note_signature_line(name: str, key_id: bytes, signature: bytes) -> bytes:
    """One signature line, ``— <name> <base64(key id ‖ signature)>\\n``, as UTF-8 bytes.

    Raises:
        CheckpointError: the name is not a valid note key name or the key id is not 4 bytes.
    """
    _check_key_name(name)
    if not isinstance(key_id, bytes) or len(key_id) != _KEY_ID_SIZE:
        raise CheckpointError(f"a note key id is {_KEY_ID_SIZE} bytes")
    return f"{_SIG_PREFIX}{name} {_b64encode(key_id + signature)}\n".encode()


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One parsed signature line of a note: key name, 4-byte key id and the signature bytes.

    ``signature`` is everything after the key id, unchecked: its layout depends on the signature
    type (64 bytes for Ed25519 notes; a timestamp and a signature for cosignatures).
    """

    name: str
    key_id: bytes
    signature: bytes


def parse_note(note: bytes) -> tuple[bytes, tuple[NoteSignature, ...]]:
    """Split a signed note into its text and its signature lines, checking only their form.

    Nothing is verified: callers match lines to the keys they know (:func:`verify_note`,
    :mod:`attest.cosignature`).

    Returns:
        The note text (ending in a newline, without the separating blank line) and every
        signature line, in order.

    Raises:
        CheckpointError: the note is malformed or over the limits (§7.2).
    """
    text, lines = _parse_note(note)
    return text, tuple(lines)


def _parse_note(note: bytes) -> tuple[bytes, list[NoteSignature]]:
    if not isinstance(note, bytes):
        raise CheckpointError(f"a signed note must be bytes, not {type(note).__name__}")
    if len(note) > MAX_NOTE_SIZE:
        raise CheckpointError(f"signed note is {len(note)} bytes, more than {MAX_NOTE_SIZE}")
    _decode_text(note, "signed note")
    # The last blank line separates text and signatures: the text may contain blank lines, the
    # signature block cannot. "\n\n" is ASCII, so its byte and character offsets agree.
    split = note.rfind(b"\n\n")
    if split < 0:
        raise CheckpointError("signed note has no blank line before its signatures")
    block = note[split + 2 : -1].decode("utf-8")
    sig_lines = block.split("\n") if block else []
    if not sig_lines:
        raise CheckpointError("signed note has no signature lines")
    if len(sig_lines) > MAX_NOTE_SIGNATURES:
        raise CheckpointError(
            f"signed note has {len(sig_lines)} signature lines, more than {MAX_NOTE_SIGNATURES}"
        )
    parsed = []
    for number, line in enumerate(sig_lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError(
                f"signature line {number} does not start with an em dash and a space"
            )
        fields = line[len(_SIG_PREFIX) :].split(" ")
        if len(fields) != 2:
            raise CheckpointError(f"signature line {number} is not '— <key name> <signature>'")
        name, sig_text = fields
        try:
            _check_key_name(name)
        except CheckpointError as exc:
            raise CheckpointError(f"signature line {number}: {exc.what}") from exc
        blob = _b64decode(sig_text, f"signature line {number}")
        if len(blob) <= _KEY_ID_SIZE:
            raise CheckpointError(f"signature line {number} holds a key id but no signature")
        parsed.append(NoteSignature(name, blob[:_KEY_ID_SIZE], blob[_KEY_ID_SIZE:]))
    return note[: split + 1], parsed


def verify_note(note: bytes, verifier: NoteVerifier) -> bytes:
    """Verify a C2SP signed note against one known key and return its text.

    Signature lines from other keys (another name or key id) are ignored. Every line with the
    verifier's name and key id must verify, and there must be at least one.

    Args:
        note: the whole signed note.
        verifier: the expected signer.

    Returns:
        The verified note text (ending in a newline, without the separating blank line).

    Raises:
        CheckpointError: the note is malformed or over the limits, a signature line from the
            verifier's key does not verify, or there is none.
    """
    text, lines = _parse_note(note)
    verified = 0
    for number, line in enumerate(lines, 1):
        if line.name != verifier.name or line.key_id != verifier.key_id:
            continue
        try:
            verifier.key.verify(line.signature, text)
        except keys.InvalidSignatureError as exc:
            raise CheckpointError(
                f"signature line {number} by {verifier.name}+{verifier.key_id.hex()} does not "
                f"verify: {exc}"
            ) from exc
        verified += 1
    if not verified:
        raise CheckpointError(
            f"signed note has no signature by {verifier.name}+{verifier.key_id.hex()} "
            f"(among {len(lines)} signature line(s))"
        )
    return text


def sign_checkpoint(cp: Checkpoint, signer: NoteSigner) -> bytes:
    """The checkpoint as a signed note: :meth:`Checkpoint.body` signed by ``signer``.

    By claimledger convention (C2SP's SHOULD) the signer's key name is the checkpoint origin;
    :func:`verify_checkpoint` expects that unless told another origin.
    """
    return signer.sign(cp.body())


def verify_checkpoint(
    note: bytes, verifier: NoteVerifier, *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint and return it.

    Args:
        note: the signed note.
        verifier: the log's note key.
        origin: the expected origin line; by default the verifier's key name.

    Returns:
        The verified checkpoint.

    Raises:
        CheckpointError: the note does not verify (:func:`verify_note`), its text is not a
            well-formed checkpoint, or its origin is not the expected one.
    """
    cp = Checkpoint.parse_body(verify_note(note, verifier))
    expected = verifier.name if origin is None else origin
    if cp.origin != expected:
        raise CheckpointError(f"checkpoint origin is {cp.origin!r}, expected {expected!r}")
    return cp
