"""Evidence bundles: one company's record, self-contained, verified offline (docs/SPEC.md §10).

A bundle is one canonical JSON document (SPEC §1) holding a signed checkpoint, the log's verifier
key, the ledger fingerprint, the entries of the *company record* below the checkpoint — the
provider's stream, and the registry records of the parties it involves (itself, the authority,
every verifier who signed on its stream), in index order — each with its inclusion proof, and a
completeness proof (SPEC §11): the state commitment at the checkpoint's size, with the record of
the stream and of each of those parties. :func:`verify_bundle` checks it from bytes alone: the
checkpoint's signature by the log key the genesis entry names, every entry's inclusion proof,
every signature and every rule (in sparse mode, SPEC §8.2), and that the stream and each party's
registry record are whole — nothing left out, nothing cut off before the checkpoint's size.

Its size depends on the company's record, not on how many parties the registry holds.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from attest import canonical
from attest._members import hash_b64, members, string, uint
from attest.checkpoint import Checkpoint, NoteVerifier, parse_note, verify_checkpoint
from attest.completeness import (
    RecordKind,
    StateProof,
    check_party,
    check_stream,
    verify_state,
)
from attest.dsse import Envelope
from attest.entry import LogEntry, entry_hash, leaf_data
from attest.errors import (
    CheckpointError,
    EncodingError,
    IncompleteRecordError,
    ProofError,
    VerificationError,
)
from attest.merkle import leaf_hash, verify_consistency, verify_inclusion
from attest.rules import LogState, Placed
from attest.statemap import Record, subject
from attest.statements import REGISTRY_KINDS, REGISTRY_STREAM, SIGNER_SUBJECT_KINDS, Kind
from attest.verify import log_note_verifier
from keys import PublicKey
from keys.errors import KeyFormatError

__all__ = [
    "BUNDLE_FORMAT",
    "MAX_BUNDLE_BYTES",
    "Bundle",
    "BundleEntry",
    "VerifiedRecord",
    "verify_bundle",
]

BUNDLE_FORMAT = "claimledger.bundle.v2"
"""The ``format`` member of every version-2 bundle (with completeness proofs, SPEC §11)."""

MAX_BUNDLE_BYTES = 256 << 20
"""Bundles larger than this (256 MiB) are refused before parsing."""

_MAX_PROOF = 64
_HEX64 = re.compile(r"[0-9a-f]{64}")
_STREAM = re.compile(r"[a-z][a-z0-9-]{0,61}[a-z0-9]")
_TOP = frozenset(
    {"checkpoint", "entries", "format", "genesis", "logKey", "origin", "state", "stream"}
)
_ENTRY = frozenset(
    {"envelope", "inclusionProof", "index", "logTimeMs", "position", "stateRoot", "stream"}
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class BundleEntry:
    """One entry of a bundle: where the log put it, its stored envelope and its inclusion proof.

    Attributes:
        index: global log index.
        stream: ``registry`` or the bundle's provider stream.
        position: position in the stream.
        log_time_ms: the log's time for the entry.
        envelope: the stored envelope bytes (SPEC §4, stored form).
        state_root: the state root the entry's leaf commits to (SPEC §11).
        inclusion_proof: RFC 9162 inclusion proof of the entry's leaf in the checkpoint's tree.
    """

    index: int
    stream: str
    position: int
    log_time_ms: int
    envelope: bytes
    state_root: bytes
    inclusion_proof: tuple[bytes, ...]

    def raw(self) -> LogEntry:
        """The entry as a raw log entry, for the rules."""
        return LogEntry(
            self.index,
            self.stream,
            self.position,
            self.log_time_ms,
            self.envelope,
            self.state_root,
        )

    def to_dict(self) -> dict[str, Any]:
        """The entry's JSON object (SPEC §10)."""
        return {
            "envelope": self.envelope.decode("utf-8"),
            "inclusionProof": [_b64(h) for h in self.inclusion_proof],
            "index": self.index,
            "logTimeMs": self.log_time_ms,
            "position": self.position,
            "stateRoot": self.state_root.hex(),
            "stream": self.stream,
        }


