"""The pure core: statements, canonical JSON, DSSE, the chain rule, Merkle math, checkpoints.

Bytes and times go in, verified values come out; nothing here does I/O or reads a clock. Every
failed trust check raises :class:`~attest.errors.VerificationError` (see :mod:`attest.errors`).
The byte formats are specified in ``docs/SPEC.md``.
"""

from attest.build import make_statement, sign_statement
from attest.bundle import (
    BUNDLE_FORMAT,
    MAX_BUNDLE_BYTES,
    Bundle,
    BundleEntry,
    VerifiedRecord,
    verify_bundle,
)
from attest.canonical import JSONValue
from attest.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    sign_checkpoint,
    verify_checkpoint,
)
from attest.dsse import PAYLOAD_TYPE, Envelope, sign_envelope
from attest.entry import LogEntry, entry_hash, genesis_prev, leaf_data
from attest.errors import (
    AttestError,
    ChainError,
    CheckpointError,
    DanglingReferenceError,
    EncodingError,
    EngagementError,
    NotAuthorisedError,
    OutOfScopeError,
    ProofError,
    RevokedKeyError,
    SchemaError,
    SignatureError,
    UnknownKeyError,
    VerificationError,
)
from attest.merkle import (
    MemoryTree,
    MerkleFrontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from attest.rules import LogState, Placed, Signed, open_envelope, open_genesis, replay
from attest.statements import REGISTRY_STREAM, Kind, Statement, parse_statement
from attest.verify import LogVerifier, VerifiedLog, log_note_verifier, verify_log_checkpoint

__all__ = [
    "BUNDLE_FORMAT",
    "MAX_BUNDLE_BYTES",
    "PAYLOAD_TYPE",
    "REGISTRY_STREAM",
    "AttestError",
    "Bundle",
    "BundleEntry",
    "ChainError",
    "Checkpoint",
    "CheckpointError",
    "DanglingReferenceError",
    "EncodingError",
    "EngagementError",
    "Envelope",
    "JSONValue",
    "Kind",
    "LogEntry",
    "LogState",
    "LogVerifier",
    "MemoryTree",
    "MerkleFrontier",
    "NotAuthorisedError",
    "NoteSigner",
    "NoteVerifier",
    "OutOfScopeError",
    "Placed",
    "ProofError",
    "RevokedKeyError",
    "SchemaError",
    "SignatureError",
    "Signed",
    "Statement",
    "UnknownKeyError",
    "VerificationError",
    "VerifiedLog",
    "VerifiedRecord",
    "consistency_proof",
    "entry_hash",
    "genesis_prev",
    "inclusion_proof",
    "leaf_data",
    "leaf_hash",
    "log_note_verifier",
    "make_statement",
    "open_envelope",
    "open_genesis",
    "parse_statement",
    "replay",
    "sign_checkpoint",
    "sign_envelope",
    "sign_statement",
    "verify_bundle",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_log_checkpoint",
]
