"""Single-entry proofs in the C2SP tlog-proof format (docs/SPEC.md §13).

A ``.tlog-proof`` file proves offline that one entry is in the log, under a checkpoint that
witnesses cosigned::

    c2sp.org/tlog-proof@v1
    extra <base64 of the entry's leaf data, SPEC §6.1>
    index <decimal>
    <base64 inclusion proof hash>          zero to 64 lines, leaf side first
                                           an empty line
    <the checkpoint note, verbatim: the log's signature and the witnesses' cosignatures>

The tlog-proof ``extra`` line carries what the verifier needs to rebuild the leaf hash: for
claimledger, the whole leaf data (index, stream, position, log time, entry hash and state root).
:func:`tlog_proof` writes the bytes, :func:`parse_tlog_proof` reads them strictly (canonical or
reject), :func:`verify_tlog_proof` checks them against a policy and, given the entry's envelope,
that the proof is about that envelope. Errors (all :class:`~attest.errors.VerificationError`)::

    EncodingError     the file is malformed (framing, base64, leaf data, index mismatch)
    CheckpointError   the note is malformed or not signed by an accepted log
    CosignatureError  a cosignature from a policy witness does not verify
    QuorumError       the cosignatures do not meet the policy's quorum
    ProofError        the inclusion proof does not lead to the checkpoint's root, or the
                      envelope given is not the entry the leaf names
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from attest.checkpoint import NoteVerifier, parse_note
from attest.dsse import Envelope
from attest.entry import Leaf, entry_hash, parse_leaf_data
from attest.errors import EncodingError, ProofError
from attest.merkle import verify_inclusion
from attest.policy import Policy, VerifiedCheckpoint, verify_policy
from attest.tlogwitness import lines_and_note

__all__ = [
    "HEADER",
    "MAX_PROOF_HASHES",
    "MAX_TLOG_PROOF_SIZE",
    "TlogProof",
    "VerifiedTlogProof",
    "parse_tlog_proof",
    "tlog_proof",
    "verify_tlog_proof",
]

HEADER = "c2sp.org/tlog-proof@v1"
"""The first line of every tlog-proof."""

MAX_PROOF_HASHES = 64
"""An inclusion proof has at most 64 hashes (SPEC §6)."""

MAX_TLOG_PROOF_SIZE = (1 << 20) + 8192
"""A proof file: a note of at most 1 MiB (SPEC §7.2), the leaf data and the proof lines."""

_INDEX_RE = re.compile(r"index (0|[1-9][0-9]{0,19})")


@dataclass(frozen=True, slots=True)
class TlogProof:
    """A parsed tlog-proof (nothing verified yet).

    Attributes:
        leaf: the entry's leaf data (the ``extra`` line).
        index: the entry's index (the ``index`` line, equal to the leaf's).
        proof: the inclusion proof, leaf side first.
        note: the checkpoint note, verbatim.
    """

    leaf: Leaf
    index: int
    proof: tuple[bytes, ...]
    note: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def tlog_proof(leaf: bytes, proof: Sequence[bytes], note: bytes) -> bytes:
    """The tlog-proof bytes of one entry: its leaf data, its inclusion proof and a checkpoint.

    Raises:
        EncodingError: the leaf data is malformed, a proof hash is not 32 bytes, or the proof
            has more than 64 hashes.
        CheckpointError: ``note`` is not a signed note.
    """
    parsed = parse_leaf_data(leaf)
    if len(proof) > MAX_PROOF_HASHES:
        raise EncodingError(f"an inclusion proof of {len(proof)} hashes is too long")
    if any(not isinstance(h, bytes) or len(h) != 32 for h in proof):
        raise EncodingError("inclusion proof hashes are 32 bytes")
    parse_note(note)
    lines = [HEADER, f"extra {_b64(leaf)}", f"index {parsed.index}", *map(_b64, proof)]
    return ("".join(line + "\n" for line in lines) + "\n").encode("ascii") + note


def _canonical_b64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise EncodingError(f"{what} is not base64") from exc
    if _b64(data) != text:
        raise EncodingError(f"{what} is not canonical padded base64")
    return data


def parse_tlog_proof(data: bytes) -> TlogProof:
    """Parse a tlog-proof strictly (claimledger requires the ``extra`` line: the leaf data).

    Raises:
        EncodingError: the framing, a base64 line, the leaf data or the index is malformed, or
            the index line differs from the leaf's index.
        CheckpointError: the note is malformed.
    """
    head, note = lines_and_note(data, max_size=MAX_TLOG_PROOF_SIZE, what="tlog-proof")
    if head[0] != HEADER:
        raise EncodingError(f"the first line is not {HEADER!r}: {head[0][:40]!r}")
    if len(head) < 3 or not head[1].startswith("extra "):
        raise EncodingError("no 'extra' line: claimledger proofs carry the entry's leaf data")
    leaf = parse_leaf_data(_canonical_b64(head[1][len("extra ") :], "the extra line"))
    match = _INDEX_RE.fullmatch(head[2])
    if match is None or int(match.group(1)) >= 1 << 64:
        raise EncodingError(f"the third line is not 'index <decimal>': {head[2][:40]!r}")
    index = int(match.group(1))
    if index != leaf.index:
        raise EncodingError(f"index {index} is not the leaf's index {leaf.index}")
    lines = head[3:]
    if len(lines) > MAX_PROOF_HASHES:
        raise EncodingError(f"more than {MAX_PROOF_HASHES} proof lines")
    proof = tuple(_canonical_b64(line, f"proof line {i}") for i, line in enumerate(lines, 1))
    if any(len(h) != 32 for h in proof):
        raise EncodingError("a proof line is not the base64 of a 32-byte hash")
    parse_note(note)
    return TlogProof(leaf, index, proof, note)


@dataclass(frozen=True, slots=True)
class VerifiedTlogProof:
    """A verified single-entry proof.

    Attributes:
        leaf: the entry's place in the log: index, stream, position, log time, entry hash and
            the state root after it.
        witnessed: the checkpoint, its log key and the witnesses that cosigned it.
    """

    leaf: Leaf
    witnessed: VerifiedCheckpoint


def verify_tlog_proof(
    data: bytes,
    policy: Policy,
    *,
    logs: Iterable[NoteVerifier] = (),
    envelope: bytes | None = None,
) -> VerifiedTlogProof:
    """Verify a tlog-proof: the checkpoint under ``policy``, then the leaf's inclusion in it.

    Args:
        data: the ``.tlog-proof`` bytes.
        policy: the logs and witnesses trusted, and the quorum.
        logs: log keys known from context, accepted besides the policy's ``log`` lines.
        envelope: the entry's DSSE envelope (stored form or any layout): if given, its entry
            hash (SPEC §5.1) must be the one the leaf names.

    Returns:
        The leaf and the witnessed checkpoint.

    Raises:
        EncodingError, CheckpointError, CosignatureError, QuorumError, ProofError: see the
            module docstring.
    """
    parsed = parse_tlog_proof(data)
    witnessed = verify_policy(parsed.note, policy, logs=logs)
    cp = witnessed.checkpoint
    if parsed.index >= cp.size:
        raise ProofError(
            f"index {parsed.index} is not in the checkpoint's tree of size {cp.size}",
            index=parsed.index,
        )
    verify_inclusion(parsed.leaf.leaf_hash(), parsed.index, cp.size, parsed.proof, cp.root)
    if envelope is not None:
        got = entry_hash(Envelope.parse(envelope))
        if got != parsed.leaf.entry_hash:
            raise ProofError(
                f"the envelope's entry hash {got.hex()} is not the entry hash "
                f"{parsed.leaf.entry_hash.hex()} of the proof's leaf (index {parsed.index})",
                index=parsed.index,
            )
    return VerifiedTlogProof(parsed.leaf, witnessed)
