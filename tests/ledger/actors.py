"""Build signed statements against a ledger's current heads, signing with the example keys.

Small and stable: other test modules import it. Party ``AUTHORITY`` signs with example key 1 and
the log key is example key 2 (as in ``tests/attest/logbuilder.py``); :func:`register_story`
registers the provider ``P`` (key 3), the provider ``Q`` (key 6) and the verifier ``V`` (key 5,
accredited).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attest.build import make_statement, sign_statement
from attest.statements import REGISTRY_STREAM, format_timestamp
from ledger import Clock, Ledger, Receipt, system_clock
from tests.attest.examples import (
    AUTHORITY,
    example_accreditation_grant_body,
    example_claim_body,
    example_party_register_body,
)
from tests.attest.logbuilder import AUTHORITY_KEY, LOG_KEY, T0, LogBuilder, key

__all__ = [
    "AUTHORITY",
    "AUTHORITY_KEY",
    "KEYS",
    "LOG_KEY",
    "ORIGIN",
    "P",
    "Q",
    "V",
    "claim",
    "envelope",
    "init_ledger",
    "mirrored_ledger",
    "register_story",
]

ORIGIN = "claimledger.example/log"
P = "acme-social"
Q = "other-video"
V = "safecheck-labs"
KEYS: dict[str, int] = {AUTHORITY: AUTHORITY_KEY, P: 3, Q: 6, V: 5}
"""The example key number each party of the story signs with."""


def init_ledger(url: str, *, clock: Clock = system_clock) -> Ledger:
    """A new ledger at ``url`` with the example authority and log keys."""
    return Ledger.init(
        url,
        authority_id=AUTHORITY,
        authority_name="Online Safety Standards Board",
        authority_key=key(AUTHORITY_KEY),
        origin=ORIGIN,
        log_key=key(LOG_KEY),
        clock=clock,
    )


def envelope(
    ledger: Ledger,
    kind: str,
    stream: str,
    signer: str,
    body: dict[str, Any],
    *,
    key_no: int | None = None,
    prev: str | None = None,
    signed_at_ms: int | None = None,
) -> bytes:
    """The envelope bytes of a statement signed on top of ``stream``'s current head."""
    statement = make_statement(
        kind=kind,
        stream=stream,
        prev=ledger.head(stream)[0] if prev is None else prev,
        signer=signer,
        signed_at=format_timestamp(system_clock() if signed_at_ms is None else signed_at_ms),
        body=body,
    )
    return sign_statement(statement, key(KEYS[signer] if key_no is None else key_no)).to_bytes()


def register_story(ledger: Ledger) -> list[Receipt]:
    """Register ``P``, ``Q`` (providers) and ``V`` (verifier, accredited for every measure)."""
    out = []
    for party, role in ((P, "provider"), (Q, "provider"), (V, "verifier")):
        body = example_party_register_body(party, role, keys=[KEYS[party]])
        out.append(
            ledger.submit(envelope(ledger, "party.register", REGISTRY_STREAM, AUTHORITY, body))
        )
    body = example_accreditation_grant_body(V)
    out.append(
        ledger.submit(envelope(ledger, "accreditation.grant", REGISTRY_STREAM, AUTHORITY, body))
    )
    return out


def claim(ledger: Ledger, provider: str = P, measure: str = "detect.hash_known_image") -> bytes:
    """A ``claim.publish`` envelope by ``provider`` on its own stream."""
    return envelope(ledger, "claim.publish", provider, provider, example_claim_body(measure))


def mirrored_ledger(url: str) -> tuple[Ledger, LogBuilder, Callable[[], None]]:
    """A new ledger whose clock follows a :class:`LogBuilder` mirroring it.

    Returns the ledger, the builder (holding the ledger's own genesis) and ``put``, which submits
    the builder's newest entry at that entry's log time — so the ledger stores exactly the log
    the builder made, times included.
    """
    clock = [T0]
    ledger = init_ledger(url, clock=lambda: clock[0])
    b = LogBuilder()
    b.keys[AUTHORITY] = AUTHORITY_KEY
    b.add(ledger.log_entries(0, 1)[0])

    def put() -> None:
        raw = b.entries[-1]
        clock[0] = raw.log_time_ms
        ledger.submit(raw.envelope)

    return ledger, b, put
