"""The rules engine: whether the next entry may follow a log prefix (docs/SPEC.md §8).

:class:`LogState` is the fold of an accepted log prefix. :meth:`LogState.check` decides, for the
next entry, accept (returns) or reject (raises a :class:`~attest.errors.VerificationError`
subclass naming the reason); :meth:`LogState.apply` then records it. The ledger's sequencer and
every offline verifier run this same code in global index order, so they reach the same decision
for every entry, including when a key revocation races an append: whichever the log sequenced
first wins, for everyone.

Signatures are not checked here: they are stateless given the key, so callers check them (in
parallel) with :func:`open_envelope` before sequencing. What *is* checked here is that the key
that signed is an active key of the statement's signer at this log position.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Collection, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from attest import canonical
from attest.dsse import Envelope
from attest.entry import LogEntry, entry_hash, genesis_prev
from attest.errors import (
    ChainError,
    DanglingReferenceError,
    EncodingError,
    EngagementError,
    NotAuthorisedError,
    OutOfScopeError,
    RevokedKeyError,
    UnknownKeyError,
    VerificationError,
)
from attest.statemap import StateMap, apply_entry, subject
from attest.statements import (
    REGISTRY_KINDS,
    REGISTRY_STREAM,
    AccreditationGrant,
    AccreditationSuspend,
    Claim,
    ClaimWithdraw,
    DumpPublish,
    EngagementClose,
    EngagementOpen,
    EngagementWithdraw,
    Genesis,
    KeyAdd,
    KeyRevoke,
    Kind,
    LogKeyRotate,
    PartyRegister,
    PartyRetire,
    ProviderReply,
    ReferencePublish,
    Statement,
    TestRecord,
    Verdict,
    parse_statement,
    parse_timestamp,
)
from keys import KeyId, PublicKey
from keys.errors import KeyFormatError

__all__ = [
    "CLOCK_SKEW_MS",
    "STREAM_FIELDS",
    "LogKeyPeriod",
    "LogState",
    "Placed",
    "Signed",
    "StreamRules",
    "open_envelope",
    "open_genesis",
    "replay",
]

_UNFAVOURABLE = frozenset({"CONTRADICTED", "NO_EVIDENCE_FOUND"})

CLOCK_SKEW_MS = 10 * 60 * 1000
"""How far a statement's ``signedAt`` may lie after the log time at which it was sequenced."""


@dataclass(frozen=True, slots=True)
class Signed:
    """An envelope whose signature verified and whose payload parsed as a statement.

    Attributes:
        envelope: the envelope, as parsed.
        statement: the statement in its payload.
        entry_hash: SPEC §5.1 hash of the envelope.
        digest: SHA-256 of the payload bytes (SPEC §3.4).
    """

    envelope: Envelope
    statement: Statement
    entry_hash: bytes
    digest: bytes

    @property
    def keyid(self) -> KeyId:
        """Key id of the envelope's signature."""
        return self.envelope.signature.keyid


@dataclass(frozen=True, slots=True)
class Placed:
    """A signed entry at a place in the log: global index, stream position and log time."""

    signed: Signed
    index: int
    position: int
    log_time_ms: int

    def location(self) -> dict[str, str | int]:
        """Keyword arguments locating this entry in a :class:`VerificationError`."""
        return {
            "stream": self.signed.statement.stream,
            "position": self.position,
            "index": self.index,
        }


def _parse_payload(payload: bytes) -> Statement:
    return parse_statement(canonical.decode_object(payload))


def open_envelope(envelope: Envelope, key: PublicKey) -> Signed:
    """Verify ``envelope``'s signature with ``key``, then parse its statement.

    Raises:
        SignatureError: the signature does not verify with ``key``.
        EncodingError: the payload is not canonical JSON of the profile.
        SchemaError: the statement does not match the schema of its kind.
    """
    payload = envelope.verify(key)
    statement = _parse_payload(payload)
    return Signed(envelope, statement, entry_hash(envelope), hashlib.sha256(payload).digest())


def open_genesis(envelope: Envelope) -> Signed:
    """Open the genesis envelope, which is signed by the authority key it introduces.

    This is the one place a payload is parsed before its signature is checked: the key is inside
    it. Trust in the genesis entry comes from its entry hash, which users pin (SPEC §8.1).

    Raises:
        VerificationError: the payload is not a genesis statement, or its signature fails.
    """
    statement = _parse_payload(envelope.payload)
    body = statement.body
    if not isinstance(body, Genesis):
        raise NotAuthorisedError(
            f"the first entry of a log must be a genesis statement, not {statement.kind}"
        )
    return open_envelope(envelope, _public_key(body.authority_key, "/body/authorityKey"))


def _public_key(b64: str, pointer: str) -> PublicKey:
    try:
        return PublicKey.from_b64(b64)
    except KeyFormatError as exc:
        raise EncodingError(f"unusable public key: {exc}", field=pointer) from exc


@dataclass(slots=True)
class _Key:
    party: str
    key: PublicKey
    revoked_at: int | None = None
    # Where a compromise stated by the revocation began (SPEC §8.2 rule 5): a log index, or a
    # log time in ms; entries signed from there until ``revoked_at`` are not to be relied on.
    compromised_index: int | None = None
    compromised_ms: int | None = None


@dataclass(slots=True)
class _Party:
    role: str
    name: str
    keys: tuple[KeyId, ...] = ()
    retired_at: int | None = None


@dataclass(slots=True)
class _Accreditation:
    measures: frozenset[str]
    valid_until_ms: int | None
    suspended: bool = False


