"""The rules engine: every rule, accepted and refused, with the specific error and location."""

from __future__ import annotations

from typing import Any

import pytest

from attest.entry import LogEntry
from attest.errors import (
    ChainError,
    DanglingReferenceError,
    NotAuthorisedError,
    RevokedKeyError,
    SignatureError,
    UnknownKeyError,
    VerificationError,
)
from attest.rules import CLOCK_SKEW_MS, LogState, replay
from keys import KeyId, PrivateKey
from tests.attest.examples import (
    AUTHORITY,
    example_accreditation_suspend_body,
    example_claim_body,
    example_claim_withdraw_body,
    example_key,
    example_key_revoke_body,
    example_provider_reply_body,
    example_seed,
    example_test_record_body,
    example_verdict_body,
)
from tests.attest.logbuilder import LogBuilder, digest, key

P = "acme-social"
Q = "other-video"
V = "safecheck-labs"


def _story() -> tuple[LogBuilder, str, str, str]:
    b = LogBuilder()
    b.genesis()
    b.register(P, "provider", 3)
    b.register(Q, "provider", 6)
    b.register(V, "verifier", 5)
    b.accredit(V, ["detect.hash_known_image", "report.authority"])
    claim = b.claim(P)
    test = b.test(V, P, claim)
    verdict = b.verdict(V, P, claim, [test])
    return b, claim, test, verdict


def _decide(b: LogBuilder, entry: LogEntry) -> None:
    state = replay(b.entries)
    state.admit(state.open(entry))


def _refused(b: LogBuilder, entry: LogEntry, error: type[VerificationError], match: str) -> None:
    with pytest.raises(error, match=match) as info:
        _decide(b, entry)
    err = info.value
    assert (err.stream, err.position, err.index) == (entry.stream, entry.position, entry.index)


def test_the_story_is_accepted_and_builds_the_state() -> None:
    b, claim, test, verdict = _story()
    state = replay(b.entries)
    assert state.size == len(b.entries) == 8
    assert state.authority == AUTHORITY
    assert state.claims[bytes.fromhex(claim)].status == "active"
    assert state.tests[bytes.fromhex(test)] == (P, bytes.fromhex(claim), None)
    assert state.verdicts[bytes.fromhex(verdict)] == P
    assert state.head(P)[1] == 3


# -- placement ------------------------------------------------------------------------------------


def test_first_entry_must_be_genesis() -> None:
    b = LogBuilder()
    b.keys[AUTHORITY] = 1
    entry = b.make("party.register", "registry", AUTHORITY, {"party": "x"})
    with pytest.raises(VerificationError):
        _decide(b, entry)


def test_second_genesis_is_refused() -> None:
    b, *_ = _story()
    from tests.attest.examples import example_genesis_body

    entry = b.make("genesis", "registry", AUTHORITY, example_genesis_body())
    _refused(b, entry, NotAuthorisedError, "must be the first entry of the log, and only it")


def test_wrong_index_is_refused() -> None:
    b, *_ = _story()
    entry = b.make("claim.publish", P, P, example_claim_body(), index=99)
    _refused(b, entry, NotAuthorisedError, "index 99 is not the next index 8")


def test_wrong_position_is_refused() -> None:
    b, *_ = _story()
    entry = b.make("claim.publish", P, P, example_claim_body(), position=7)
    _refused(b, entry, NotAuthorisedError, "position 7 is not the next position 3")


def test_log_time_going_backwards_is_refused() -> None:
    b, *_ = _story()
    entry = b.make("claim.publish", P, P, example_claim_body(), log_time_ms=b.time_ms - 1)
    _refused(b, entry, NotAuthorisedError, "before the previous entry")


def test_signed_at_far_after_log_time_is_refused_but_skew_is_tolerated() -> None:
    b, *_ = _story()
    t = b.time_ms + 1000
    ok = b.make("claim.publish", P, P, example_claim_body(), log_time_ms=t, signed_at_ms=t + 60_000)
    _decide(b, ok)
    late = b.make(
        "claim.publish",
        P,
        P,
        example_claim_body(),
        log_time_ms=t,
        signed_at_ms=t + CLOCK_SKEW_MS + 2000,
    )
    _refused(b, late, NotAuthorisedError, "later than the log time allows")


# -- chain ----------------------------------------------------------------------------------------


