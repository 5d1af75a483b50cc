"""Client-side verification: the whole log, a company record, or a bundle; and what is trusted.

Everything is re-checked from bytes with :mod:`attest` (through ``ledger.verify_log`` for a whole
log, parallel when it is large; ``attest.bundle.verify_bundle`` for bundles). The caller's trust
store supplies the checkpoint verified before (``trusted``) and the pinned ledger fingerprint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from attest import (
    Checkpoint,
    CheckpointError,
    LogEntry,
    NoteVerifier,
    ProofError,
    log_note_verifier,
    verify_bundle,
    verify_checkpoint,
)
from attest.bundle import VerifiedRecord
from attest.policy import VerifiedCheckpoint, check_consistent
from attest.statements import REGISTRY_KINDS, Kind
from cli._backend import Backend
from cli._errors import CliError, ServerProblem
from cli._i18n import _
from ledger import LedgerError, record_views, verify_log

_PARALLEL_FROM = 20_000
"""Logs at least this large are verified with signature worker processes (all cores)."""

__all__ = [
    "Outcome",
    "checkpoint_size",
    "log_counts",
    "verify_bundle_bytes",
    "verify_full_log",
]


@dataclass(frozen=True)
class Outcome:
    """What a successful verification established."""

    checkpoint: Checkpoint
    note: bytes
    genesis_hash: bytes
    vkey: str
    entries: int
    streams: int
    parties: int
    stream: str | None = None
    remark: str = ""
    counts: dict[str, int] | None = None
    records: dict[str, int] = field(default_factory=dict)
    witnessed: VerifiedCheckpoint | None = None
    record: VerifiedRecord | None = None
    """A company record's verified entries (bundles only), to replay or report from."""
    compromised: dict[int, int] = field(default_factory=dict)
    """Entries not to be relied on (SPEC §8.2 rule 5): index -> the revocation saying so."""
    log_vkeys: tuple[str, ...] = ()
    """Every log key the verified log names, in order (the genesis's, then each rotation's)."""


def checkpoint_size(note: bytes) -> int:
    """The size line of an (unverified) checkpoint note, to know how many entries to fetch.

    Raises:
        CheckpointError: the note has no size line.
    """
    lines = note.split(b"\n")
    try:
        return int(lines[1].decode("ascii"))
    except (IndexError, ValueError, UnicodeDecodeError):
        raise CheckpointError("the checkpoint note is malformed (no size line)") from None


def verify_full_log(
    backend: Backend,
    *,
    genesis_hash: bytes | None,
    trusted: Checkpoint | None,
    progress: Callable[[int], None] | None = None,
    start_bar: Callable[[int], None] | None = None,
    note: bytes | None = None,
) -> Outcome:
    """Fetch the checkpoint (unless ``note`` is given) and every entry it covers from
    ``backend`` and verify them all.

    A checkpoint older than ``trusted`` (a cache, a lagging replica) is verified as of its size
    and must be proved a prefix of ``trusted`` by the backend (:func:`_older`).

    Raises:
        VerificationError: the first failure, located (stream, position, index).
    """
    if note is None:
        note = backend.checkpoint()
    size = checkpoint_size(note)
    if start_bar is not None:
        start_bar(size)
    entries: Iterable[LogEntry] = backend.log_entries(0, size)
    older = trusted is not None and size < trusted.size
    result = verify_log(
        entries,
        note,
        genesis_hash=genesis_hash,
        trusted=None if older else trusted,
        progress=progress,
        workers=None if size >= _PARALLEL_FROM else 0,
    )
    state, checkpoint, genesis = result.state, result.checkpoint, result.genesis_hash
    vkey = log_note_verifier(state).vkey()
    remark = ""
    if trusted is not None and older:
        check_consistent(checkpoint, trusted, _older(backend.consistency_proof, size, trusted))
        remark = _older_remark(size, trusted)
    return Outcome(
        checkpoint,
        note,
        genesis,
        vkey,
        checkpoint.size,
        len(state.heads),
        len(state.parties),
        remark=remark,
        counts=log_counts(result.kinds, checkpoint.size, len(result.compromised)),
        compromised=dict(result.compromised),
        log_vkeys=tuple(log_note_verifier(state, p.from_size).vkey() for p in state.log_keys),
    )


def log_counts(kinds: Mapping[str, int], entries: int, compromised: int = 0) -> dict[str, int]:
    """What a whole log holds, in the terms ``VerifiedRecord.counts`` uses for one record."""
    return {
        "compromised": compromised,
        "entries": entries,
        "claims": kinds.get(Kind.CLAIM_PUBLISH, 0) + kinds.get(Kind.CLAIM_SUPERSEDE, 0),
        "tests": kinds.get(Kind.TEST_RECORD, 0),
        "verdicts": kinds.get(Kind.VERDICT_ISSUE, 0),
        "replies": kinds.get(Kind.PROVIDER_REPLY, 0),
        "withdrawals": kinds.get(Kind.CLAIM_WITHDRAW, 0),
        "registry": sum(kinds.get(k, 0) for k in REGISTRY_KINDS),
    }


