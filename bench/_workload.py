"""Pre-signed, realistic ledger workloads for the benchmarks (built before any timing starts).

Many providers, each with its own key, publish claims (the example claim bodies of every measure,
≈1.5-2 KB envelopes); an accredited verifier records a test and issues a verdict on every tenth
claim. Provider streams start from their genesis ``prev`` values, so the entries can be signed
before the ledger exists; the registry entries are signed against the ledger's real genesis.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from itertools import islice
from typing import Any

from attest import canonical
from attest.build import make_statement
from attest.dsse import Envelope, sign_envelope
from attest.entry import entry_hash, genesis_prev
from attest.statements import REGISTRY_STREAM, format_timestamp
from keys import PrivateKey
from ledger import Ledger
from tests.attest.examples import (
    AUTHORITY,
    example_accreditation_grant_body,
    example_claim_body,
    example_party_register_body,
    example_test_record_body,
    example_verdict_body,
)
from tests.attest.logbuilder import AUTHORITY_KEY, LOG_KEY, key

MEASURES = (
    "detect.hash_known_image",
    "detect.hash_known_video",
    "detect.url_blocklist",
    "report.authority",
    "age.assurance",
    "defaults.minor_settings",
)
VERIFIER = "safecheck-labs"
VERIFIER_KEY = 5
ORIGIN = "claimledger.example/bench"


def provider(i: int) -> str:
    """Party id of benchmark provider ``i``."""
    return f"provider-{i:04d}"


@cache
def provider_key(i: int) -> PrivateKey:
    """Signing key of benchmark provider ``i``."""
    return PrivateKey.from_seed(hashlib.sha256(b"claimledger bench provider %d" % i).digest())


def _now() -> str:
    return format_timestamp(time.time_ns() // 1_000_000 // 1000 * 1000)


def signed_envelope(
    kind: str, stream: str, prev: str, signer: str, body: Mapping[str, Any], k: PrivateKey
) -> Envelope:
    """A statement, signed now by ``k``."""
    statement = make_statement(
        kind=kind, stream=stream, prev=prev, signer=signer, signed_at=_now(), body=body
    )
    return sign_envelope(canonical.encode(statement), k)


def init_ledger(url: str) -> Ledger:
    """A new ledger at ``url`` with the example authority and log keys."""
    return Ledger.init(
        url,
        authority_id=AUTHORITY,
        authority_name="Online Safety Standards Board",
        authority_key=key(AUTHORITY_KEY),
        origin=ORIGIN,
        log_key=key(LOG_KEY),
    )


def register_parties(ledger: Ledger, providers: int) -> None:
    """Register ``providers`` providers and one accredited verifier (setup, not timed).

    The registry entries are chained here (each ``prev`` is the entry hash of the one before)
    and appended with ``submit_many``, 4,096 at a time (for the 100,000 of bench_server)."""
    bodies: list[dict[str, Any]] = [
        example_party_register_body(VERIFIER, "verifier", keys=[VERIFIER_KEY]),
        example_accreditation_grant_body(VERIFIER, list(MEASURES)),
    ]
    for i in range(providers):
        body = example_party_register_body(provider(i), "provider", keys=[])
        body["keys"] = [provider_key(i).public_key.b64()]
        bodies.append(body)

    def chained() -> Iterator[bytes]:
        prev = ledger.head(REGISTRY_STREAM)[0]
        for body in bodies:
            kind = "accreditation.grant" if "measures" in body else "party.register"
            signer = key(AUTHORITY_KEY)
            envelope = signed_envelope(kind, REGISTRY_STREAM, prev, AUTHORITY, body, signer)
            prev = entry_hash(envelope).hex()
            yield envelope.to_bytes()

    submit_all(ledger, chained())


def submit_all(ledger: Ledger, envelopes: Iterable[bytes], chunk: int = 4096) -> None:
    """Submit ``envelopes`` with ``submit_many``, ``chunk`` at a time; raise the first refusal."""
    it = iter(envelopes)
    while batch := list(islice(it, chunk)):
        for receipt in ledger.submit_many(batch):
            if isinstance(receipt, Exception):
                raise receipt


@dataclass
class _Stream:
    prev: str
    last_claim: str | None = None
    claims: int = 0


def signed_entries(n: int, providers: int, part: tuple[int, int] = (0, 1)) -> Iterator[bytes]:
    """``n`` signed envelopes for the provider streams, chained, in a valid submission order.

    With ``part=(k, parts)``, only those of the providers ``p`` with ``p % parts == k``, in the
    same order: the ``parts`` generators together sign exactly the entries of the whole, each
    stream's in its order, so that they can run in separate processes.
    """
    k, parts = part
    streams = [_Stream(genesis_prev(provider(i))) for i in range(providers)]
    verifier_key = key(VERIFIER_KEY)
    made = 0
    i = 0
    while made < n:
        p = i % providers
        s = streams[p]
        name = provider(p)
        mine = p % parts == k
        if s.claims % 10 == 9 and s.last_claim is not None and made + 2 <= n:
            if mine:
                test = signed_envelope(
                    "test.record",
                    name,
                    s.prev,
                    VERIFIER,
                    example_test_record_body(s.last_claim),
                    verifier_key,
                )
                verdict = signed_envelope(
                    "verdict.issue",
                    name,
                    entry_hash(test).hex(),
                    VERIFIER,
                    example_verdict_body(s.last_claim, [payload_digest(test)]),
                    verifier_key,
                )
                s.prev = entry_hash(verdict).hex()
                yield test.to_bytes()
                yield verdict.to_bytes()
            made += 2
        else:
            if mine:
                body = example_claim_body(MEASURES[(i // providers) % len(MEASURES)])
                claim = signed_envelope("claim.publish", name, s.prev, name, body, provider_key(p))
                s.prev = entry_hash(claim).hex()
                s.last_claim = payload_digest(claim)
                yield claim.to_bytes()
            else:
                s.last_claim = ""  # a claim of another part: only its count matters here
            made += 1
        s.claims += 1
        i += 1


def payload_digest(envelope: Envelope) -> str:
    """The statement digest (SPEC §3.4) of ``envelope``, in hex: how claims are named."""
    return hashlib.sha256(envelope.payload).hexdigest()


def ledger_keys(ledger: Ledger) -> dict[str, bytes]:
    """The ledger's key map (key id → raw public key) for :class:`ledger._pool.SignaturePool`."""
    return {kid: k.key.raw for kid, k in ledger.state.keys.items()}