def test_stale_prev_is_a_chain_conflict_reporting_the_head() -> None:
    b, *_ = _story()
    first_head = b.entries[5]  # acme-social's first entry (the claim)
    from attest.dsse import Envelope
    from attest.entry import entry_hash

    stale = entry_hash(Envelope.parse_stored(first_head.envelope)).hex()
    entry = b.make("claim.publish", P, P, example_claim_body(), prev=stale)
    with pytest.raises(ChainError) as info:
        _decide(b, entry)
    assert info.value.head == b.head(P)[0]
    assert info.value.length == 3
    assert info.value.field == "/prev"


def test_replaying_an_accepted_envelope_is_refused_as_a_chain_conflict() -> None:
    b, *_ = _story()
    old = b.entries[5]
    replayed = LogEntry(len(b.entries), old.stream, 3, b.time_ms + 1, old.envelope)
    _refused(b, replayed, ChainError, "is not the head")


# -- keys -----------------------------------------------------------------------------------------


def test_unknown_key_is_refused() -> None:
    b, *_ = _story()
    entry = b.make("claim.publish", P, P, example_claim_body(), key_no=42)
    _refused(b, entry, UnknownKeyError, "is not registered")


def test_provider_signing_as_another_party_is_refused() -> None:
    b, *_ = _story()
    # Q's key, but the statement claims P signed it.
    entry = b.make("claim.publish", P, P, example_claim_body(), key_no=6)
    _refused(b, entry, UnknownKeyError, f"is not a key of {P}")


def test_provider_signing_for_another_company_is_refused() -> None:
    b, *_ = _story()
    entry = b.make("claim.publish", P, Q, example_claim_body())
    _refused(b, entry, NotAuthorisedError, f"{Q} may not sign claim.publish on the stream of {P}")


def test_unregistered_signer_is_refused() -> None:
    b, *_ = _story()
    b.keys["nobody-here"] = 3
    entry = b.make("claim.publish", P, "nobody-here", example_claim_body())
    _refused(b, entry, UnknownKeyError, "not a registered party")


def test_a_revoked_key_signs_nothing_after_its_revocation() -> None:
    b, *_ = _story()
    b.append("key.add", "registry", P, {"party": P, "key": example_key(7)})
    kid = PrivateKey.from_seed(example_seed(3)).public_key.key_id
    b.append("key.revoke", "registry", P, {"party": P, "keyId": kid, "reason": "rotation"})
    entry = b.make("claim.publish", P, P, example_claim_body(), key_no=3)
    _refused(b, entry, RevokedKeyError, "was revoked at index 9")
    _decide(b, b.make("claim.publish", P, P, example_claim_body(), key_no=7))


def test_bad_signature_is_refused_with_location() -> None:
    b, *_ = _story()
    entry = b.make("claim.publish", P, P, example_claim_body())
    env = bytearray(entry.envelope)
    i = env.index(b'"sig":"') + 10
    env[i] = ord("A") if env[i] != ord("A") else ord("B")
    bad = LogEntry(entry.index, entry.stream, entry.position, entry.log_time_ms, bytes(env))
    _refused(b, bad, SignatureError, "does not verify")


def test_keys_may_not_be_reused_across_parties() -> None:
    b, *_ = _story()
    from tests.attest.examples import example_party_register_body

    body = example_party_register_body("copycat", "provider", keys=[3])
    _refused(b, b.make("party.register", "registry", AUTHORITY, body), NotAuthorisedError, "in use")


# -- the registry ---------------------------------------------------------------------------------


def test_only_the_authority_registers_parties() -> None:
    b, *_ = _story()
    from tests.attest.examples import example_party_register_body

    body = example_party_register_body("newcomer", "provider", keys=[8])
    _refused(
        b, b.make("party.register", "registry", P, body), NotAuthorisedError, "only the authority"
    )


def test_a_party_id_is_registered_once() -> None:
    b, *_ = _story()
    from tests.attest.examples import example_party_register_body

    body = example_party_register_body(P, "provider", keys=[8])
    _refused(
        b,
        b.make("party.register", "registry", AUTHORITY, body),
        NotAuthorisedError,
        "already registered",
    )