def _older(
    proof_for: Callable[[int, int], list[bytes]], size: int, trusted: Checkpoint
) -> list[bytes]:
    """The proof that a tree of ``size`` is a prefix of ``trusted``, from the server; a server
    that cannot give it holds less than the log once signed.

    Raises:
        ProofError: the server cannot prove it (a rollback).
    """
    try:
        return proof_for(size, trusted.size)
    except (CliError, ServerProblem, LedgerError) as exc:
        raise ProofError(
            f"the log has {size} entries, fewer than the {trusted.size} of the checkpoint "
            f"trusted earlier, and cannot prove they are a prefix of it (rollback): {exc}"
        ) from exc


def _older_remark(size: int, trusted: Checkpoint) -> str:
    return (
        f"the server showed an older checkpoint (size {size}) than the one trusted earlier "
        f"(size {trusted.size}); it is proved a prefix of it (a cached or lagging copy, not a "
        "rollback): verified as of that size"
    )


def verify_bundle_bytes(
    data: bytes,
    *,
    genesis_hash: bytes | None,
    trusted_for: Callable[[str], Checkpoint | None],
    proof_for: Callable[[int, int], list[bytes]] | None = None,
) -> Outcome:
    """Verify an evidence bundle (``attest.bundle.verify_bundle``), and its consistency.

    ``trusted_for(vkey)`` gives the checkpoint trusted earlier for that log, if any. At the same
    size the roots must agree. A live bundle (``proof_for`` given: the ledger it came from can
    prove consistency) must be proved consistent with it: a larger one extends it; a smaller one
    (a cache or a replica a little behind) must be proved a prefix of it, by a proof the server
    gives from the bundle's size to the trusted size, and is reported as older, never trusted
    instead; a server that cannot give that proof holds less than it once signed (a rollback).
    An offline bundle of another size cannot be checked, and says so.

    Raises:
        VerificationError: the bundle fails verification, or is inconsistent with the trusted
            checkpoint.
    """
    result = verify_bundle(data, genesis_hash=genesis_hash)
    state = result.state
    vkey = log_note_verifier(state, result.checkpoint.size).vkey()
    trusted = trusted_for(vkey)
    cp: Checkpoint = result.checkpoint
    remark = ""
    if trusted is not None:
        if cp.size == trusted.size:
            check_consistent(trusted, cp, [])
            result = verify_bundle(data, genesis_hash=genesis_hash, trusted=trusted)
        elif proof_for is not None:
            if cp.size < trusted.size:
                back = _older(proof_for, cp.size, trusted)
                result = verify_bundle(  # the older tree a prefix of the trusted one, or a fork
                    data, genesis_hash=genesis_hash, trusted=trusted, consistency_proof=back
                )
                return _outcome(result, data, vkey, _older_remark(cp.size, trusted))
            proof = proof_for(trusted.size, cp.size)
            check_consistent(trusted, cp, proof)
            result = verify_bundle(
                data, genesis_hash=genesis_hash, trusted=trusted, consistency_proof=proof
            )
        else:
            remark = (
                f"consistency with the checkpoint trusted earlier (size {trusted.size}) not "
                f"checked: an offline bundle of size {cp.size} carries no consistency proof"
            )
    return _outcome(result, data, vkey, remark)


def _outcome(result: VerifiedRecord, data: bytes, vkey: str, remark: str) -> Outcome:
    now = time.time_ns() // 1_000_000
    replay = record_views(result).replay(result.stream, at_ms=now)
    findings = replay.finding_counts
    not_current = sum(f.outside is not None for c in replay.claims for f in c.verdict_flags)
    return Outcome(
        result.checkpoint,
        _note_of(data),
        result.genesis_hash,
        vkey,
        len(result.entries),
        len(result.state.heads),
        len(result.state.parties),
        result.stream,
        remark,
        {
            **result.counts(at_ms=now),
            "findings_open": findings["open"],
            "findings_closed": findings["closed"],
            "commitments_overdue": findings["commitmentsOverdue"],
            "not_current": not_current,
        },
        result.registry_records(),
        record=result,
        compromised=result.compromised(),
    )


def _note_of(data: bytes) -> bytes:
    """The checkpoint note of a bundle (already verified by ``verify_bundle``)."""
    note = json.loads(data)["checkpoint"]
    return str(note).encode("utf-8")


def trusted_checkpoint(record: dict[str, Any] | None, vkey: str) -> Checkpoint | None:
    """The checkpoint a trust-store record holds, re-verified with the log's key.

    Raises:
        CliError: the stored note no longer verifies (the trust store was damaged).
    """
    if not record or "note" not in record:
        return None
    try:
        return verify_checkpoint(str(record["note"]).encode(), NoteVerifier.from_vkey(vkey))
    except CheckpointError as exc:
        raise CliError(
            _("the remembered checkpoint for %(vkey)s does not verify: %(exc)s")
            % {"vkey": vkey, "exc": exc}
        ) from exc
