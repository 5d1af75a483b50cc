"""Client-side verification of a whole log, streaming (SPEC §8.3).

:class:`LogVerifier` takes raw entries in index order — from a local database, a remote API or a
bundle — and re-checks everything from bytes: every signature, every chain link, every rule
decision, the state commitment of every entry (SPEC §11), the Merkle root against a checkpoint, the
checkpoint's signature by the log key the genesis names, and consistency with a checkpoint the
caller trusted earlier. It never trusts the server's opinion of anything. Memory is the rules'
state plus 16 bytes per entry (index and log time by signing key), kept so that a revocation
stating a key compromised since an earlier index or time can be read back over the entries that
key signed (SPEC §8.2 rule 5).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from attest.checkpoint import Checkpoint, NoteVerifier, parse_note, verify_checkpoint
from attest.entry import LogEntry, leaf_data
from attest.errors import CheckpointError, ProofError, VerificationError
from attest.merkle import MerkleFrontier, leaf_hash
from attest.rules import LogState, Placed

__all__ = [
    "LogVerifier",
    "MemoryIndex",
    "VerifiedLog",
    "VerifierIndex",
    "log_note_verifier",
    "verify_log_checkpoint",
]


@dataclass(frozen=True, slots=True)
class VerifiedLog:
    """The outcome of a successful full verification.

    Attributes:
        checkpoint: the verified checkpoint (its size is the number of entries checked).
        genesis_hash: the entry hash of the genesis entry: the ledger's fingerprint.
        state: the rules' state after the last entry.
        kinds: how many entries of each statement kind the log holds.
        compromised: the index of each entry signed with a key the authority later stated
            compromised (SPEC §8.2 rule 5), mapped to the index of that revocation: accepted,
            but not to be relied on.
    """

    checkpoint: Checkpoint
    genesis_hash: bytes
    state: LogState
    kinds: Mapping[str, int] = field(default_factory=dict)
    compromised: Mapping[int, int] = field(default_factory=dict)


def log_note_verifier(state: LogState, size: int | None = None) -> NoteVerifier:
    """The checkpoint verifier of the log ``state`` was built from, for the checkpoint of tree size
    ``size`` (by default the state's own size): the genesis's log key, or the key a
    ``log.key.rotate`` put in force at that size (SPEC §7.6).

    Raises:
        CheckpointError: the state has no genesis yet.
    """
    key = state.log_key_at(state.size if size is None else size)
    if key is None or state.origin is None:
        raise CheckpointError("no genesis entry: the log key is unknown")
    return NoteVerifier.for_key(state.origin, key)


def verify_log_checkpoint(note: bytes, state: LogState) -> Checkpoint:
    """Verify a checkpoint note of the log ``state`` was built from, with the log key in force at
    the size the note states (SPEC §7.6), and return it.

    The size is read from the note's text before its signature is checked only to choose the key;
    the checkpoint returned is the one that key signed. ``state`` must hold every entry up to that
    size for the key to be certain (a rotation logged later cannot change it, §7.6); a client that
    holds fewer entries follows a rotation through the hand-over checkpoint (§7.6).

    Raises:
        CheckpointError: the note is malformed, of another origin, or not signed by the key in
            force at its size; when it is signed by another of the log's keys instead (one a
            rotation retired, or one not yet in force), the message says which and from when.
    """
    text, lines = parse_note(note)
    size = Checkpoint.parse_body(text).size
    verifier = log_note_verifier(state, size)
    try:
        return verify_checkpoint(note, verifier, origin=state.origin)
    except CheckpointError as exc:
        signed_by = {(line.name, line.key_id) for line in lines}
        for period in state.log_keys:
            other = NoteVerifier.for_key(verifier.name, period.key)
            if other.key == verifier.key or (other.name, other.key_id) not in signed_by:
                continue
            later = [p for p in state.log_keys if p.from_size > period.from_size]
            if period.from_size > size:
                why = f"which is the log key only from size {period.from_size}"
            else:
                why = (
                    f"which a log.key.rotate (index {later[0].index}) replaced from size "
                    f"{later[0].from_size}"
                )
            raise CheckpointError(
                f"the checkpoint of size {size} is signed by log key {other.vkey()}, {why}; "
                f"the checkpoint of size {size} must be signed by {verifier.vkey()}"
            ) from exc
        raise


class VerifierIndex(Protocol):
    """Where a :class:`LogVerifier` keeps what grows with the log: the rules' per-stream state
    (:data:`attest.rules.STREAM_FIELDS`, each a mapping by digest) and, per signing key, the
    indexes and log times of the entries it signed (read back at the end, for a later
    ``compromisedSince``). In memory by default; a verifier of a log too large to hold keeps
    them on disk (``ledger/_spill.py``), so that its memory stays flat as the log grows."""

    def mapping(self, name: str) -> MutableMapping[Any, Any]:
        """A new, empty mapping for the per-stream field ``name``."""
        ...

    def signed(self, keyid: str, index: int, log_time_ms: int) -> None:
        """Record that the key signed the entry at ``index``, logged at ``log_time_ms``."""
        ...

    def signed_by(self, keyid: str) -> Iterable[tuple[int, int]]:
        """Every (index, log time) recorded for the key, in index order."""
        ...


class MemoryIndex:
    """A :class:`VerifierIndex` in memory: dicts, and two arrays per key (16 bytes an entry)."""

    def __init__(self) -> None:
        self._signed: dict[str, tuple[array[int], array[int]]] = {}

    def mapping(self, name: str) -> MutableMapping[Any, Any]:
        return {}

    def signed(self, keyid: str, index: int, log_time_ms: int) -> None:
        signed = self._signed.get(keyid)
        if signed is None:
            signed = self._signed[keyid] = (array("q"), array("q"))
        signed[0].append(index)
        signed[1].append(log_time_ms)

    def signed_by(self, keyid: str) -> Iterable[tuple[int, int]]:
        indexes, times = self._signed.get(keyid, ((), ()))
        return zip(indexes, times, strict=True)


class LogVerifier:
    """Feed raw entries in index order, then :meth:`finish` with a checkpoint note.

    Args:
        genesis_hash: if given, the genesis entry's hash must equal it (the pinned fingerprint).
        trusted: a checkpoint verified earlier; the log must extend it (same root at its size).
        index: where to keep what grows with the log (default: in memory).
    """

    def __init__(
        self,
        *,
        genesis_hash: bytes | None = None,
        trusted: Checkpoint | None = None,
        index: VerifierIndex | None = None,
    ) -> None:
        self._index: VerifierIndex = MemoryIndex() if index is None else index
        m = self._index.mapping
        self.state = LogState(
            claims=m("claims"),
            tests=m("tests"),
            verdicts=m("verdicts"),
            verdict_findings=m("verdict_findings"),
            engagements=m("engagements"),
        )
        self._frontier = MerkleFrontier()
        self._genesis_hash = genesis_hash
        self._trusted = trusted
        self._kinds: Counter[str] = Counter()

    @property
    def size(self) -> int:
        """Entries checked so far."""
        return self._frontier.size

    def root(self) -> bytes:
        """The Merkle root of the entries checked so far."""
        return self._frontier.root()

    def feed(self, raw: LogEntry) -> Placed:
        """Open, check and apply one raw entry, and add its leaf to the tree.

        Raises:
            VerificationError: the entry fails any check; located at the entry.
        """
        return self.feed_opened(raw, self.state.open(raw))

    def feed_opened(self, raw: LogEntry, placed: Placed) -> Placed:
        """As :meth:`feed`, for an entry whose signature was checked elsewhere (in parallel).

        ``placed`` must come from :func:`attest.rules.open_envelope` on ``raw``'s envelope with the
        public key whose id the envelope names; the rules then check that this key belongs to the
        signer and is not revoked.

        Raises:
            VerificationError: the entry fails any check; located at the entry.
        """
        state = self.state
        if placed != state.place(raw, placed.signed):
            raise VerificationError(
                "the entry was opened for another place in the log",
                stream=raw.stream,
                position=raw.position,
                index=raw.index,
            )
        state.check(placed)
        pinned = self._genesis_hash
        if raw.index == 0 and pinned is not None and placed.signed.entry_hash != pinned:
            raise VerificationError(
                f"genesis entry does not match the pinned ledger fingerprint {pinned.hex()}",
                stream=raw.stream,
                position=0,
                index=0,
            )
        state.apply(placed)
        self._kinds[placed.signed.statement.kind] += 1
        if raw.index:
            self._index.signed(placed.signed.keyid, raw.index, raw.log_time_ms)
        root = state.state_root
        if raw.state_root is not None and raw.state_root != root:
            raise VerificationError(
                f"the log's state root {raw.state_root.hex()} for this entry is not the state "
                f"commitment replayed from the log, {root.hex()}",
                stream=raw.stream,
                position=raw.position,
                index=raw.index,
            )
        self._frontier.append(
            leaf_hash(
                leaf_data(
                    raw.index,
                    raw.stream,
                    raw.position,
                    raw.log_time_ms,
                    placed.signed.entry_hash,
                    root,
                )
            )
        )
        trusted = self._trusted
        if (
            trusted is not None
            and self._frontier.size == trusted.size
            and self._frontier.root() != trusted.root
        ):
            raise ProofError(
                f"the log is not consistent with the checkpoint trusted earlier at size "
                f"{trusted.size}: history was rewritten (fork or rollback)",
                index=raw.index,
            )
        return placed

    def finish(self, note: bytes) -> VerifiedLog:
        """Verify ``note`` as the checkpoint of exactly the entries fed.

        Raises:
            CheckpointError: the note is malformed, not signed by the log key in force at its size
                (SPEC §7.6), of another origin, or of another size than the entries fed.
            ProofError: the root differs from the entries' root, or the log is shorter than a
                checkpoint trusted earlier.
        """
        state = self.state
        checkpoint = verify_log_checkpoint(note, state)
        if checkpoint.size != self.size:
            raise CheckpointError(
                f"checkpoint is for {checkpoint.size} entries but {self.size} were checked"
            )
        if checkpoint.root != self._frontier.root():
            raise ProofError(
                f"checkpoint root does not match the root of the {self.size} entries checked"
            )
        if self._trusted is not None and self.size < self._trusted.size:
            raise ProofError(
                f"the log has {self.size} entries, fewer than the {self._trusted.size} of the "
                "checkpoint trusted earlier (rollback)"
            )
        assert state.genesis_hash is not None  # noqa: S101 - size > 0 implies a genesis
        return VerifiedLog(
            checkpoint, state.genesis_hash, state, dict(self._kinds), self.compromised()
        )

    def compromised(self) -> dict[int, int]:
        """The entries checked so far that read as not to be relied on: index -> revocation."""
        out: dict[int, int] = {}
        for keyid, k in self.state.keys.items():
            if k.revoked_at is None:
                continue
            if k.compromised_index is None and k.compromised_ms is None:
                continue
            for i, t in self._index.signed_by(keyid):
                r = self.state.compromised(i, t, keyid)
                if r is not None:
                    out[i] = r
        return dict(sorted(out.items()))