def test_only_verifiers_are_accredited() -> None:
    b, *_ = _story()
    from tests.attest.examples import example_accreditation_grant_body

    body = example_accreditation_grant_body(P)
    _refused(
        b, b.make("accreditation.grant", "registry", AUTHORITY, body), NotAuthorisedError, "not one"
    )


def test_a_party_may_not_add_keys_for_another() -> None:
    b, *_ = _story()
    body = {"party": Q, "key": example_key(9)}
    _refused(b, b.make("key.add", "registry", P, body), NotAuthorisedError, "may not add keys")


def test_revoking_an_unknown_key_is_refused() -> None:
    b, *_ = _story()
    body = {"party": P, "keyId": "ab" * 32, "reason": "x"}
    _refused(
        b, b.make("key.revoke", "registry", P, body), DanglingReferenceError, "is not a key of"
    )


def test_suspending_without_accreditation_is_refused() -> None:
    b, *_ = _story()
    b.register("fresh-verifier", "verifier", 10)
    body = example_accreditation_suspend_body("fresh-verifier")
    _refused(
        b,
        b.make("accreditation.suspend", "registry", AUTHORITY, body),
        DanglingReferenceError,
        "no accreditation",
    )


# -- provider streams -----------------------------------------------------------------------------


def test_statements_on_a_non_provider_stream_are_refused() -> None:
    b, *_ = _story()
    entry = b.make("claim.publish", V, V, example_claim_body())
    _refused(b, entry, NotAuthorisedError, "not the stream of a registered provider")


def test_withdraw_then_withdraw_again_is_refused() -> None:
    b, claim, *_ = _story()
    b.append("claim.withdraw", P, P, example_claim_withdraw_body(claim))
    entry = b.make("claim.withdraw", P, P, example_claim_withdraw_body(claim))
    _refused(b, entry, NotAuthorisedError, "is withdrawn, not active")


def test_supersede_marks_the_old_version_and_needs_an_active_one() -> None:
    b, claim, *_ = _story()
    b.append("claim.supersede", P, P, example_claim_body(supersedes=claim))
    state = replay(b.entries)
    assert state.claims[bytes.fromhex(claim)].status == "superseded"
    entry = b.make("claim.supersede", P, P, example_claim_body(supersedes=claim))
    _refused(b, entry, NotAuthorisedError, "is superseded, not active")


def test_claims_of_another_stream_cannot_be_referenced() -> None:
    b, claim, *_ = _story()
    entry = b.make("claim.withdraw", Q, Q, example_claim_withdraw_body(claim))
    _refused(b, entry, DanglingReferenceError, f"not a claim version in stream {Q}")


def test_tests_need_an_accredited_verifier() -> None:
    b, claim, *_ = _story()
    b.register("rogue-labs", "verifier", 11)
    entry = b.make("test.record", P, "rogue-labs", example_test_record_body(claim))
    _refused(b, entry, NotAuthorisedError, "rogue-labs is not accredited")


def test_providers_cannot_test_themselves() -> None:
    b, claim, *_ = _story()
    entry = b.make("test.record", P, P, example_test_record_body(claim))
    _refused(b, entry, NotAuthorisedError, "is not a verifier")


def test_accreditation_is_per_measure() -> None:
    b, *_ = _story()
    other = b.claim(P, "defaults.minor_settings")
    entry = b.make("test.record", P, V, example_test_record_body(other))
    _refused(b, entry, NotAuthorisedError, "not accredited for measure defaults.minor_settings")


def test_suspended_verifiers_sign_no_tests_or_verdicts() -> None:
    b, claim, test, _ = _story()
    b.append("accreditation.suspend", "registry", AUTHORITY, example_accreditation_suspend_body(V))
    _refused(
        b,
        b.make("test.record", P, V, example_test_record_body(claim)),
        NotAuthorisedError,
        "suspended",
    )
    entry = b.make("verdict.issue", P, V, example_verdict_body(claim, [test]))
    _refused(b, entry, NotAuthorisedError, "suspended")


def test_expired_accreditation_is_refused() -> None:
    b, claim, *_ = _story()
    from attest.statements import parse_timestamp

    after = parse_timestamp("2028-01-01T00:00:00Z")
    entry = b.make(
        "test.record", P, V, example_test_record_body(claim), log_time_ms=after, signed_at_ms=after
    )
    _refused(b, entry, NotAuthorisedError, "has expired")


