"""Build signed logs in memory for tests: a tiny, rule-blind stand-in for the ledger's sequencer.

:class:`LogBuilder` signs statements with fixed example keys and places them (index, position,
log time) exactly as the ledger would. It does not check rules: tests use it to make both valid
logs and entries that break one rule, then ask :mod:`attest.rules` for its decision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from attest import canonical
from attest.build import make_statement
from attest.dsse import sign_envelope
from attest.entry import LogEntry, entry_hash, genesis_prev
from attest.statements import REGISTRY_STREAM, format_timestamp
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
        """Record ``entry`` as accepted: it becomes its stream's head."""
        from attest.dsse import Envelope

        env = Envelope.parse_stored(entry.envelope)
        _, length = self.head(entry.stream)
        self.heads[entry.stream] = (entry_hash(env).hex(), length + 1)
        self.entries.append(entry)
        self.time_ms = entry.log_time_ms
        return entry

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