@dataclass(frozen=True, slots=True)
class Bundle:
    """An evidence bundle, as parsed (nothing in it verified yet) or as built for export.

    Attributes:
        origin: the log's origin.
        log_key: the log's C2SP verifier key (vkey).
        genesis: the ledger fingerprint: the genesis entry's hash (32 bytes).
        stream: the provider whose record this is.
        checkpoint: the signed checkpoint note.
        entries: the company record's entries below the checkpoint's size, in index order.
        state: the completeness proof at the checkpoint's size (SPEC §11).
    """

    origin: str
    log_key: str
    genesis: bytes
    stream: str
    checkpoint: bytes
    entries: tuple[BundleEntry, ...]
    state: StateProof

    def to_dict(self) -> dict[str, Any]:
        """The bundle's JSON object (SPEC §10)."""
        return {
            "checkpoint": self.checkpoint.decode("utf-8"),
            "entries": [e.to_dict() for e in self.entries],
            "format": BUNDLE_FORMAT,
            "genesis": self.genesis.hex(),
            "logKey": self.log_key,
            "origin": self.origin,
            "state": self.state.to_dict(),
            "stream": self.stream,
        }

    def to_bytes(self) -> bytes:
        """The bundle file: the canonical JSON (SPEC §1) of :meth:`to_dict`."""
        return canonical.encode(self.to_dict())

    @classmethod
    def parse(cls, data: bytes) -> Bundle:
        """Parse bundle bytes strictly: canonical JSON, exactly the members of SPEC §10.

        Raises:
            EncodingError: too large, not canonical JSON, a missing, unknown or ill-typed member,
                or a value not in its one accepted form; ``field`` is its JSON pointer.
        """
        if not isinstance(data, bytes):
            raise EncodingError(f"a bundle must be bytes, not {type(data).__name__}")
        if len(data) > MAX_BUNDLE_BYTES:
            raise EncodingError(f"bundle is larger than {MAX_BUNDLE_BYTES} bytes")
        top = members(canonical.decode_object(data), "", _TOP)
        if top["format"] != BUNDLE_FORMAT:
            raise EncodingError(
                f"unknown bundle format {str(top['format'])[:60]!r}, expected {BUNDLE_FORMAT!r}",
                field="/format",
            )
        stream = string(top["stream"], "/stream")
        if _STREAM.fullmatch(stream) is None:
            raise EncodingError(f"stream {stream[:80]!r} is not a party id", field="/stream")
        genesis = string(top["genesis"], "/genesis")
        if _HEX64.fullmatch(genesis) is None:
            raise EncodingError("genesis must be 64 lowercase hex characters", field="/genesis")
        entries = top["entries"]
        if type(entries) is not list:
            raise EncodingError("entries must be an array", field="/entries")
        return cls(
            origin=string(top["origin"], "/origin"),
            log_key=string(top["logKey"], "/logKey"),
            genesis=bytes.fromhex(genesis),
            stream=stream,
            checkpoint=string(top["checkpoint"], "/checkpoint").encode("utf-8"),
            entries=tuple(_entry(e, f"/entries/{i}") for i, e in enumerate(entries)),
            state=StateProof.from_dict(top["state"], "/state"),
        )