def test_verdicts_reference_existing_claims_and_tests_of_that_claim() -> None:
    b, claim, test, _ = _story()
    missing = "cd" * 32
    _refused(
        b,
        b.make("verdict.issue", P, V, example_verdict_body(missing, [test])),
        DanglingReferenceError,
        "is not a claim version",
    )
    _refused(
        b,
        b.make("verdict.issue", P, V, example_verdict_body(claim, [missing])),
        DanglingReferenceError,
        f"test record {missing} is not in stream",
    )
    other = b.claim(P)
    entry = b.make("verdict.issue", P, V, example_verdict_body(other, [test]))
    _refused(b, entry, DanglingReferenceError, "tests another claim version")


def test_replies_reference_a_verdict_on_the_same_stream() -> None:
    b, _, _, verdict = _story()
    b.append("provider.reply", P, P, example_provider_reply_body(verdict))
    entry = b.make("provider.reply", P, P, example_provider_reply_body("ef" * 32))
    _refused(b, entry, DanglingReferenceError, "verdict")
    entry = b.make("provider.reply", P, V, example_provider_reply_body(verdict))
    _refused(b, entry, NotAuthorisedError, "may not sign provider.reply")


# -- the journal --------------------------------------------------------------------------------


def test_rollback_undoes_every_applied_entry() -> None:
    b, _claim, _test, _verdict = _story()
    state = replay(b.entries[:5])
    before = (dict(state.heads), dict(state.claims), state.size, state.last_log_time_ms)
    state.begin()
    for entry in b.entries[5:]:
        state.admit(state.open(entry))
    assert state.size == 8
    state.rollback()
    assert (dict(state.heads), dict(state.claims), state.size, state.last_log_time_ms) == before
    for entry in b.entries[5:]:
        state.admit(state.open(entry))
    assert state.verdicts == replay(b.entries).verdicts


def test_rollback_restores_mutated_objects() -> None:
    b, claim, *_ = _story()
    state = replay(b.entries)
    state.begin()
    state.admit(state.open(b.make("claim.withdraw", P, P, example_claim_withdraw_body(claim))))
    assert state.claims[bytes.fromhex(claim)].status == "withdrawn"
    state.rollback()
    assert state.claims[bytes.fromhex(claim)].status == "active"


def test_rollback_restores_engagements() -> None:
    """An engagement's verdicts and status are journaled: a batch rolled back (a store
    conflict) leaves the engagement open with no verdict, as before it."""
    from scripts.gen_vectors import engagement_log

    b, refs = engagement_log()
    state = replay(b.entries)
    running = bytes.fromhex(refs["running"])
    claim, at = refs["claim3"], b.time_ms + 10 * 86_400_000
    test = example_test_record_body(claim, engagement=refs["running"])
    test["window"] = {"start": "2026-12-02T09:00:00Z", "end": "2026-12-04T17:00:00Z"}
    state.begin()
    t = b.make("test.record", P, V, test, log_time_ms=at)
    state.admit(state.open(t))
    b.add(t)
    verdict = example_verdict_body(claim, [digest(t)], engagement=refs["running"])
    v = b.make("verdict.issue", P, V, verdict, log_time_ms=at)
    state.admit(state.open(v))
    b.add(v)
    close = b.make("engagement.close", P, V, {"engagement": refs["running"], "verdict": digest(v)})
    state.admit(state.open(close))
    assert (state.engagements[running].status, len(state.engagements[running].verdicts)) == (
        "closed",
        1,
    )
    state.rollback()
    assert (state.engagements[running].status, state.engagements[running].verdicts) == ("open", ())
    assert bytes.fromhex(digest(t)) not in state.tests


def test_the_same_decision_for_every_prefix_order() -> None:
    """A revocation sequenced before an append wins for everyone; after it, the append stands."""
    b, *_ = _story()
    b.append("key.add", "registry", P, {"party": P, "key": example_key(7)})
    kid = PrivateKey.from_seed(example_seed(3)).public_key.key_id
    revoke = b.make("key.revoke", "registry", P, {"party": P, "keyId": kid, "reason": "lost"})
    claim = b.make("claim.publish", P, P, example_claim_body(), key_no=3, index=len(b.entries) + 1)
    # Order 1: revoke first -> the claim signed with the revoked key is refused.
    state = replay(b.entries)
    state.admit(state.open(revoke))
    with pytest.raises(RevokedKeyError):
        state.admit(state.open(claim))
    # Order 2: claim first -> accepted, and the revocation after it is fine too.
    claim_first = LogEntry(
        len(b.entries), claim.stream, claim.position, claim.log_time_ms, claim.envelope
    )
    revoke_after = LogEntry(
        len(b.entries) + 1, revoke.stream, revoke.position, claim.log_time_ms, revoke.envelope
    )
    state = replay(b.entries)
    state.admit(state.open(claim_first))
    state.admit(state.open(revoke_after))
    assert isinstance(state, LogState)


