"""The C2SP tlog-witness message bytes, for both sides (docs/SPEC.md §12.7).

A log asks a witness to cosign with ``POST <prefix>/add-checkpoint`` and this body::

    old <size>\\n
    <base64 consistency proof hash>\\n      zero to 63 lines
    \\n
    <the signed checkpoint note>

The witness answers 200 with cosignature lines, or 409 with its latest size (``<size>\\n``,
``Content-Type: text/x.tlog.size``). :func:`add_checkpoint_body` builds the body and
:func:`parse_add_checkpoint` reads it strictly (the witness uses it); likewise
:func:`sign_subtree_body` and :func:`parse_sign_subtree` for the optional ``sign-subtree`` call
(``subtree <start> <end>``, the subtree hash, proof lines, an empty line, the witness-cosigned
reference checkpoint). :func:`parse_size` reads a 409 body; :func:`parse_cosignature_lines`
checks a 200 body before a log appends it to its note.

Errors: :class:`~attest.errors.EncodingError` for framing, :class:`~attest.errors.CheckpointError`
for the note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from attest.checkpoint import Checkpoint, NoteSignature, parse_note
from attest.errors import CheckpointError, EncodingError
from attest.subtree import is_valid_subtree

__all__ = [
    "MAX_ADD_CHECKPOINT_SIZE",
    "MAX_PROOF_LINES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "SignSubtree",
    "add_checkpoint_body",
    "lines_and_note",
    "origin_hash",
    "parse_add_checkpoint",
    "parse_cosignature_lines",
    "parse_sign_subtree",
    "parse_size",
    "sign_subtree_body",
]

MAX_PROOF_LINES = 63
"""A client must not send more consistency proof lines (a proof has at most 63 hashes)."""

MAX_ADD_CHECKPOINT_SIZE = (1 << 20) + 4096
"""A body: a note of at most 1 MiB (SPEC §7.2), the old size line and the proof lines."""

SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""The content type of a 409 answer."""

_SIZE = r"(0|[1-9][0-9]{0,19})"
_OLD_RE = re.compile(f"old {_SIZE}")
_SUBTREE_RE = re.compile(f"subtree {_SIZE} {_SIZE}")
_SUBTREE_RE = re.compile(f"subtree {_SIZE} {_SIZE}")
_SIZE_BODY_RE = re.compile(f"{_SIZE}\n")


def origin_hash(origin: str) -> str:
    """The lowercase hex SHA-256 of an origin line: its name in the monitoring API's paths."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """A parsed add-checkpoint body (nothing verified yet).

    Attributes:
        old: the size of the latest checkpoint the log believes the witness cosigned.
        proof: the consistency proof from ``old`` to the checkpoint's size.
        note: the signed checkpoint note, as sent.
        text: the note's text.
        checkpoint: the checkpoint parsed from ``text``.
    """

    old: int
    proof: tuple[bytes, ...]
    note: bytes
    text: bytes
    checkpoint: Checkpoint


def add_checkpoint_body(old: int, proof: Sequence[bytes], note: bytes) -> bytes:
    """The add-checkpoint request body.

    Raises:
        EncodingError: ``old`` is not a u64, the proof has more than 63 hashes or one is not
            32 bytes.
        CheckpointError: ``note`` is not a signed checkpoint note.
    """
    if isinstance(old, bool) or not isinstance(old, int) or not 0 <= old < 1 << 64:
        raise EncodingError(f"old size must be a u64, got {old!r}")
    if len(proof) > MAX_PROOF_LINES:
        raise EncodingError(f"a proof of {len(proof)} hashes is longer than {MAX_PROOF_LINES}")
    if any(not isinstance(h, bytes) or len(h) != 32 for h in proof):
        raise EncodingError("consistency proof hashes are 32 bytes")
    text, _ = parse_note(note)
    Checkpoint.parse_body(text)
    lines = [f"old {old}", *(base64.b64encode(h).decode("ascii") for h in proof)]
    return ("".join(line + "\n" for line in lines) + "\n").encode("ascii") + note


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse an add-checkpoint body strictly (the first blank line ends the proof).

    Raises:
        EncodingError: the body is too large, or the old size or proof lines are malformed.
        CheckpointError: the note or its checkpoint text is malformed.
    """
    head, note = _head(body, 1 + MAX_PROOF_LINES)
    first, *proof_lines = head
    match = _OLD_RE.fullmatch(first)
    if match is None or int(match.group(1)) >= 1 << 64:
        raise EncodingError(f"first line {first[:40]!r} is not 'old <size>'")
    proof = tuple(_hash_line(line, f"proof line {i}") for i, line in enumerate(proof_lines, 1))
    text, _ = parse_note(note)
    return AddCheckpoint(int(match.group(1)), proof, note, text, Checkpoint.parse_body(text))


def _hash_line(line: str, what: str) -> bytes:
    # Canonical padded standard base64 of 32 bytes: 44 characters that re-encode the same.
    try:
        node = base64.b64decode(line, validate=True)
    except binascii.Error as exc:
        raise EncodingError(f"{what} is not base64") from exc
    if len(node) != 32 or base64.b64encode(node).decode("ascii") != line:
        raise EncodingError(f"{what} is not the base64 of a 32-byte hash")
    return node