def _entry(obj: object, where: str) -> BundleEntry:
    e = members(obj, where, _ENTRY)
    proof = e["inclusionProof"]
    if type(proof) is not list:
        raise EncodingError("must be an array", field=f"{where}/inclusionProof")
    if len(proof) > _MAX_PROOF:
        raise EncodingError(
            f"an inclusion proof has at most {_MAX_PROOF} hashes", field=f"{where}/inclusionProof"
        )
    envelope = string(e["envelope"], f"{where}/envelope")
    if not envelope.isascii():
        raise EncodingError("a stored envelope is ASCII", field=f"{where}/envelope")
    root = string(e["stateRoot"], f"{where}/stateRoot")
    if _HEX64.fullmatch(root) is None:
        raise EncodingError("must be 64 lowercase hex characters", field=f"{where}/stateRoot")
    return BundleEntry(
        index=uint(e["index"], f"{where}/index"),
        stream=string(e["stream"], f"{where}/stream"),
        position=uint(e["position"], f"{where}/position"),
        log_time_ms=uint(e["logTimeMs"], f"{where}/logTimeMs"),
        envelope=envelope.encode("ascii"),
        state_root=bytes.fromhex(root),
        inclusion_proof=tuple(
            hash_b64(h, f"{where}/inclusionProof/{j}") for j, h in enumerate(proof)
        ),
    )


@dataclass(frozen=True, slots=True)
class VerifiedRecord:
    """A verified company record.

    Attributes:
        stream: the provider whose record it is.
        checkpoint: the verified checkpoint the entries are included in.
        genesis_hash: the ledger fingerprint.
        entries: every entry, opened and accepted by the rules, in index order (feed them to
            the ledger's ``Views`` for a replay of the record).
        state: the rules' state after the last entry (sparse).
        checkpoint_time_ms: the checkpoint's log time: that of the tree's last entry (index
            ``size - 1``), proved by the state proof's leaf (SPEC §11.4).
    """

    stream: str
    checkpoint: Checkpoint
    genesis_hash: bytes
    entries: tuple[Placed, ...]
    state: LogState
    checkpoint_time_ms: int = 0

    @property
    def stream_length(self) -> int:
        """Entries of the company's stream in the bundle."""
        return self.state.head(self.stream)[1]

    def statements(self) -> list[Placed]:
        """The company stream's entries only."""
        return [p for p in self.entries if p.signed.statement.stream == self.stream]

    def counts(self, at_ms: int | None = None) -> dict[str, int]:
        """What the company's (complete) stream holds: entries, claim versions, test records,
        verdicts, replies and withdrawals; engagements by status, and the test records and
        verdicts that name no engagement (legacy, SPEC §8.2 rule 7), and the entries signed with
        a key since stated compromised (``compromised``, SPEC §8.2 rule 5).

        An open engagement whose window ended before ``at_ms`` counts as ``overdue`` (with no
        ``at_ms``, none does: the bundle itself has no clock).
        """
        mine = self.statements()
        kinds = [p.signed.statement.kind for p in mine]
        engaged = {Kind.TEST_RECORD, Kind.VERDICT_ISSUE}
        unengaged = sum(
            p.signed.statement.kind in engaged
            and getattr(p.signed.statement.body, "engagement", None) is None
            for p in mine
        )
        compromised = self.compromised()
        statuses = {"open": 0, "overdue": 0, "closed": 0, "withdrawn": 0}
        for e in self.state.engagements.values():
            if e.stream == self.stream:
                late = e.status == "open" and at_ms is not None and e.end_ms < at_ms
                statuses["overdue" if late else e.status] += 1
        return {
            "entries": len(kinds),
            "claims": sum(k in (Kind.CLAIM_PUBLISH, Kind.CLAIM_SUPERSEDE) for k in kinds),
            "tests": kinds.count(Kind.TEST_RECORD),
            "verdicts": kinds.count(Kind.VERDICT_ISSUE),
            "replies": kinds.count(Kind.PROVIDER_REPLY),
            "withdrawals": kinds.count(Kind.CLAIM_WITHDRAW),
            "engagements": kinds.count(Kind.ENGAGEMENT_OPEN),
            **{f"engagements_{k}": n for k, n in statuses.items()},
            "unengaged": unengaged,
            "compromised": sum(i in compromised for i in (p.index for p in mine)),
        }

    def compromised(self) -> dict[int, int]:
        """The entries that read as not to be relied on (SPEC §8.2 rule 5): each entry signed with
        a key whose revocation in the record states it compromised since then, mapped to the
        index of that revocation. They were accepted and stay in the record."""
        out: dict[int, int] = {}
        for p in self.entries:
            if p.index:
                r = self.state.compromised(p.index, p.log_time_ms, p.signed.keyid)
                if r is not None:
                    out[p.index] = r
        return out

    def retired(self) -> dict[str, int]:
        """Each party of the record that was retired, and the index of its ``party.retire``."""
        return {
            p: x.retired_at
            for p, x in sorted(self.state.parties.items())
            if x.retired_at is not None
        }

    def registry_records(self) -> dict[str, int]:
        """Each involved party and how many registry entries its (complete) record holds."""
        out: dict[str, int] = {}
        for p in self.entries:
            who = subject(p.signed.statement)
            if who is not None:
                out[who] = out.get(who, 0) + 1
        return out


