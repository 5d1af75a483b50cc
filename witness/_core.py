"""The tlog-witness add-checkpoint decision, on bytes (docs/SPEC.md §12.4).

:meth:`Witness.add_checkpoint` takes the request body and the time, and either returns the
cosignature lines (after the new state is committed) or raises
:class:`~witness.errors.RequestError` with the status C2SP tlog-witness prescribes:

====  ==========================================================================================
400   malformed body (old size line, proof lines, note, checkpoint), more than 63 proof lines,
      or an old size larger than the checkpoint's size
403   no signature from a key trusted for the origin, or one that fails to verify
404   the origin is not in the witness's log list
409   the old size is not the size of the latest checkpoint cosigned for the origin; the body is
      that size and a newline, ``Content-Type: text/x.tlog.size``
422   a size-0 checkpoint whose root is not the empty root, a proof with old size 0, a
      consistency proof that does not verify, or an equal size with a different root
====  ==========================================================================================

The checks that depend on the stored state run inside the state file's write transaction, and
the new state is committed before the answer is returned: the witness never cosigns two
inconsistent checkpoints for one origin, even across crashes and concurrent requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from attest import CheckpointError, ProofError, VerificationError
from attest.checkpoint import (
    Checkpoint,
    NoteVerifier,
    note_signature_line,
    parse_note,
    verify_note,
)
from attest.cosignature import (
    CosignatureType,
    CosignerSigner,
    cosign,
    cosign_subtree,
    verify_cosignature,
)
from attest.loglist import ListedLog
from attest.merkle import EMPTY_ROOT, verify_consistency
from attest.subtree import verify_subtree_consistency
from attest.tlogwitness import (
    MAX_ADD_CHECKPOINT_SIZE,
    MAX_PROOF_LINES,
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    parse_add_checkpoint,
    parse_sign_subtree,
)
from witness._keys import WitnessKeys
from witness._state import Stored, WitnessState
from witness.errors import RequestError, WitnessError

__all__ = ["MAX_PROOF_LINES", "MAX_REQUEST_SIZE", "SIZE_CONTENT_TYPE", "Witness"]

MAX_REQUEST_SIZE = MAX_ADD_CHECKPOINT_SIZE
"""Larger add-checkpoint bodies are refused before they are read (413)."""

MAX_SUBTREE_ORIGIN = 255


def _parse_request(body: bytes) -> AddCheckpoint:
    try:
        return parse_add_checkpoint(body)
    except VerificationError as exc:
        raise RequestError(400, f"malformed request: {exc.what}") from exc


class Witness:
    """A witness: its keys, the logs it witnesses and its state file."""

    def __init__(self, keys: WitnessKeys, logs: Iterable[ListedLog], state: WitnessState) -> None:
        """Set up a witness over an open state file.

        Raises:
            WitnessError: the log list names one origin under two keys with the same name
                and key id.
        """
        self.keys = keys
        self.state = state
        self._logs: dict[str, list[NoteVerifier]] = {}
        for log in logs:
            known = self._logs.setdefault(log.origin, [])
            if any((k.name, k.key_id) == (log.key.name, log.key.key_id) for k in known):
                raise WitnessError(f"log {log.origin!r} is listed twice under one key name and id")
            known.append(log.key)

    @property
    def origins(self) -> Sequence[str]:
        """The origins this witness cosigns."""
        return tuple(self._logs)

    def _verify_log_signature(self, req: AddCheckpoint) -> bytes:
        """The log signature lines that verified, as note lines; raise 404/403 otherwise."""
        verifiers = self._logs.get(req.checkpoint.origin)
        if verifiers is None:
            raise RequestError(404, f"unknown log origin {req.checkpoint.origin!r}")
        _, lines = parse_note(req.note)
        good: list[NoteVerifier] = []
        for verifier in verifiers:
            present = any((s.name, s.key_id) == (verifier.name, verifier.key_id) for s in lines)
            if not present:
                continue
            try:
                verify_note(req.note, verifier)
            except CheckpointError as exc:
                raise RequestError(403, f"log signature refused: {exc.what}") from exc
            good.append(verifier)
        if not good:
            raise RequestError(403, f"no signature by a key trusted for {req.checkpoint.origin!r}")
        kept = {(v.name, v.key_id) for v in good}
        return b"".join(
            note_signature_line(s.name, s.key_id, s.signature)
            for s in lines
            if (s.name, s.key_id) in kept
        )

    def add_checkpoint(self, body: bytes, now: int) -> bytes:
        """Handle one add-checkpoint request body at time ``now`` (POSIX seconds, > 0).

        Returns:
            The response body: one cosignature line per witness key.

        Raises:
            RequestError: the request is refused (see the module docstring for the statuses).
            WitnessError: the state file fails (answer 500; nothing was cosigned).
        """
        if now <= 0:
            raise WitnessError("a cosignature timestamp must not be zero")
        req = _parse_request(body)
        log_lines = self._verify_log_signature(req)
        cp = req.checkpoint
        if req.old > cp.size:
            raise RequestError(400, f"old size {req.old} is larger than the checkpoint's {cp.size}")
        with self.state.transaction() as tx:
            stored = tx.latest(cp.origin)
            latest = 0 if stored is None else stored.size
            if req.old != latest:
                raise RequestError(
                    409,
                    f"old size {req.old} is not the latest cosigned size {latest}",
                    body=f"{latest}\n".encode("ascii"),
                    content_type=SIZE_CONTENT_TYPE,
                )
            problem = _inconsistency(req, stored)
            if problem is not None:
                tx.refuse(cp.origin, now, 422, problem, body)
                # The refusal is evidence of misbehaviour: commit it, then answer 422.
            else:
                lines = b"".join(cosign(req.note, signer, now) for signer in self._signers(cp))
                note = req.text + b"\n" + log_lines + lines
                tx.put(Stored(cp.origin, cp.size, cp.root, note, now))
        if problem is not None:
            raise RequestError(422, problem)
        return lines

    def _signers(self, cp: Checkpoint) -> tuple[CosignerSigner, ...]:
        # subtree/v1 holds the origin in at most 255 bytes; a longer one gets only Ed25519.
        if len(cp.origin.encode("utf-8")) > MAX_SUBTREE_ORIGIN:
            return (self.keys.ed25519,)
        return self.keys.signers

    def sign_subtree(self, body: bytes) -> bytes:
        """Handle one sign-subtree request: cosign a subtree of a checkpoint this witness cosigned.

        Stateless: the witness's own cosignature on the reference checkpoint shows it checked
        that checkpoint's consistency; the subtree consistency proof ties the subtree to it.

        Returns:
            One ML-DSA-44 ``subtree/v1`` cosignature line, timestamp 0.

        Raises:
            RequestError: 400 (malformed, not a subtree, beyond the checkpoint, or an origin
                too long for subtree/v1), 404 (unknown origin), 403 (no valid cosignature of
                this witness on the checkpoint), 422 (the proof does not verify).
        """
        try:
            req = parse_sign_subtree(body)
        except VerificationError as exc:
            raise RequestError(400, f"malformed request: {exc.what}") from exc
        cp = req.checkpoint
        if len(cp.origin.encode("utf-8")) > MAX_SUBTREE_ORIGIN:
            raise RequestError(400, "the origin is longer than subtree/v1 allows (255 bytes)")
        if cp.origin not in self._logs:
            raise RequestError(404, f"unknown log origin {cp.origin!r}")
        _, lines = parse_note(req.note)
        ours = [
            s.verifier
            for s in self.keys.signers
            if any((x.name, x.key_id) == (s.verifier.name, s.verifier.key_id) for x in lines)
        ]
        if not ours:
            raise RequestError(403, "the checkpoint has no cosignature by this witness")
        for key in ours:
            try:
                verify_cosignature(req.note, key)
            except CheckpointError as exc:
                raise RequestError(403, f"this witness's cosignature fails: {exc.what}") from exc
        try:
            verify_subtree_consistency(
                req.start, req.end, cp.size, req.proof, req.subtree_hash, cp.root
            )
        except ProofError as exc:
            raise RequestError(422, exc.what) from exc
        signer = self.keys.mldsa44
        assert signer.verifier.kind is CosignatureType.MLDSA44  # noqa: S101
        return cosign_subtree(signer, cp.origin, req.start, req.end, req.subtree_hash)

    def latest_note(self, origin_hash: str) -> bytes | None:
        """The latest cosigned note of the log with this origin hash (monitoring API)."""
        stored = self.state.latest_by_hash(origin_hash)
        return None if stored is None else stored.note


def _inconsistency(req: AddCheckpoint, stored: Stored | None) -> str | None:
    """Why this checkpoint cannot be cosigned after ``stored``, or None if it can."""
    cp = req.checkpoint
    if cp.size == 0 and cp.root != EMPTY_ROOT:
        return "a checkpoint of size 0 must have the empty tree's root"
    if req.old == 0:
        if req.proof:
            return "a consistency proof from old size 0 must be empty"
        return None
    assert stored is not None  # noqa: S101 -- req.old == stored size > 0
    try:
        verify_consistency(req.old, cp.size, req.proof, stored.root, cp.root)
    except ProofError as exc:
        return f"not consistent with the checkpoint cosigned at size {stored.size}: {exc.what}"
    return None