def lines_and_note(data: bytes, *, max_size: int, what: str) -> tuple[list[str], bytes]:
    """Split a C2SP "lines, an empty line, a note" body (tlog-witness requests, tlog-proofs):
    the ASCII lines before the first empty line, and the note after it.

    Raises:
        EncodingError: not bytes, over ``max_size``, no empty line, or lines not ASCII.
    """
    if not isinstance(data, bytes):
        raise EncodingError(f"a {what} is bytes, not {type(data).__name__}")
    if len(data) > max_size:
        raise EncodingError(f"a {what} over {max_size} bytes")
    split = data.find(b"\n\n")
    if split < 0:
        raise EncodingError(f"the {what} has no empty line before the checkpoint")
    try:
        head = data[:split].decode("ascii").split("\n")
    except UnicodeDecodeError as exc:
        raise EncodingError("the lines before the checkpoint must be ASCII") from exc
    return head, data[split + 2 :]


def _head(body: bytes, max_lines: int) -> tuple[list[str], bytes]:
    head, note = lines_and_note(body, max_size=MAX_ADD_CHECKPOINT_SIZE, what="request body")
    if len(head) > max_lines:
        raise EncodingError(f"more than {MAX_PROOF_LINES} proof lines")
    return head, note


@dataclass(frozen=True, slots=True)
class SignSubtree:
    """A parsed sign-subtree body (nothing verified yet).

    Attributes:
        start: the subtree's first leaf.
        end: one past its last leaf.
        subtree_hash: its Merkle tree hash.
        proof: the subtree consistency proof to the reference checkpoint.
        note: the reference checkpoint note (with the witness's own cosignature).
        text: the note's text.
        checkpoint: the reference checkpoint.
    """

    start: int
    end: int
    subtree_hash: bytes
    proof: tuple[bytes, ...]
    note: bytes
    text: bytes
    checkpoint: Checkpoint


def sign_subtree_body(
    start: int, end: int, subtree_hash: bytes, proof: Sequence[bytes], note: bytes
) -> bytes:
    """The sign-subtree request body.

    Raises:
        EncodingError: not a subtree, a hash not 32 bytes, or more than 63 proof hashes.
        CheckpointError: ``note`` is not a signed checkpoint note.
    """
    if not is_valid_subtree(start, end):
        raise EncodingError(f"[{start}, {end}) is not a subtree")
    hashes = [subtree_hash, *proof]
    if any(not isinstance(h, bytes) or len(h) != 32 for h in hashes):
        raise EncodingError("subtree and proof hashes are 32 bytes")
    if len(proof) > MAX_PROOF_LINES:
        raise EncodingError(f"a proof of {len(proof)} hashes is longer than {MAX_PROOF_LINES}")
    text, _ = parse_note(note)
    Checkpoint.parse_body(text)
    lines = [f"subtree {start} {end}", *(base64.b64encode(h).decode("ascii") for h in hashes)]
    return ("".join(line + "\n" for line in lines) + "\n").encode("ascii") + note


def parse_sign_subtree(body: bytes) -> SignSubtree:
    """Parse a sign-subtree body strictly; the range must be a subtree within the checkpoint.

    Raises:
        EncodingError: the body is too large, the lines before the checkpoint are malformed,
            ``[start, end)`` is not a subtree, or ``end`` exceeds the checkpoint's size.
        CheckpointError: the note or its checkpoint text is malformed.
    """
    head, note = _head(body, 2 + MAX_PROOF_LINES)
    match = _SUBTREE_RE.fullmatch(head[0])
    if match is None or len(head) < 2:
        raise EncodingError(
            f"the first lines are not 'subtree <start> <end>' and a hash: {head[0][:60]!r}"
        )
    start, end = int(match.group(1)), int(match.group(2))
    if not is_valid_subtree(start, end):
        raise EncodingError(f"[{start}, {end}) is not a subtree")
    subtree_hash = _hash_line(head[1], "subtree hash line")
    proof = tuple(_hash_line(line, f"proof line {i}") for i, line in enumerate(head[2:], 1))
    text, _ = parse_note(note)
    cp = Checkpoint.parse_body(text)
    if end > cp.size:
        raise EncodingError(f"subtree end {end} is beyond the checkpoint's size {cp.size}")
    return SignSubtree(start, end, subtree_hash, proof, note, text, cp)


def parse_size(body: bytes) -> int:
    """The witness's latest size from a 409 body (``<decimal>\\n``).

    Raises:
        EncodingError: the body is not a decimal u64 and a newline.
    """
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise EncodingError("a text/x.tlog.size body is ASCII") from exc
    match = _SIZE_BODY_RE.fullmatch(text)
    if match is None or int(match.group(1)) >= 1 << 64:
        raise EncodingError(f"{text[:40]!r} is not a tree size and a newline")
    return int(match.group(1))


def parse_cosignature_lines(note: bytes, body: bytes) -> tuple[NoteSignature, ...]:
    """The signature lines of a 200 body, checked to form a valid note with ``note``.

    Nothing is verified: append the body to the note and verify the cosignatures of the
    witness keys you trust (:func:`attest.cosignature.verify_cosignature`,
    :func:`attest.policy.verify_policy`).

    Raises:
        CheckpointError: the body is empty or not signature lines, or the result is not a note.
    """
    if not body:
        raise CheckpointError("a witness answered 200 with no cosignature lines")
    text, before = parse_note(note)
    text_after, after = parse_note(note + body)
    if text_after != text:
        raise CheckpointError("a witness's answer is not only signature lines")
    return after[len(before) :]