def verify_bundle(
    data: bytes,
    *,
    genesis_hash: bytes | None = None,
    trusted: Checkpoint | None = None,
    consistency_proof: Sequence[bytes] | None = None,
) -> VerifiedRecord:
    """Verify an evidence bundle from its bytes alone (SPEC §10.3).

    Args:
        data: the bundle file.
        genesis_hash: the pinned ledger fingerprint; the genesis entry must hash to it.
        trusted: a checkpoint of the same log verified earlier. The bundle's checkpoint must be
            consistent with it: equal roots at equal sizes, otherwise ``consistency_proof``
            (RFC 9162, from the smaller size to the larger) must connect the two.
        consistency_proof: see ``trusted``.

    Returns:
        The verified record.

    Raises:
        EncodingError: the bundle is not a well-formed bundle.
        CheckpointError: the checkpoint is not signed by the log key of the genesis, or the
            bundle's origin or log key disagree with the genesis.
        ProofError: an inclusion proof fails, or the checkpoint is not consistent with
            ``trusted``.
        VerificationError: (or a subclass) an entry fails a signature or a rule, is out of order,
            belongs to another stream, or a stream has a missing position; located at the entry.
    """
    bundle = Bundle.parse(data)
    entries = bundle.entries
    for before, e in itertools.pairwise(entries):
        if e.index <= before.index:
            raise VerificationError(
                f"entries are not in index order: index {e.index} after {before.index}",
                stream=e.stream,
                position=e.position,
                index=e.index,
            )
    if not entries or entries[0].index != 0:
        raise VerificationError(
            "the first entry of a bundle must be the genesis entry (index 0)", index=0
        )
    first = entries[0]
    if first.stream != REGISTRY_STREAM or first.position != 0:
        raise VerificationError(
            "the genesis entry must be position 0 of the registry",
            stream=first.stream,
            position=first.position,
            index=0,
        )
    state = LogState(sparse=True)
    genesis = state.open(first.raw())
    state.check(genesis)
    fingerprint = genesis.signed.entry_hash
    if genesis_hash is not None and fingerprint != genesis_hash:
        raise VerificationError(
            f"genesis entry {fingerprint.hex()} does not match the pinned ledger fingerprint "
            f"{bytes(genesis_hash).hex()}",
            **genesis.location(),  # type: ignore[arg-type]
        )
    if bundle.genesis != fingerprint:
        raise VerificationError(
            f"the bundle names genesis {bundle.genesis.hex()} but its genesis entry hashes to "
            f"{fingerprint.hex()}",
            field="/genesis",
        )
    state.apply(genesis)
    verifier = _claimed_log_verifier(bundle, state)
    if bundle.origin != state.origin:
        raise CheckpointError(
            f"the bundle's origin {bundle.origin!r} is not the genesis origin {state.origin!r}"
        )
    if bundle.log_key != verifier.vkey():
        raise CheckpointError(
            "the bundle's log key is not the log key in force at its checkpoint's size"
        )
    cp = verify_checkpoint(bundle.checkpoint, verifier, origin=state.origin)
    if trusted is not None:
        _check_trusted(cp, trusted, consistency_proof)

    records = verify_state(cp, bundle.state)
    _check_complete(bundle, records, state.authority, cp.size)

    placed: list[Placed] = []
    for e in entries:
        where: dict[str, Any] = {"stream": e.stream, "position": e.position, "index": e.index}
        p = genesis if e.index == 0 else state.open(e.raw())
        if p.signed.statement.stream != e.stream:
            raise VerificationError(
                f"the entry is placed in stream {e.stream} but its statement names "
                f"{p.signed.statement.stream}",
                field="/stream",
                **where,
            )
        if e.index != 0:
            state.admit(p)
        leaf = leaf_hash(
            leaf_data(
                e.index, e.stream, e.position, e.log_time_ms, p.signed.entry_hash, e.state_root
            )
        )
        try:
            verify_inclusion(leaf, e.index, cp.size, e.inclusion_proof, cp.root)
        except ProofError as exc:
            raise exc.located(**where) from None
        placed.append(p)
    if state.log_key_at(cp.size) != verifier.key:
        raise CheckpointError(
            f"the checkpoint is signed by {verifier.vkey()}, but the record's rotations put "
            f"{log_note_verifier(state, cp.size).vkey()} in force at size {cp.size}"
        )
    owner = state.parties.get(bundle.stream)
    if owner is None or owner.role != "provider":
        raise VerificationError(
            f"{bundle.stream} is not a provider registered in the bundle's registry entries",
            field="/stream",
        )
    return VerifiedRecord(
        bundle.stream, cp, fingerprint, tuple(placed), state, bundle.state.leaf.log_time_ms
    )