@dataclass(frozen=True, slots=True)
class _Claim:
    stream: str
    measure: str
    status: str  # active | withdrawn | superseded
    services: tuple[str, ...] = ()
    surfaces: tuple[str, ...] = ()
    jurisdictions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Engagement:
    stream: str
    verifier: str
    claims: tuple[bytes, ...]
    start_ms: int
    end_ms: int
    methods: tuple[tuple[str, str, str], ...]  # (method, protocol uri, protocol sha256)
    status: str = "open"  # open | closed | withdrawn
    verdicts: tuple[bytes, ...] = ()  # verdicts issued under it, in log order


@dataclass(frozen=True, slots=True)
class LogKeyPeriod:
    """A log key and the first tree size whose checkpoint it signs (SPEC §7.6).

    Attributes:
        from_size: the first tree size it signs (0 for the genesis's key).
        key: the log's public key.
        index: the index of the entry that named it (0: the genesis).
    """

    from_size: int
    key: PublicKey
    index: int


StreamRules = tuple[
    dict[bytes, "_Claim"],
    dict[bytes, tuple[str, bytes, bytes | None]],
    dict[bytes, str],
    dict[bytes, tuple[str, int]],
    dict[bytes, "_Engagement"],
]
"""One stream's claims, tests, verdicts, verdict findings and engagements, by digest."""

STREAM_FIELDS = ("claims", "tests", "verdicts", "verdict_findings", "engagements")
"""The fields of :class:`LogState` that hold per-stream state (:data:`StreamRules`)."""


