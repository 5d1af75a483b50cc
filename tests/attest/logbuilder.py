"""Build signed logs in memory for tests: a tiny, rule-blind stand-in for the ledger's sequencer.

:class:`LogBuilder` signs statements with fixed example keys and places them (index, position,
log time) exactly as the ledger would. It does not check rules: tests use it to make both valid
logs and entries that break one rule, then ask :mod:`attest.rules` for its decision.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from attest import canonical
from attest.build import make_statement
from attest.bundle import Bundle, BundleEntry
from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.completeness import RecordKind, RecordProof, StateProof
from attest.dsse import sign_envelope
from attest.entry import Leaf, LogEntry, entry_hash, genesis_prev, leaf_data
from attest.errors import VerificationError
from attest.merkle import MemoryTree, leaf_hash
from attest.statemap import Commitment, party_key, stream_key, subject
from attest.statements import REGISTRY_STREAM, format_timestamp, parse_statement
from keys import PrivateKey
from tests.attest.examples import (
    AUTHORITY,
    example_accreditation_grant_body,
    example_claim_body,
    example_genesis_body,
    example_party_register_body,
    example_provider_reply_body,
    example_seed,
    example_test_record_body,
    example_verdict_body,
)

Json = dict[str, Any]

T0 = 1_795_000_000_000  # 2026-11-18T...Z, in ms
STEP_MS = 1000


def key(n: int) -> PrivateKey:
    """Example private key ``n`` (the public halves are :func:`examples.example_key`)."""
    return PrivateKey.from_seed(example_seed(n))


AUTHORITY_KEY = 1
LOG_KEY = 2


@dataclass
class LogBuilder:
    """Signs and places statements; ``entries`` is the log so far."""

    entries: list[LogEntry] = field(default_factory=list)
    heads: dict[str, tuple[str, int]] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)  # party -> example key number it signs with
    time_ms: int = T0
    commitment: Commitment = field(default_factory=lambda: Commitment(keep=True))

    def head(self, stream: str) -> tuple[str, int]:
        return self.heads.get(stream) or (genesis_prev(stream), 0)

    def make(
        self,
        kind: str,
        stream: str,
        signer: str,
        body: Json,
        *,
        key_no: int | None = None,
        prev: str | None = None,
        signed_at_ms: int | None = None,
        index: int | None = None,
        position: int | None = None,
        log_time_ms: int | None = None,
    ) -> LogEntry:
        """Sign a statement and place it after the current log, without recording it."""
        head, length = self.head(stream)
        t = self.time_ms + STEP_MS if log_time_ms is None else log_time_ms
        statement = make_statement(
            kind=kind,
            stream=stream,
            prev=head if prev is None else prev,
            signer=signer,
            signed_at=format_timestamp(
                (t if signed_at_ms is None else signed_at_ms) // 1000 * 1000
            ),
            body=body,
        )
        payload = canonical.encode(statement)
        env = sign_envelope(payload, key(self.keys[signer] if key_no is None else key_no))
        return LogEntry(
            len(self.entries) if index is None else index,
            stream,
            length if position is None else position,
            t,
            env.to_bytes(),
        )

    def add(self, entry: LogEntry) -> LogEntry:
        """Record ``entry`` as accepted: it becomes its stream's head, and gets the state root of
        the commitment after it (SPEC §11), as the ledger would store it."""
        from attest.dsse import Envelope

        env = Envelope.parse_stored(entry.envelope)
        ehash = entry_hash(env)
        _, length = self.head(entry.stream)
        self.heads[entry.stream] = (ehash.hex(), length + 1)
        try:
            who = subject(parse_statement(canonical.decode_object(env.payload)))
        except VerificationError:
            who = None  # a deliberately broken entry: the rules refuse it anyway
        if entry.index == self.commitment.size:
            root = self.commitment.add(entry.stream, entry.index, entry.position, ehash, who)
            entry = dataclasses.replace(entry, state_root=root)
        self.entries.append(entry)
        self.time_ms = entry.log_time_ms
        return entry

    # -- what a ledger would serve ---------------------------------------------------------------

    def leaf_hashes(self) -> list[bytes]:
        """Every entry's Merkle leaf hash (SPEC §6.1)."""
        from attest.dsse import Envelope

        return [
            leaf_hash(
                leaf_data(
                    e.index,
                    e.stream,
                    e.position,
                    e.log_time_ms,
                    entry_hash(Envelope.parse_stored(e.envelope)),
                    e.state_root or bytes(32),
                )
            )
            for e in self.entries
        ]

    def tree(self) -> MemoryTree:
        """The log's Merkle tree."""
        return MemoryTree(self.leaf_hashes())

    def state_proof(
        self, size: int, records: Sequence[tuple[RecordKind, str]], tree: MemoryTree | None = None
    ) -> StateProof:
        """The completeness proof of these records at ``size`` (SPEC §11.4)."""
        from attest.dsse import Envelope

        tree = tree or self.tree()
        assert self.commitment.maps is not None
        m = self.commitment.maps[size]
        last = self.entries[size - 1]
        leaf = Leaf(
            last.index,
            last.stream,
            last.position,
            last.log_time_ms,
            entry_hash(Envelope.parse_stored(last.envelope)),
            last.state_root or bytes(32),
        )
        keys = {"stream": stream_key, "party": party_key}
        return StateProof(
            leaf,
            tuple(tree.inclusion_proof(size - 1, size)),
            tuple(RecordProof(k, i, m.prove(keys[k](i))) for k, i in records),
        )

    def company_parties(self, stream: str, size: int) -> list[str]:
        """The parties a company record involves at ``size``: the company, the authority and
        every signer on its stream (SPEC §10.1)."""
        from attest.dsse import Envelope

        parties = {stream, AUTHORITY}
        for e in self.entries[:size]:
            if e.stream == stream:
                payload = canonical.decode_object(Envelope.parse_stored(e.envelope).payload)
                parties.add(str(payload["signer"]))
        return sorted(parties)

    def bundle(
        self,
        stream: str,
        signer: NoteSigner,
        *,
        size: int | None = None,
        proof_size: int | None = None,
    ) -> Bundle:
        """The bundle an honest ledger would export at ``size`` (SPEC §10.1); ``proof_size``:
        inclusion proofs for another size (to test that they are refused)."""
        from attest.dsse import Envelope

        n = len(self.entries) if size is None else size
        tree = self.tree()
        parties = self.company_parties(stream, n)
        wanted = {i for p in parties for i in self.about(p, n)}
        entries = tuple(
            BundleEntry(
                r.index,
                r.stream,
                r.position,
                r.log_time_ms,
                r.envelope,
                r.state_root or bytes(32),
                tuple(tree.inclusion_proof(r.index, n if proof_size is None else proof_size)),
            )
            for r in self.entries
            if r.index < n and (r.stream == stream or r.index in wanted)
        )
        records: list[tuple[RecordKind, str]] = [("stream", stream)]
        records += [("party", p) for p in parties]
        note = sign_checkpoint(Checkpoint(signer.name, n, tree.root(n)), signer)
        return Bundle(
            signer.name,
            signer.verifier.vkey(),
            entry_hash(Envelope.parse_stored(self.entries[0].envelope)),
            stream,
            note,
            entries,
            self.state_proof(n, records, tree),
        )

    def about(self, party: str, size: int) -> list[int]:
        """Indexes of the registry entries about ``party`` below ``size``."""
        from attest.dsse import Envelope

        out = []
        for e in self.entries[:size]:
            if e.stream == REGISTRY_STREAM:
                st = parse_statement(
                    canonical.decode_object(Envelope.parse_stored(e.envelope).payload)
                )
                if subject(st) == party:
                    out.append(e.index)
        return out

    def append(self, kind: str, stream: str, signer: str, body: Json, **kw: Any) -> LogEntry:
        return self.add(self.make(kind, stream, signer, body, **kw))

    # -- the common story -----------------------------------------------------------------------

    def genesis(self) -> LogEntry:
        self.keys[AUTHORITY] = AUTHORITY_KEY
        return self.append(
            "genesis",
            REGISTRY_STREAM,
            AUTHORITY,
            example_genesis_body(authority_key=AUTHORITY_KEY, log_key=LOG_KEY),
        )

    def register(self, party: str, role: str, key_no: int) -> LogEntry:
        self.keys[party] = key_no
        body = example_party_register_body(party, role, keys=[key_no])
        return self.append("party.register", REGISTRY_STREAM, AUTHORITY, body)

    def accredit(self, verifier: str, measures: Sequence[str] | None = None) -> LogEntry:
        body = example_accreditation_grant_body(verifier, measures)
        return self.append("accreditation.grant", REGISTRY_STREAM, AUTHORITY, body)

    def claim(self, provider: str, measure: str = "detect.hash_known_image") -> str:
        return digest(self.append("claim.publish", provider, provider, example_claim_body(measure)))

    def test(self, verifier: str, provider: str, claim: str, result: str = "PASSED") -> str:
        body = example_test_record_body(claim, result=result)
        return digest(self.append("test.record", provider, verifier, body))

    def verdict(
        self,
        verifier: str,
        provider: str,
        claim: str,
        tests: Sequence[str],
        result: str = "CONFIRMED",
    ) -> str:
        body = example_verdict_body(claim, tests, result=result)
        return digest(self.append("verdict.issue", provider, verifier, body))

    def reply(self, provider: str, verdict: str) -> str:
        body = example_provider_reply_body(verdict)
        return digest(self.append("provider.reply", provider, provider, body))

    @classmethod
    def story(cls) -> LogBuilder:
        """Genesis, a provider, an accredited verifier, a claim, a test and a verdict."""
        b = cls()
        b.genesis()
        b.register("acme-social", "provider", 3)
        b.register("safecheck-labs", "verifier", 5)
        b.accredit("safecheck-labs")
        c = b.claim("acme-social")
        t = b.test("safecheck-labs", "acme-social", c)
        b.verdict("safecheck-labs", "acme-social", c, [t])
        return b


def digest(entry: LogEntry) -> str:
    """The statement digest (SPEC §3.4) of an entry: SHA-256 of its payload, hex."""
    from attest.dsse import Envelope

    return hashlib.sha256(Envelope.parse_stored(entry.envelope).payload).hexdigest()