def _claimed_log_verifier(bundle: Bundle, genesis: LogState) -> NoteVerifier:
    """The note verifier of the log key in force at the bundle's checkpoint size, as the bundle's
    ``log.key.rotate`` entries say before they are verified (SPEC §7.6, §10.3): it only chooses
    the key. Once the entries are replayed, the key their rotations put in force must be it."""
    try:
        size = Checkpoint.parse_body(parse_note(bundle.checkpoint)[0]).size
    except CheckpointError:
        return log_note_verifier(genesis)  # the checkpoint's own check names the fault
    verifier = log_note_verifier(genesis, 0)
    for e in bundle.entries:
        if e.stream != REGISTRY_STREAM or e.index == 0:
            continue
        try:
            payload = canonical.decode_object(Envelope.parse_stored(e.envelope).payload)
            body = payload.get("body")
            if payload.get("kind") != Kind.LOG_KEY_ROTATE or not isinstance(body, dict):
                continue
            from_size, key = body.get("fromSize"), body.get("key")
            if isinstance(from_size, int) and isinstance(key, str) and from_size <= size:
                verifier = NoteVerifier.for_key(verifier.name, PublicKey.from_b64(key))
        except (VerificationError, KeyFormatError):
            continue  # the replay names what is wrong with the entry
    return verifier


@dataclass(frozen=True, slots=True)
class _Claimed:
    """What an entry says about itself before anything in it is verified: its entry hash, its
    signer and (registry entries) the party it is about. None where it cannot be read."""

    entry_hash: bytes | None = None
    signer: str | None = None
    about: str | None = None


def _claimed(envelope: bytes) -> _Claimed:
    try:
        env = Envelope.parse_stored(envelope)
        payload = canonical.decode_object(env.payload)
    except VerificationError:
        return _Claimed()
    signer, kind, body = payload.get("signer"), payload.get("kind"), payload.get("body")
    who = signer if isinstance(signer, str) else None
    about: str | None = None
    if kind in SIGNER_SUBJECT_KINDS:
        about = who
    elif kind in REGISTRY_KINDS and isinstance(body, dict):
        party = body.get("party")
        about = party if isinstance(party, str) else None
    return _Claimed(entry_hash(env), who, about)