@dataclass(slots=True)
class LogState:
    """The rules' view of an accepted log prefix: parties, keys, heads, claims, tests, verdicts,
    engagements.

    Build it by applying entries in index order, starting from an empty state.

    Attributes:
        sparse: check a *company record* instead of a whole log: the registry entries about
            the parties involved plus one provider's stream, in index order, with gaps where
            other entries were (SPEC §8.2). Every rule about a provider stream depends only on
            the records of the parties involved and that stream, so the decisions are the same as
            on the whole log; "index is the next index" becomes "index is after the previous
            one", and a registry entry may follow a gap in the registry (its ``prev`` is then not
            checked). Sparse states keep no state commitment.
        size: one more than the last index applied (the log size, when not sparse).
        state_map: the state commitment after the last entry applied (SPEC §11; not sparse).
        records: each party's registry record: (count, index of the last, fold) (not sparse).
        log_keys: every log key the log has named, in log order: the genesis's (from size 0), then
            each ``log.key.rotate``'s (SPEC §7.6).
    """

    sparse: bool = False
    size: int = 0
    last_log_time_ms: int = 0
    origin: str | None = None
    authority: str | None = None
    log_keys: tuple[LogKeyPeriod, ...] = ()
    genesis_hash: bytes | None = None
    heads: dict[str, tuple[str, int]] = field(default_factory=dict)
    parties: dict[str, _Party] = field(default_factory=dict)
    keys: dict[KeyId, _Key] = field(default_factory=dict)
    accreditations: dict[str, _Accreditation] = field(default_factory=dict)
    # The per-stream state (STREAM_FIELDS): any mapping (values are replaced, never changed).
    claims: MutableMapping[bytes, _Claim] = field(default_factory=dict)
    tests: MutableMapping[bytes, tuple[str, bytes, bytes | None]] = field(default_factory=dict)
    verdicts: MutableMapping[bytes, str] = field(default_factory=dict)
    # Each verdict's result and number of recommendations: which findings it opened, for the
    # commitments of a provider's reply (SPEC §8.2 rule 6).
    verdict_findings: MutableMapping[bytes, tuple[str, int]] = field(default_factory=dict)
    engagements: MutableMapping[bytes, _Engagement] = field(default_factory=dict)
    dumps: dict[str, int] = field(default_factory=dict)
    state_map: StateMap = field(default_factory=StateMap)
    records: dict[str, tuple[int, int, bytes]] = field(default_factory=dict)
    _journal: list[Callable[[], object]] | None = None
    # Provider streams whose per-stream state (STREAM_FIELDS) is not in memory yet, each with
    # the reader of it: a ledger opened from a snapshot reads a stream's when first touched.
    _deferred: dict[str, Callable[[str], StreamRules]] | None = None

    # -- per-stream state, kept apart by a snapshot (issue 10 §1) --------------------------------

    def stream_rules(self, streams: Collection[str]) -> dict[str, StreamRules]:
        """The per-stream state (:data:`STREAM_FIELDS`, each keyed by digest) of each stream in
        ``streams``. Every rule about a provider stream reads only its own (SPEC §8.2), so a
        state holding a stream's decides its entries as the whole state does."""
        for stream in streams:
            self._touch(stream)
        return self._partition(streams)

    def _partition(self, streams: Collection[str]) -> dict[str, StreamRules]:
        out: dict[str, StreamRules] = {s: ({}, {}, {}, {}, {}) for s in streams}
        for d, c in self.claims.items():
            if (part := out.get(c.stream)) is not None:
                part[0][d] = c
        for d, t in self.tests.items():
            if (part := out.get(t[0])) is not None:
                part[1][d] = t
        findings = self.verdict_findings
        for d, v in self.verdicts.items():
            if (part := out.get(v)) is not None:
                part[2][d] = v
                part[3][d] = findings[d]
        for d, e in self.engagements.items():
            if (part := out.get(e.stream)) is not None:
                part[4][d] = e
        return out

    def without_stream_rules(self) -> LogState:
        """A shallow copy holding no per-stream state (a snapshot's core), or journal."""
        if self._journal is not None:
            raise ValueError("cannot split a state while a transaction is open")
        return dataclasses.replace(
            self,
            claims={},
            tests={},
            verdicts={},
            verdict_findings={},
            engagements={},
            _journal=None,
            _deferred=None,
        )

    def defer(self, readers: dict[str, Callable[[str], StreamRules]]) -> None:
        """Read each stream's per-stream state with its reader (called with the stream's name)
        when first touched (by :meth:`check`, :meth:`apply` or :meth:`stream_rules`)."""
        self._deferred = dict(readers) or None

    def evict(self, readers: dict[str, Callable[[str], StreamRules]]) -> None:
        """Drop the per-stream state of each stream in ``readers`` from memory, to be read
        with its reader when next touched (as after :meth:`defer`). The caller vouches that
        each reader returns exactly the state dropped (a snapshot's part of it, unchanged
        since); one pass over the per-stream state in memory.

        Raises:
            ValueError: a transaction is open.
        """
        if self._journal is not None:
            raise ValueError("cannot drop state while a transaction is open")
        readers = {s: r for s, r in readers.items() if s not in (self._deferred or {})}
        if not readers:
            return
        for rules in self._partition(readers).values():
            parts: tuple[Collection[bytes], ...] = rules
            for name, part in zip(STREAM_FIELDS, parts, strict=True):
                mapping: MutableMapping[bytes, object] = getattr(self, name)
                for d in part:
                    del mapping[d]
        self._deferred = {**(self._deferred or {}), **readers}

    @property
    def deferred(self) -> int:
        """How many streams' per-stream state is not in memory yet."""
        return len(self._deferred or ())

    def in_memory(self) -> set[str]:
        """The streams whose per-stream state is in memory (not deferred): those with a head
        (a stream has per-stream state only once an entry was applied to it)."""
        return self.heads.keys() - (self._deferred or {}).keys()

    def _touch(self, stream: str) -> None:
        deferred = self._deferred
        if deferred is None or stream not in deferred:
            return
        claims, tests, verdicts, findings, engagements = deferred[stream](stream)
        del deferred[stream]
        self.claims.update(claims)
        self.tests.update(tests)
        self.verdicts.update(verdicts)
        self.verdict_findings.update(findings)
        self.engagements.update(engagements)

    # -- queries ---------------------------------------------------------------------------------

    def head(self, stream: str) -> tuple[str, int]:
        """The stream's head (hex entry hash, or its genesis value when empty) and length."""
        return self.heads.get(stream) or (genesis_prev(stream), 0)

    @property
    def state_root(self) -> bytes:
        """The root of the state commitment after the last entry applied (SPEC §11)."""
        return self.state_map.root()

    @property
    def log_key(self) -> PublicKey | None:
        """The log key in force at the current size (SPEC §7.6), or ``None`` before the genesis."""
        return self.log_key_at(self.size)

    def log_key_at(self, size: int) -> PublicKey | None:
        """The log key that signs the checkpoint (and snapshot) of tree size ``size`` (SPEC §7.6).

        Exact for every ``size`` up to :attr:`size`: a rotation takes effect at a size greater
        than that of the log that holds it, so no later entry changes the key of a size already
        reached. For a larger size it is the key in force as far as this state knows.
        """
        key = None
        for period in self.log_keys:
            if period.from_size > size:
                break
            key = period.key
        return key

    def log_key_period(self, key: PublicKey) -> LogKeyPeriod | None:
        """The period in which ``key`` was the log key, if the log ever named it."""
        for period in self.log_keys:
            if period.key == key:
                return period
        return None

    def key(self, keyid: str) -> PublicKey | None:
        """The public key with this id, if any party ever registered it (revoked or not)."""
        k = self.keys.get(KeyId(keyid))
        return None if k is None else k.key

    def compromised(self, index: int, log_time_ms: int, keyid: str) -> int | None:
        """The index of the revocation that states the key compromised when it signed the entry at
        ``index`` (logged at ``log_time_ms``), or ``None`` if the entry reads as usual.

        An entry is *not to be relied on* (SPEC §8.2 rule 5) if its key's revocation, at index
        ``r``, states ``compromisedSince`` and the entry lies from there up to ``r``: index at
        least ``compromisedSince.index``, or log time at least ``compromisedSince.time``. It stays
        in the log and stays accepted; this is how it reads, as of the entries applied so far.
        """
        k = self.keys.get(KeyId(keyid))
        if k is None or k.revoked_at is None or index >= k.revoked_at:
            return None
        if k.compromised_index is not None and index >= k.compromised_index:
            return k.revoked_at
        if k.compromised_ms is not None and log_time_ms >= k.compromised_ms:
            return k.revoked_at
        return None

    def open(self, raw: LogEntry) -> Placed:
        """Open a raw stored log entry for checking: parse, find its key, verify its signature.

        Raises:
            VerificationError: the stored bytes are malformed, the key is unknown, the signature
                fails or the statement is invalid; located at the entry.
        """
        where = {"stream": raw.stream, "position": raw.position, "index": raw.index}
        try:
            env = Envelope.parse_stored(raw.envelope)
            if raw.index == 0:
                signed = open_genesis(env)
            else:
                key = self.key(env.signature.keyid)
                if key is None:
                    raise UnknownKeyError(
                        f"key {env.signature.keyid} is not registered",
                        field="/signatures/0/keyid",
                    )
                signed = open_envelope(env, key)
        except VerificationError as exc:
            raise exc.located(**where) from None  # type: ignore[arg-type]
        return self.place(raw, signed)

    def place(self, raw: LogEntry, signed: Signed) -> Placed:
        """Put an entry opened elsewhere (e.g. in a worker process) at ``raw``'s place in the log.

        Raises:
            NotAuthorisedError: the stream the log filed the entry under (which its leaf commits
                to) is not the stream its statement names (which the rules read).
        """
        if signed.statement.stream != raw.stream:
            raise NotAuthorisedError(
                f"the log filed this entry under stream {raw.stream}, but its statement names "
                f"stream {signed.statement.stream}",
                field="/stream",
                stream=raw.stream,
                position=raw.position,
                index=raw.index,
            )
        return Placed(signed, raw.index, raw.position, raw.log_time_ms)

    # -- the decision ----------------------------------------------------------------------------

    def check(self, entry: Placed) -> None:
        """Decide whether ``entry`` may be the next entry of the log.

        Raises:
            VerificationError: a subclass naming the broken rule, located at the entry.
        """
        self._touch(entry.signed.statement.stream)
        try:
            self._check(entry)
        except VerificationError as exc:
            raise exc.located(**entry.location()) from None  # type: ignore[arg-type]

    def apply(self, entry: Placed) -> None:
        """Record an entry that :meth:`check` accepted. Never re-checks."""
        st = entry.signed.statement
        body = st.body
        digest = entry.signed.digest
        self._touch(st.stream)
        self._set(self, "size", entry.index + 1)
        self._set(self, "last_log_time_ms", entry.log_time_ms)
        ehash = entry.signed.entry_hash
        self._put(self.heads, st.stream, (ehash.hex(), entry.position + 1))
        if not self.sparse:
            self._commit(st, entry.index, entry.position + 1, ehash)
        if isinstance(body, Genesis):
            self._set(self, "origin", body.origin)
            self._set(self, "authority", st.signer)
            key = _public_key(body.log_key, "/body/logKey")
            self._set(self, "log_keys", (LogKeyPeriod(0, key, 0),))
            self._set(self, "genesis_hash", entry.signed.entry_hash)
            self._put(self.parties, st.signer, _Party("authority", body.authority_name))
            self._add_key(st.signer, body.authority_key)
        elif isinstance(body, PartyRegister):
            self._put(self.parties, body.party, _Party(body.role, body.name))
            for k in body.keys:
                self._add_key(body.party, k)
        elif isinstance(body, KeyAdd):
            self._add_key(body.party, body.key)
        elif isinstance(body, KeyRevoke):
            revoked = self.keys[KeyId(body.key_id)]
            self._set(revoked, "revoked_at", entry.index)
            since = body.compromised_since
            if since is not None and since.index is not None:
                self._set(revoked, "compromised_index", since.index)
            elif since is not None and since.time is not None:
                self._set(revoked, "compromised_ms", parse_timestamp(since.time))
        elif isinstance(body, PartyRetire):
            self._set(self.parties[body.party], "retired_at", entry.index)
        elif isinstance(body, LogKeyRotate):
            period = LogKeyPeriod(body.from_size, _public_key(body.key, "/body/key"), entry.index)
            self._set(self, "log_keys", (*self.log_keys, period))
        elif isinstance(body, AccreditationGrant):
            until = None if body.valid_until is None else parse_timestamp(body.valid_until)
            self._put(
                self.accreditations, body.party, _Accreditation(frozenset(body.measures), until)
            )
        elif isinstance(body, AccreditationSuspend):
            self._set(self.accreditations[body.party], "suspended", True)
        elif isinstance(body, Claim):
            if body.supersedes is not None:
                self._replace(self.claims, bytes.fromhex(body.supersedes), status="superseded")
            claim = _Claim(
                st.stream,
                body.measure,
                "active",
                body.services,
                tuple(x.value for x in body.surfaces),
                body.jurisdictions,
            )
            self._put(self.claims, digest, claim)
        elif isinstance(body, ClaimWithdraw):
            self._replace(self.claims, bytes.fromhex(body.claim), status="withdrawn")
        elif isinstance(body, TestRecord):
            eng = None if body.engagement is None else bytes.fromhex(body.engagement)
            self._put(self.tests, digest, (st.stream, bytes.fromhex(body.claim), eng))
        elif isinstance(body, Verdict):
            self._put(self.verdicts, digest, st.stream)
            self._put(self.verdict_findings, digest, (body.result.value, len(body.recommendations)))
            if body.engagement is not None:
                ref = bytes.fromhex(body.engagement)
                verdicts = (*self.engagements[ref].verdicts, digest)
                self._replace(self.engagements, ref, verdicts=verdicts)
        elif isinstance(body, EngagementOpen):
            engagement = _Engagement(
                st.stream,
                st.signer,
                tuple(bytes.fromhex(c) for c in body.claims),
                body.window.start_ms,
                body.window.end_ms,
                tuple(
                    (m.method.value, m.protocol.uri, m.protocol.digest.sha256) for m in body.methods
                ),
            )
            self._put(self.engagements, digest, engagement)
        elif isinstance(body, EngagementClose):
            self._replace(self.engagements, bytes.fromhex(body.engagement), status="closed")
        elif isinstance(body, EngagementWithdraw):
            self._replace(self.engagements, bytes.fromhex(body.engagement), status="withdrawn")
        elif isinstance(body, DumpPublish):
            self._put(self.dumps, body.date, entry.index)

    def _commit(self, st: Statement, index: int, length: int, ehash: bytes) -> None:
        """Update the state commitment for an entry just applied (SPEC §11.2)."""
        who = subject(st)
        m, record = apply_entry(
            self.state_map, self.records, st.stream, index, length - 1, ehash, who
        )
        if who is not None and record is not None:
            self._put(self.records, who, record)
        self._set(self, "state_map", m)

    # -- transactions: apply entries tentatively, then keep them or undo them ------------------

    def begin(self) -> None:
        """Start recording changes, so that :meth:`rollback` can undo every later :meth:`apply`."""
        self._journal = []

    def commit(self) -> None:
        """Keep every change since :meth:`begin` and stop recording."""
        self._journal = None

    def rollback(self) -> None:
        """Undo every change since :meth:`begin`, newest first, and stop recording."""
        journal, self._journal = self._journal, None
        for undo in reversed(journal or []):
            undo()

    def _set(self, obj: object, name: str, value: object) -> None:
        if self._journal is not None:
            old = getattr(obj, name)
            self._journal.append(lambda: setattr(obj, name, old))
        setattr(obj, name, value)

    def _replace(self, mapping: MutableMapping[Any, Any], key: object, **changes: object) -> None:
        """Put a changed copy of ``mapping[key]`` there: per-stream values are never changed in
        place, so that a mapping may keep them anywhere (on disk, for a verifier of a log too
        large to hold, ledger/_spill.py)."""
        self._put(mapping, key, dataclasses.replace(mapping[key], **changes))

    def _put(self, mapping: MutableMapping[Any, Any], key: object, value: object) -> None:
        if self._journal is not None:
            if key in mapping:
                old = mapping[key]
                self._journal.append(lambda: mapping.__setitem__(key, old))
            else:
                self._journal.append(lambda: mapping.__delitem__(key))
        mapping[key] = value

    def admit(self, entry: Placed) -> None:
        """:meth:`check`, then :meth:`apply`."""
        self.check(entry)
        self.apply(entry)

    def _add_key(self, party: str, b64: str) -> None:
        key = _public_key(b64, "/body")
        self._put(self.keys, key.key_id, _Key(party, key))
        p = self.parties[party]
        self._set(p, "keys", (*p.keys, key.key_id))

    # -- the rules, one by one -------------------------------------------------------------------

    def _check(self, entry: Placed) -> None:
        st = entry.signed.statement
        self._check_place(entry)
        head, length = self.head(st.stream)
        if st.prev != head and entry.position == length:
            raise ChainError(
                f"prev {st.prev} is not the head of stream {st.stream} "
                f"(head {head} at length {length})",
                head=head,
                length=length,
                field="/prev",
            )
        if parse_timestamp(st.signed_at) > entry.log_time_ms + CLOCK_SKEW_MS:
            raise NotAuthorisedError(
                f"signedAt {st.signed_at} is later than the log time allows", field="/signedAt"
            )
        if entry.index == 0:
            return  # the genesis statement: _check_place made sure of that
        self._check_key(entry)
        body = st.body
        if st.kind in REGISTRY_KINDS:
            self._check_registry(entry)
        else:
            self._check_provider_stream(entry, body)

    def _check_place(self, entry: Placed) -> None:
        st = entry.signed.statement
        if entry.index < self.size or (entry.index != self.size and not self.sparse):
            raise NotAuthorisedError(f"index {entry.index} is not the next index {self.size}")
        if entry.log_time_ms < self.last_log_time_ms:
            raise NotAuthorisedError(
                f"log time {entry.log_time_ms} is before the previous entry's "
                f"{self.last_log_time_ms}"
            )
        _, length = self.head(st.stream)
        gap = self.sparse and st.stream == REGISTRY_STREAM and entry.position > length
        if entry.position != length and not gap:
            raise NotAuthorisedError(
                f"position {entry.position} is not the next position {length} of {st.stream}"
            )
        is_genesis = st.kind == Kind.GENESIS
        if is_genesis != (entry.index == 0):
            raise NotAuthorisedError(
                "a genesis statement must be the first entry of the log, and only it"
                if is_genesis
                else f"the first entry of a log must be a genesis statement, not {st.kind}",
                field="/kind",
            )

    def _check_key(self, entry: Placed) -> None:
        st = entry.signed.statement
        keyid = entry.signed.keyid
        if st.signer not in self.parties:
            raise UnknownKeyError(f"signer {st.signer} is not a registered party", field="/signer")
        k = self.keys.get(keyid)
        if k is None or k.party != st.signer:
            raise UnknownKeyError(
                f"key {keyid} is not a key of {st.signer}", field="/signatures/0/keyid"
            )
        if k.revoked_at is not None:
            raise RevokedKeyError(
                f"key {keyid} of {st.signer} was revoked at index {k.revoked_at}",
                field="/signatures/0/keyid",
            )
        retired = self.parties[st.signer].retired_at
        if retired is not None:
            raise NotAuthorisedError(
                f"{st.signer} was retired at index {retired} and signs nothing since",
                field="/signer",
            )

    def _require_authority(self, st: Statement) -> None:
        if st.signer != self.authority:
            raise NotAuthorisedError(
                f"only the authority may sign {st.kind}, not {st.signer}", field="/signer"
            )

    def _party(self, party: str, pointer: str = "/body/party") -> _Party:
        p = self.parties.get(party)
        if p is None:
            raise DanglingReferenceError(f"party {party} is not registered", field=pointer)
        return p

    def _check_new_key(self, b64: str, pointer: str) -> None:
        key = _public_key(b64, pointer)
        if key.key_id in self.keys or self.log_key_period(key) is not None:
            raise NotAuthorisedError(f"key {key.key_id} is already in use", field=pointer)

    def _check_registry(self, entry: Placed) -> None:
        st = entry.signed.statement
        body = st.body
        if isinstance(body, PartyRegister):
            self._require_authority(st)
            if body.party in self.parties or body.party == REGISTRY_STREAM:
                raise NotAuthorisedError(
                    f"party {body.party} is already registered", field="/body/party"
                )
            seen: set[str] = set()
            for i, k in enumerate(body.keys):
                self._check_new_key(k, f"/body/keys/{i}")
                if k in seen:
                    raise NotAuthorisedError("a key is listed twice", field=f"/body/keys/{i}")
                seen.add(k)
        elif isinstance(body, KeyAdd):
            self._party(body.party)
            if st.signer not in (self.authority, body.party):
                raise NotAuthorisedError(
                    f"{st.signer} may not add keys for {body.party}", field="/signer"
                )
            self._not_retired(body.party)
            self._check_new_key(body.key, "/body/key")
        elif isinstance(body, KeyRevoke):
            self._party(body.party)
            if st.signer not in (self.authority, body.party):
                raise NotAuthorisedError(
                    f"{st.signer} may not revoke keys of {body.party}", field="/signer"
                )
            known = self.keys.get(KeyId(body.key_id))
            if known is None or known.party != body.party:
                raise DanglingReferenceError(
                    f"key {body.key_id} is not a key of {body.party}", field="/body/keyId"
                )
            if known.revoked_at is not None:
                raise NotAuthorisedError(
                    f"key {body.key_id} is already revoked (index {known.revoked_at})",
                    field="/body/keyId",
                )
            if body.compromised_since is not None:
                self._check_compromise(entry, body)
        elif isinstance(body, PartyRetire):
            self._require_authority(st)
            p = self._party(body.party)
            if body.party == self.authority:
                raise NotAuthorisedError("the authority cannot retire itself", field="/body/party")
            if p.retired_at is not None:
                raise NotAuthorisedError(
                    f"{body.party} is already retired (index {p.retired_at})", field="/body/party"
                )
        elif isinstance(body, AccreditationGrant):
            self._require_authority(st)
            self._not_retired(body.party)
            if self._party(body.party).role != "verifier":
                raise NotAuthorisedError(
                    f"only verifiers can be accredited; {body.party} is not one",
                    field="/body/party",
                )
        elif isinstance(body, LogKeyRotate):
            self._check_rotation(entry, body)
        elif isinstance(body, AccreditationSuspend):
            self._require_authority(st)
            acc = self.accreditations.get(body.party)
            if acc is None or acc.suspended:
                raise DanglingReferenceError(
                    f"{body.party} holds no accreditation to suspend", field="/body/party"
                )
        elif isinstance(body, ReferencePublish):
            self._require_authority(st)
        elif isinstance(body, DumpPublish):
            self._require_authority(st)
            if body.checkpoint_size > entry.index:
                raise NotAuthorisedError(
                    f"checkpointSize {body.checkpoint_size} is not a log size before this entry "
                    f"(index {entry.index})",
                    field="/body/checkpointSize",
                )
            earlier = self.dumps.get(body.date)
            if earlier is not None:
                raise NotAuthorisedError(
                    f"the dump of {body.date} is already logged (index {earlier})",
                    field="/body/date",
                )
        else:  # pragma: no cover - the schema ties registry kinds to these bodies
            raise NotAuthorisedError(f"unexpected {st.kind} on the registry stream")

    def _check_rotation(self, entry: Placed, body: LogKeyRotate) -> None:
        """``log.key.rotate``: by the authority, a new key, from a size a checkpoint under the key
        in force reaches only after covering this entry, and one rotation pending at a time."""
        self._require_authority(entry.signed.statement)
        if body.from_size <= entry.index + 1:
            raise NotAuthorisedError(
                f"fromSize {body.from_size} must be greater than {entry.index + 1}, the size of "
                "the log once this rotation is in it, so that a checkpoint signed by the key in "
                "force covers it",
                field="/body/fromSize",
            )
        last = self.log_keys[-1] if self.log_keys else None
        if last is not None and last.from_size > entry.index + 1:
            raise NotAuthorisedError(
                f"the rotation at index {last.index} takes effect at size {last.from_size}; a "
                "further rotation may be logged only once the tree has reached it",
                field="/body/fromSize",
            )
        key = _public_key(body.key, "/body/key")
        if key.key_id in self.keys or self.log_key_period(key) is not None:
            raise NotAuthorisedError(
                f"key {key.key_id} is already in use (a party's key or a log key, now or "
                "before): a log key is new",
                field="/body/key",
            )

    def _not_retired(self, party: str, pointer: str = "/body/party") -> None:
        retired = self._party(party, pointer).retired_at
        if retired is not None:
            raise NotAuthorisedError(f"{party} was retired at index {retired}", field=pointer)

    def _check_compromise(self, entry: Placed, body: KeyRevoke) -> None:
        """``compromisedSince``: stated by the authority, and not after the revocation itself."""
        st = entry.signed.statement
        since = body.compromised_since
        if since is None:  # pragma: no cover - the caller checks
            return
        if st.signer != self.authority:
            raise NotAuthorisedError(
                "only the authority may state that a key was compromised",
                field="/body/compromisedSince",
            )
        if since.index is not None and since.index >= entry.index:
            raise NotAuthorisedError(
                f"compromisedSince index {since.index} is not before this revocation "
                f"(index {entry.index})",
                field="/body/compromisedSince/index",
            )
        if since.time is not None and parse_timestamp(since.time) > entry.log_time_ms:
            raise NotAuthorisedError(
                f"compromisedSince time {since.time} is after this revocation's log time",
                field="/body/compromisedSince/time",
            )

    def _accredited(self, entry: Placed, measure: str) -> None:
        st = entry.signed.statement
        if self.parties[st.signer].role != "verifier":
            raise NotAuthorisedError(
                f"only accredited verifiers sign {st.kind}; {st.signer} is not a verifier",
                field="/signer",
            )
        acc = self.accreditations.get(st.signer)
        if acc is None or acc.suspended:
            state = "suspended" if acc is not None else "not accredited"
            raise NotAuthorisedError(f"verifier {st.signer} is {state}", field="/signer")
        if acc.valid_until_ms is not None and entry.log_time_ms > acc.valid_until_ms:
            raise NotAuthorisedError(
                f"the accreditation of verifier {st.signer} has expired", field="/signer"
            )
        if measure not in acc.measures:
            raise NotAuthorisedError(
                f"verifier {st.signer} is not accredited for measure {measure}", field="/signer"
            )

    def _claim(self, stream: str, hexdigest: str, pointer: str) -> _Claim:
        claim = self.claims.get(bytes.fromhex(hexdigest))
        if claim is None or claim.stream != stream:
            raise DanglingReferenceError(
                f"claim {hexdigest} is not a claim version in stream {stream}", field=pointer
            )
        return claim

    def _check_provider_stream(self, entry: Placed, body: object) -> None:
        st = entry.signed.statement
        owner = self.parties.get(st.stream)
        if owner is None or owner.role != "provider":
            raise NotAuthorisedError(
                f"stream {st.stream} is not the stream of a registered provider", field="/stream"
            )
        if owner.retired_at is not None:
            raise NotAuthorisedError(
                f"provider {st.stream} was retired at index {owner.retired_at}: its stream is "
                "closed",
                field="/stream",
            )
        if isinstance(body, EngagementOpen | EngagementClose | EngagementWithdraw):
            self._check_engagement_entry(entry, body)
            return
        if isinstance(body, Claim | ClaimWithdraw | ProviderReply) and st.signer != st.stream:
            raise NotAuthorisedError(
                f"{st.signer} may not sign {st.kind} on the stream of {st.stream}",
                field="/signer",
            )
        if isinstance(body, Claim):
            if (st.kind == Kind.CLAIM_SUPERSEDE) != (body.supersedes is not None):
                raise NotAuthorisedError("only claim.supersede names a superseded claim")
            if body.supersedes is not None:
                old = self._claim(st.stream, body.supersedes, "/body/supersedes")
                if old.status != "active":
                    raise NotAuthorisedError(
                        f"claim {body.supersedes} is {old.status}, not active",
                        field="/body/supersedes",
                    )
        elif isinstance(body, ClaimWithdraw):
            claim = self._claim(st.stream, body.claim, "/body/claim")
            if claim.status != "active":
                raise NotAuthorisedError(
                    f"claim {body.claim} is {claim.status}, not active", field="/body/claim"
                )
        elif isinstance(body, TestRecord):
            claim = self._claim(st.stream, body.claim, "/body/claim")
            self._accredited(entry, claim.measure)
            if body.engagement is not None:
                self._check_engaged_test(st, body, claim)
        elif isinstance(body, Verdict):
            claim = self._claim(st.stream, body.claim, "/body/claim")
            self._accredited(entry, claim.measure)
            for i, t in enumerate(body.tests):
                test = self.tests.get(bytes.fromhex(t))
                if test is None or test[0] != st.stream:
                    raise DanglingReferenceError(
                        f"test record {t} is not in stream {st.stream}", field=f"/body/tests/{i}"
                    )
                if test[1].hex() != body.claim:
                    raise DanglingReferenceError(
                        f"test record {t} tests another claim version", field=f"/body/tests/{i}"
                    )
            if body.engagement is not None:
                engagement, _ = self._engaged(st, body.engagement, body.claim)
                for i, t in enumerate(body.tests):
                    if self.tests[bytes.fromhex(t)][2] != engagement:
                        raise EngagementError(
                            f"test record {t} was not recorded under engagement {body.engagement}",
                            field=f"/body/tests/{i}",
                        )
        elif isinstance(body, ProviderReply):
            if self.verdicts.get(bytes.fromhex(body.verdict)) != st.stream:
                raise DanglingReferenceError(
                    f"verdict {body.verdict} is not in stream {st.stream}", field="/body/verdict"
                )
            self._check_commitments(body)

    def _check_commitments(self, body: ProviderReply) -> None:
        """Each commitment answers a finding the verdict opened (SPEC §8.2 rule 6): the verdict's
        one finding if it is unfavourable, else one of its recommendations, by index."""
        result, recommendations = self.verdict_findings[bytes.fromhex(body.verdict)]
        for i, c in enumerate(body.commitments):
            at = f"/body/commitments/{i}"
            if result in _UNFAVOURABLE:
                if c.recommendation is not None:
                    raise DanglingReferenceError(
                        f"verdict {body.verdict} is {result}: it opened one finding, not one "
                        "per recommendation (omit recommendation)",
                        field=f"{at}/recommendation",
                    )
            elif result == "CONFIRMED_WITH_COMMENTS" and recommendations:
                if c.recommendation is None:
                    raise DanglingReferenceError(
                        f"verdict {body.verdict} opened a finding per recommendation: name the "
                        "one this commitment answers",
                        field=at,
                    )
                if c.recommendation >= recommendations:
                    raise DanglingReferenceError(
                        f"verdict {body.verdict} has {recommendations} recommendations: there "
                        f"is no recommendation {c.recommendation}",
                        field=f"{at}/recommendation",
                    )
            else:
                raise DanglingReferenceError(
                    f"verdict {body.verdict} is {result} with no recommendation: it opened no "
                    "finding to commit to",
                    field=at,
                )

    # -- engagements (SPEC §8.2, rule 7) ---------------------------------------------------------

    def _engagement(self, stream: str, hexdigest: str) -> tuple[bytes, _Engagement]:
        digest = bytes.fromhex(hexdigest)
        e = self.engagements.get(digest)
        if e is None or e.stream != stream:
            raise DanglingReferenceError(
                f"engagement {hexdigest} is not an engagement in stream {stream}",
                field="/body/engagement",
            )
        return digest, e

    def _engaged(self, st: Statement, hexdigest: str, claim: str) -> tuple[bytes, _Engagement]:
        """The engagement a test record or verdict names: the signer's, open, covering claim."""
        digest, e = self._engagement(st.stream, hexdigest)
        if e.verifier != st.signer:
            raise EngagementError(
                f"engagement {hexdigest} was opened by {e.verifier}, not {st.signer}",
                field="/body/engagement",
            )
        if e.status != "open":
            raise EngagementError(
                f"engagement {hexdigest} is {e.status}, not open", field="/body/engagement"
            )
        if bytes.fromhex(claim) not in e.claims:
            raise EngagementError(
                f"engagement {hexdigest} does not cover claim version {claim}",
                field="/body/claim",
            )
        return digest, e

    def _check_engaged_test(self, st: Statement, body: TestRecord, claim: _Claim) -> None:
        """A test record under an engagement: the engagement fits, then the claim's scope."""
        _, e = self._engaged(st, str(body.engagement), body.claim)
        window = body.window
        if window.start_ms < e.start_ms or window.end_ms > e.end_ms:
            raise EngagementError(
                f"test window {window.start}..{window.end} is not inside the window of "
                f"engagement {body.engagement}",
                field="/body/window",
            )
        planned = (body.method.value, body.protocol.uri, body.protocol.digest.sha256)
        if planned not in e.methods:
            raise EngagementError(
                f"method {body.method.value} with protocol {body.protocol.uri} is not in the "
                f"plan of engagement {body.engagement}",
                field="/body/method",
            )
        env = body.environment
        if env.service not in claim.services:
            raise OutOfScopeError(
                f"service {env.service!r} is not among the services of the claim",
                field="/body/environment/service",
            )
        if env.surface.value not in claim.surfaces:
            raise OutOfScopeError(
                f"surface {env.surface.value} is not among the surfaces of the claim",
                field="/body/environment/surface",
            )
        if env.jurisdiction not in claim.jurisdictions and "GLOBAL" not in claim.jurisdictions:
            raise OutOfScopeError(
                f"jurisdiction {env.jurisdiction} is not among the jurisdictions of the claim",
                field="/body/environment/jurisdiction",
            )

    def _check_engagement_entry(
        self, entry: Placed, body: EngagementOpen | EngagementClose | EngagementWithdraw
    ) -> None:
        st = entry.signed.statement
        if isinstance(body, EngagementOpen):
            for i, c in enumerate(body.claims):
                claim = self._claim(st.stream, c, f"/body/claims/{i}")
                if claim.status != "active":
                    raise NotAuthorisedError(
                        f"claim {c} is {claim.status}, not active", field=f"/body/claims/{i}"
                    )
                self._accredited(entry, claim.measure)
            if body.window.start_ms < entry.log_time_ms - CLOCK_SKEW_MS:
                raise EngagementError(
                    f"the window starts at {body.window.start}, before the engagement was "
                    "logged: an engagement is registered before testing",
                    field="/body/window/start",
                )
            return
        _, e = self._engagement(st.stream, body.engagement)
        allowed = (e.verifier,) if isinstance(body, EngagementClose) else (e.verifier, st.stream)
        if st.signer not in allowed:
            raise NotAuthorisedError(
                f"{st.signer} may not sign {st.kind} for an engagement of {e.verifier}",
                field="/signer",
            )
        if e.status != "open":
            raise EngagementError(
                f"engagement {body.engagement} is {e.status}, not open", field="/body/engagement"
            )
        if isinstance(body, EngagementClose) and bytes.fromhex(body.verdict) not in e.verdicts:
            if self.verdicts.get(bytes.fromhex(body.verdict)) != st.stream:
                raise DanglingReferenceError(
                    f"verdict {body.verdict} is not in stream {st.stream}", field="/body/verdict"
                )
            raise EngagementError(
                f"verdict {body.verdict} was not issued under engagement {body.engagement}",
                field="/body/verdict",
            )


def replay(entries: Iterable[LogEntry]) -> LogState:
    """Open, check and apply raw entries in order from an empty state (small logs, tests).

    Raises:
        VerificationError: the first entry that fails, located.
    """
    state = LogState()
    for raw in entries:
        state.admit(state.open(raw))
    return state
