"""Evidence bundles exported from a real ledger (SQLite and PostgreSQL) verify offline."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from attest.bundle import verify_bundle
from attest.checkpoint import Checkpoint
from attest.errors import ProofError, VerificationError
from ledger._bundle import export_bundle, record_views
from ledger._ledger import Ledger
from ledger.errors import LedgerError
from tests.attest.examples import example_claim_withdraw_body
from tests.ledger.actors import mirrored_ledger

P = "acme-social"
Q = "globex-video"
V = "safecheck-labs"
IMG = "detect.hash_known_image"
REP = "report.authority"


def _story(url: str) -> Ledger:
    """Two providers with interleaved records, a verifier, verdicts, a withdrawal."""
    return _story_more(url)[0]


def _story_more(url: str) -> tuple[Ledger, Callable[[], None]]:
    """:func:`_story`, and a function appending one more claim of each provider."""
    ledger, b, put = mirrored_ledger(url)
    b.register(P, "provider", 3)
    put()
    b.register(Q, "provider", 4)
    put()
    b.register(V, "verifier", 5)
    put()
    b.accredit(V)
    put()
    c = b.claim(P, IMG)
    put()
    cq = b.claim(Q, IMG)
    put()
    t = b.test(V, P, c)
    put()
    b.test(V, Q, cq, result="FAILED")
    put()
    b.verdict(V, P, c, [t], result="CONFIRMED")
    put()
    c2 = b.claim(P, REP)
    put()
    b.append("claim.withdraw", P, P, example_claim_withdraw_body(c2))
    put()

    def more() -> None:
        b.claim(Q, REP)
        put()
        b.claim(P, IMG)
        put()

    return ledger, more


def test_export_verifies_offline_after_the_ledger_is_closed(store_url: str) -> None:
    ledger = _story(store_url)
    try:
        data = export_bundle(ledger, P)
        genesis = ledger.state.genesis_hash
        size = ledger.size
        at = ledger.state.last_log_time_ms
        live = ledger.views.replay(P, at_ms=at).to_dict()
        live_card = ledger.views.scorecard(at_ms=at).cell(P, IMG).to_dict()
    finally:
        ledger.close()
    copy = bytes(bytearray(data))
    record = verify_bundle(copy, genesis_hash=genesis)
    assert record.checkpoint.size == size
    assert record.stream_length == 5
    assert [p.signed.statement.kind for p in record.statements()] == [
        "claim.publish",
        "test.record",
        "verdict.issue",
        "claim.publish",
        "claim.withdraw",
    ]
    assert {p.signed.statement.stream for p in record.entries} == {"registry", P}
    # Replaying the verified record gives the same view of the company as the ledger's own.
    views = record_views(record)
    assert views.replay(P, at_ms=at).to_dict() == live
    assert views.scorecard(at_ms=at).cell(P, IMG).to_dict() == live_card


def test_export_against_an_earlier_checkpoint(store_url: str) -> None:
    ledger, more = _story_more(store_url)
    try:
        early = ledger.checkpoint()
        early_size = ledger.size
        more()
        data_now = export_bundle(ledger, P)
        data_early = export_bundle(ledger, P, checkpoint=early)
        proof = ledger.consistency_proof(early_size, ledger.size)
        with pytest.raises(LedgerError, match="is not a registered provider"):
            export_bundle(ledger, V)
        with pytest.raises(LedgerError, match="is not a registered provider"):
            export_bundle(ledger, "registry")
        with pytest.raises(LedgerError, match="does not verify"):
            export_bundle(ledger, P, checkpoint=early.replace(b"\n\n", b"\nx\n\n", 1))
    finally:
        ledger.close()
    rec_early = verify_bundle(data_early)
    assert rec_early.checkpoint.size == early_size
    assert rec_early.stream_length == 5
    with pytest.raises(ProofError, match="consistency proof is needed"):
        verify_bundle(data_now, trusted=rec_early.checkpoint)
    rec_now = verify_bundle(data_now, trusted=rec_early.checkpoint, consistency_proof=proof)
    assert rec_now.checkpoint.size == early_size + 2
    assert rec_now.stream_length == 6


def test_exported_bundle_tampering_and_pinning(store_url: str) -> None:
    ledger = _story(store_url)
    try:
        data = export_bundle(ledger, Q)
    finally:
        ledger.close()
    record = verify_bundle(data)
    assert record.stream_length == 2
    with pytest.raises(VerificationError, match="pinned ledger fingerprint"):
        verify_bundle(data, genesis_hash=bytes(32))
    wrong = Checkpoint(record.checkpoint.origin, record.checkpoint.size, bytes(32))
    with pytest.raises(ProofError, match="forked"):
        verify_bundle(data, trusted=wrong)
    # A payload byte changed inside an envelope: the signature no longer verifies.
    i = data.index(b'"payload\\":\\"') + 40
    damaged = data[:i] + (b"A" if data[i : i + 1] != b"A" else b"B") + data[i + 1 :]
    with pytest.raises(VerificationError):
        verify_bundle(damaged)