def _check_complete(
    bundle: Bundle,
    records: dict[tuple[RecordKind, str], Record | None],
    authority: str | None,
    size: int,
) -> None:
    """The company's stream and the registry record of every party it involves are whole at
    ``size`` (SPEC §10.3 step 6), checked on the entries' bytes before any rule runs, so that
    what is missing is named as missing.

    Raises:
        IncompleteRecordError: a record the rules read is not proved, or not whole.
        VerificationError: an entry of another stream, or about a party not proved.
    """
    parties = {ident for kind, ident in records if kind == "party"}
    needed: list[tuple[str, str]] = [(bundle.stream, "the company itself")]
    if authority is not None:
        needed.append((authority, "the authority"))
    claimed = [_claimed(e.envelope) for e in bundle.entries]
    about: dict[str, list[tuple[int, bytes]]] = {p: [] for p in parties}
    company: list[tuple[int, bytes]] = []
    for e, c in zip(bundle.entries, claimed, strict=True):
        where: dict[str, Any] = {"stream": e.stream, "position": e.position, "index": e.index}
        if e.index >= size:
            raise ProofError(
                f"entry index {e.index} is not below the checkpoint's tree size {size}", **where
            )
        if e.stream == bundle.stream:
            if e.position != len(company):
                raise IncompleteRecordError(
                    f"the record of {e.stream} is incomplete: position {len(company)} is "
                    f"missing (the next entry has position {e.position})",
                    **where,
                )
            if c.signer is not None:
                needed.append((c.signer, f"who signed the entry at index {e.index}"))
            company.append((e.index, c.entry_hash or b""))
        elif e.stream != REGISTRY_STREAM:
            raise VerificationError(
                f"entry of stream {e.stream!r} in a bundle of {bundle.stream!r}", **where
            )
    for party, why in needed:
        if party not in parties:
            raise IncompleteRecordError(
                f"the bundle leaves out the registry record of {party} ({why})",
                field="/state/records",
            )
    for e, c in zip(bundle.entries, claimed, strict=True):
        if e.stream == REGISTRY_STREAM and c.about is not None:
            if c.about not in about:
                raise VerificationError(
                    f"a registry entry about {c.about}, whose registry record the bundle does "
                    "not prove",
                    stream=e.stream,
                    position=e.position,
                    index=e.index,
                )
            about[c.about].append((e.index, c.entry_hash or b""))
    if ("stream", bundle.stream) not in records:
        raise IncompleteRecordError(
            f"the bundle does not prove the head of stream {bundle.stream} at its checkpoint",
            field="/state/records",
        )
    for party in sorted(about):
        check_party(party, records[("party", party)], about[party], size)
    check_stream(bundle.stream, records[("stream", bundle.stream)], company, size)


def _check_trusted(cp: Checkpoint, trusted: Checkpoint, proof: Sequence[bytes] | None) -> None:
    if trusted.origin != cp.origin:
        raise CheckpointError(
            f"the trusted checkpoint is of log {trusted.origin!r}, not {cp.origin!r}"
        )
    if trusted.size == cp.size:
        if trusted.root != cp.root:
            raise ProofError(
                f"the bundle's checkpoint and the trusted one have different roots at size "
                f"{cp.size}: the log forked"
            )
        return
    if proof is None:
        raise ProofError(
            f"the bundle's checkpoint (size {cp.size}) differs in size from the trusted one "
            f"(size {trusted.size}): a consistency proof is needed"
        )
    old, new = (trusted, cp) if trusted.size < cp.size else (cp, trusted)
    try:
        verify_consistency(old.size, new.size, proof, old.root, new.root)
    except ProofError as exc:
        raise ProofError(
            f"the bundle's checkpoint is not consistent with the trusted one: {exc.what}"
        ) from exc