def test_a_company_record_is_checked_alone_in_sparse_mode() -> None:
    b, claim, *_ = _story()
    b.claim(Q)
    b.append("claim.withdraw", P, P, example_claim_withdraw_body(claim))
    state = LogState(sparse=True)
    record = [e for e in b.entries if e.stream in ("registry", P)]
    assert len(record) < len(b.entries)
    for entry in record:
        state.admit(state.open(entry))
    assert state.claims[bytes.fromhex(claim)].status == "withdrawn"
    # Going back in the log is still refused, and a dense state refuses the gaps.
    with pytest.raises(NotAuthorisedError, match="is not the next index"):
        state.check(state.open(record[-1]))
    dense = LogState()
    gap = next(i for i, e in enumerate(record) if e.index != i)
    for entry in record[:gap]:
        dense.admit(dense.open(entry))
    with pytest.raises(NotAuthorisedError, match="is not the next index"):
        dense.check(dense.open(record[gap]))


def test_rollback_restores_keys_and_parties() -> None:
    """A compromise stated and a party retired in a batch that is rolled back leave no trace: the
    key reads as before (no entry flagged) and the party signs again."""
    from scripts.gen_vectors import PROVIDER2, parties_log

    b, _ = parties_log()
    state = replay(b.entries)
    acme_key = str(key(7).public_key.key_id)
    on_acme = [e for e in b.entries if e.stream == P]
    state.begin()
    body = example_key_revoke_body(P, acme_key)
    body["compromisedSince"] = {"index": on_acme[0].index}
    state.admit(state.open(b.make("key.revoke", "registry", AUTHORITY, body)))
    last = on_acme[-1]
    assert state.compromised(last.index, last.log_time_ms, acme_key) is not None
    state.rollback()
    assert state.compromised(last.index, last.log_time_ms, acme_key) is None
    assert state.keys[KeyId(acme_key)].revoked_at is None
    state.begin()
    retire = {"party": P, "reason": "Deregistered."}
    state.admit(state.open(b.make("party.retire", "registry", AUTHORITY, retire)))
    assert state.parties[P].retired_at == len(b.entries)
    state.rollback()
    assert state.parties[P].retired_at is None
    assert state.parties[PROVIDER2].retired_at is not None  # the log's own retirement stays


def test_a_stream_s_deferred_state_is_read_by_name_when_first_touched() -> None:
    """What a snapshot's open does (ledger/_snapshot.py): each stream's own state dropped and
    read back with its reader, called with the stream's name, at the first touch."""
    b, claim, _, _ = _story()
    b.claim(Q)
    whole = replay(b.entries)
    state = replay(b.entries)
    kept = state.stream_rules([P, Q])
    assert state.in_memory() == set(state.heads)  # every stream with an entry
    read: list[str] = []

    def reader(stream: str) -> Any:
        read.append(stream)
        return kept[stream]

    state.evict({P: reader, Q: reader})
    assert bytes.fromhex(claim) not in state.claims
    assert state.deferred == 2
    assert state.in_memory() == set(state.heads) - {P, Q}
    assert state.head(P) == whole.head(P)  # heads are not per-stream state: still there
    assert state.stream_rules([Q]) == {Q: kept[Q]}
    assert read == [Q]
    assert state.in_memory() == set(state.heads) - {P}
    state.defer({P: reader})  # as an open from a snapshot: the rest never read
    assert state.in_memory() == set(state.heads) - {P}
    b.test(V, P, claim)  # deciding an entry on P reads P's state first
    state.admit(state.open(b.entries[-1]))
    assert read == [Q, P]
    assert state.deferred == 0
    assert bytes.fromhex(claim) in state.claims
