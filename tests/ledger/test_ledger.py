"""The Ledger on real databases: init/open, every rule through the write path, receipts, proofs."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from attest import canonical
from attest.checkpoint import verify_checkpoint
from attest.dsse import Envelope, sign_envelope
from attest.entry import entry_hash, genesis_prev, leaf_data
from attest.errors import (
    ChainError,
    DanglingReferenceError,
    EncodingError,
    NotAuthorisedError,
    RevokedKeyError,
    SchemaError,
    SignatureError,
    UnknownKeyError,
    VerificationError,
)
from attest.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion
from attest.rules import Placed
from attest.statements import REGISTRY_STREAM, parse_timestamp
from attest.verify import LogVerifier
from ledger import (
    CorruptionError,
    Ledger,
    LedgerError,
    LedgerExistsError,
    LedgerNotFoundError,
    Receipt,
    open_store,
)
from ledger._ledger import PERSIST_EVERY_S, checkpoint_size_of
from tests.attest.examples import (
    AUTHORITY,
    example_accreditation_grant_body,
    example_accreditation_suspend_body,
    example_claim_body,
    example_claim_withdraw_body,
    example_genesis_body,
    example_key_add_body,
    example_key_revoke_body,
    example_party_register_body,
    example_provider_reply_body,
    example_test_record_body,
    example_verdict_body,
)
from tests.attest.logbuilder import key
from tests.ledger.actors import (
    LOG_KEY,
    P,
    Q,
    V,
    claim,
    envelope,
    init_ledger,
    register_story,
)

Json = dict[str, Any]


def digest(env: bytes) -> str:
    """SPEC §3.4 digest of an envelope's statement."""
    return hashlib.sha256(Envelope.parse(env).payload).hexdigest()


def ehash(env: bytes) -> bytes:
    return entry_hash(Envelope.parse(env))


def key_id(n: int) -> str:
    return str(key(n).public_key.key_id)


def verify_all(led: Ledger) -> None:
    """Full offline verification of everything stored, against the ledger's checkpoint."""
    v = LogVerifier()
    for raw in led.iter_log():
        v.feed(raw)
    v.finish(led.checkpoint())


def check_receipt(led: Ledger, r: Receipt) -> None:
    cp = verify_checkpoint(r.checkpoint, led.note_verifier)
    assert cp.size == r.tree_size
    leaf = leaf_hash(
        leaf_data(r.index, r.stream, r.position, r.log_time_ms, r.entry_hash, r.state_root)
    )
    verify_inclusion(leaf, r.index, r.tree_size, r.inclusion_proof, cp.root)


@pytest.fixture
def led(store_url: str) -> Any:
    ledger = init_ledger(store_url)
    yield ledger
    ledger.close()


# -- init and open --------------------------------------------------------------------------------


def test_init_writes_a_verifiable_genesis(led: Ledger) -> None:
    assert led.size == 1
    (genesis,) = led.log_entries(0, 1)
    assert (genesis.index, genesis.stream, genesis.position) == (0, REGISTRY_STREAM, 0)
    v = LogVerifier()
    v.feed(genesis)
    result = v.finish(led.checkpoint())
    assert result.checkpoint.size == 1
    assert result.genesis_hash == ehash(genesis.envelope)
    assert led.state.authority == AUTHORITY
    assert led.state.log_key == key(LOG_KEY).public_key
    assert led.store.nodes_size() == 1


def test_init_refuses_an_existing_ledger(led: Ledger, store_url: str) -> None:
    with pytest.raises(LedgerExistsError):
        init_ledger(store_url)
    assert led.store.size() == 1


def test_open_without_init_fails_with_the_message(store_url: str) -> None:
    with pytest.raises(LedgerNotFoundError, match="claimledger init"):
        Ledger.open(store_url)


def test_open_after_an_init_that_stopped_before_genesis_is_not_found(store_url: str) -> None:
    # Regression (init_killed_before_genesis): tables without a genesis opened as
    # CorruptionError("no genesis") instead of "no ledger, run init"; init may then run again.
    open_store(store_url, create=True).close()
    with pytest.raises(LedgerNotFoundError, match="claimledger init"):
        Ledger.open(store_url)
    init_ledger(store_url).close()
    with Ledger.open(store_url) as again:
        assert again.size == 1


def test_open_with_the_wrong_log_key_is_refused(led: Ledger, store_url: str) -> None:
    with pytest.raises(LedgerError, match="log key"):
        Ledger.open(store_url, log_key=key(1))


def test_read_only_open_refuses_appends(led: Ledger, store_url: str) -> None:
    register_story(led)
    with Ledger.open(store_url) as ro:
        assert not ro.writable
        assert ro.size == led.size
        with pytest.raises(LedgerError, match="read-only"):
            ro.submit(claim(ro))
        # It serves the checkpoint the writer kept in the database, byte for byte.
        assert kept_soon(ro, led.checkpoint())
    assert led.store.size() == 5


def test_a_read_only_ledger_follows_the_writer(led: Ledger, store_url: str) -> None:
    register_story(led)
    with Ledger.open(store_url) as ro:
        led.submit(claim(led))
        assert kept_soon(ro, led.checkpoint())
        assert ro.size == led.size


def test_a_read_only_checkpoint_never_covers_entries_it_has_not_read(
    led: Ledger, store_url: str
) -> None:
    register_story(led)
    with Ledger.open(store_url) as ro:
        assert kept_soon(ro, led.checkpoint())
        seen = ro.checkpoint()
        assert checkpoint_size_of(seen) == ro.size
        led.submit(claim(led))
        with Ledger.open(store_url) as fresh:
            assert kept_soon(fresh, led.checkpoint())  # the writer kept a newer one
        # Until it reads (and verifies) the new entry, the replica serves the checkpoint it covers.
        assert ro.checkpoint() == seen
        assert ro.refresh() == led.size
        assert ro.checkpoint() == led.checkpoint()


def kept_soon(ro: Ledger, note: bytes) -> bool:
    """Whether the read-only ledger serves ``note`` within a few times ``PERSIST_EVERY_S``.

    The writer keeps its checkpoint with the Merkle nodes at most every ``PERSIST_EVERY_S``
    while entries come, and when it has been idle that long.
    """
    deadline = time.monotonic() + 20 * PERSIST_EVERY_S
    while time.monotonic() < deadline:
        ro.refresh()  # what the server's follower does; checkpoint() itself reads nothing new
        if ro.checkpoint() == note:
            return True
        time.sleep(PERSIST_EVERY_S / 4)
    return False


def delete_newest_entry(url: str) -> None:
    """Delete the newest entry's rows (its stream event and its log event) behind the ledger."""
    from ledger._store import LOG_ID, open_store, stream_id
    from tests.ledger.test_tamper import Rows

    with open_store(url) as store:
        size = store.size()
        (last,) = store.log_entries(size - 1, size)
    rows = Rows(url)
    try:
        rows.delete(stream_id(last.stream), last.position + 1)
        rows.delete(LOG_ID, size)
    finally:
        rows.close()


def test_a_database_that_lost_signed_entries_is_refused(led: Ledger, store_url: str) -> None:
    """Regression: deleting the newest rows (a rollback) used to open without error."""
    register_story(led)
    led.submit(claim(led))
    size = led.size
    led.close()
    delete_newest_entry(store_url)
    with pytest.raises(CorruptionError, match=rf"checkpoint of {size} entries .*\(rollback\)"):
        Ledger.open(store_url)


def test_open_with_the_log_key_appends(led: Ledger, store_url: str) -> None:
    register_story(led)
    with Ledger.open(store_url, log_key=key(LOG_KEY)) as rw:
        r = rw.submit(claim(rw))
        assert r.index == 5
        check_receipt(rw, r)


# -- every rule through the ledger -----------------------------------------------------------


@dataclass
class Story:
    """The story ledger's digests: claim ``c`` (P), test ``t`` and verdict ``d`` (V on c)."""

    led: Ledger
    c: str
    t: str
    d: str


@pytest.fixture
def story(led: Ledger) -> Story:
    register_story(led)
    c = claim(led)
    led.submit(c)
    t = envelope(led, "test.record", P, V, example_test_record_body(digest(c)))
    led.submit(t)
    d = envelope(led, "verdict.issue", P, V, example_verdict_body(digest(c), [digest(t)]))
    led.submit(d)
    return Story(led, digest(c), digest(t), digest(d))


def _env(s: Story, kind: str, stream: str, signer: str, body: Json, **kw: Any) -> bytes:
    return envelope(s.led, kind, stream, signer, body, **kw)


R = REGISTRY_STREAM
Case = tuple[str, Callable[[Story], bytes], type[VerificationError], str]

# Refused by a rule (SPEC §8.2), decided by the sequencer: located at (stream, position, index).
REFUSED: list[Case] = [
    (
        "second genesis",
        lambda s: _env(s, "genesis", R, AUTHORITY, example_genesis_body()),
        NotAuthorisedError,
        "genesis",
    ),
    (
        "signedAt beyond the clock skew",
        lambda s: _env(
            s,
            "claim.publish",
            P,
            P,
            example_claim_body(),
            signed_at_ms=s.led.state.last_log_time_ms + 11 * 60_000,
        ),
        NotAuthorisedError,
        "signedAt",
    ),
    (
        "unregistered signer",
        lambda s: _env(s, "claim.publish", P, "nobody-inc", example_claim_body(), key_no=3),
        UnknownKeyError,
        "not a registered party",
    ),
    (
        "provider signs as another party",
        lambda s: _env(s, "claim.publish", Q, Q, example_claim_body(), key_no=3),
        UnknownKeyError,
        "not a key of",
    ),
    (
        "party.register by a non-authority",
        lambda s: _env(s, "party.register", R, P, example_party_register_body("x-co", keys=[9])),
        NotAuthorisedError,
        "only the authority",
    ),
    (
        "party registered twice",
        lambda s: _env(s, "party.register", R, AUTHORITY, example_party_register_body(P, keys=[9])),
        NotAuthorisedError,
        "already registered",
    ),
    (
        "key reused across parties",
        lambda s: _env(
            s, "party.register", R, AUTHORITY, example_party_register_body("x-co", keys=[3])
        ),
        NotAuthorisedError,
        "already in use",
    ),
    (
        "the log key as a party key",
        lambda s: _env(
            s, "party.register", R, AUTHORITY, example_party_register_body("x-co", keys=[LOG_KEY])
        ),
        NotAuthorisedError,
        "already in use",
    ),
    (
        "key.add for an unknown party",
        lambda s: _env(s, "key.add", R, AUTHORITY, example_key_add_body("ghost-co", 9)),
        DanglingReferenceError,
        "not registered",
    ),
    (
        "key.add for another party",
        lambda s: _env(s, "key.add", R, Q, example_key_add_body(P, 9)),
        NotAuthorisedError,
        "may not add keys",
    ),
    (
        "key.revoke of a key of another party",
        lambda s: _env(s, "key.revoke", R, P, example_key_revoke_body(P, key_id(6))),
        DanglingReferenceError,
        "is not a key of",
    ),
    (
        "accreditation.grant to a provider",
        lambda s: _env(s, "accreditation.grant", R, AUTHORITY, example_accreditation_grant_body(P)),
        NotAuthorisedError,
        "only verifiers",
    ),
    (
        "accreditation.grant by a non-authority",
        lambda s: _env(s, "accreditation.grant", R, V, example_accreditation_grant_body(V)),
        NotAuthorisedError,
        "only the authority",
    ),
    (
        "accreditation.suspend without accreditation",
        lambda s: _env(
            s, "accreditation.suspend", R, AUTHORITY, example_accreditation_suspend_body(P)
        ),
        DanglingReferenceError,
        "no accreditation",
    ),
    (
        "claim on a stream that is no provider's",
        lambda s: _env(s, "claim.publish", V, V, example_claim_body()),
        NotAuthorisedError,
        "not the stream of a registered provider",
    ),
    (
        "claim on another provider's stream",
        lambda s: _env(s, "claim.publish", Q, P, example_claim_body()),
        NotAuthorisedError,
        "may not sign",
    ),
    (
        "supersede of an unknown claim",
        lambda s: _env(
            s, "claim.supersede", P, P, example_claim_body(supersedes=hashlib.sha256().hexdigest())
        ),
        DanglingReferenceError,
        "not a claim version",
    ),
    (
        "withdraw of an unknown claim",
        lambda s: _env(
            s, "claim.withdraw", P, P, example_claim_withdraw_body(hashlib.sha256().hexdigest())
        ),
        DanglingReferenceError,
        "not a claim version",
    ),
    (
        "a provider records a test",
        lambda s: _env(s, "test.record", P, P, example_test_record_body(s.c)),
        NotAuthorisedError,
        "not a verifier",
    ),
    (
        "a test of a claim in another stream",
        lambda s: _env(s, "test.record", Q, V, example_test_record_body(s.c)),
        DanglingReferenceError,
        "not a claim version",
    ),
    (
        "a verdict on a test it does not rest on",
        lambda s: _env(
            s, "verdict.issue", P, V, example_verdict_body(s.c, [hashlib.sha256().hexdigest()])
        ),
        DanglingReferenceError,
        "test record",
    ),
    (
        "a reply to an unknown verdict",
        lambda s: _env(
            s, "provider.reply", P, P, example_provider_reply_body(hashlib.sha256().hexdigest())
        ),
        DanglingReferenceError,
        "verdict",
    ),
]

# Refused before sequencing (prepare): the envelope itself is bad.
Maker = Callable[[Story], bytes]


def _resign(payload: bytes, n: int) -> bytes:
    return sign_envelope(payload, key(n)).to_bytes()


def _statement(s: Story, kind: str, stream: str, signer: str, body: Json) -> Json:
    return json.loads(Envelope.parse(_env(s, kind, stream, signer, body)).payload)  # type: ignore[no-any-return]


def _bad_signature(s: Story) -> bytes:
    d = json.loads(claim(s.led))
    sig = bytearray(base64.b64decode(d["signatures"][0]["sig"]))
    sig[7] ^= 1
    d["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    return json.dumps(d).encode()


def _schema_error(s: Story) -> bytes:
    st = _statement(s, "claim.publish", P, P, example_claim_body())
    del st["body"]["measure"]
    return _resign(canonical.encode(st), 3)


def _not_canonical(s: Story) -> bytes:
    st = _statement(s, "claim.publish", P, P, example_claim_body())
    return _resign(json.dumps(st, indent=1).encode(), 3)


PREPARE_REFUSED: list[tuple[str, Maker, type[VerificationError]]] = [
    ("unregistered key", lambda s: _env(s, "claim.publish", P, P, example_claim_body(), key_no=9),
     UnknownKeyError),
    ("bad signature", _bad_signature, SignatureError),
    ("schema", _schema_error, SchemaError),
    ("not canonical", _not_canonical, EncodingError),
    ("not an envelope", lambda s: b'{"payload":"x"}', EncodingError),
]  # fmt: skip


def _expect_refused(s: Story, env: bytes, error: type[VerificationError], match: str) -> None:
    led = s.led
    size, store_size = led.size, led.store.size()
    stream = json.loads(Envelope.parse(env).payload)["stream"]
    length = led.head(stream)[1]
    with pytest.raises(error, match=match) as info:
        led.submit(env)
    err = info.value
    assert (err.stream, err.position, err.index) == (stream, length, size), err
    assert (led.size, led.store.size(), led.head(stream)[1]) == (size, store_size, length)
    assert led.store.stream_length(stream) == length


def test_every_rule_refuses_through_the_ledger_and_writes_nothing(story: Story) -> None:
    for name, make, error, match in REFUSED:
        try:
            _expect_refused(story, make(story), error, match)
        except BaseException as exc:
            raise AssertionError(f"case {name!r}") from exc
    for name, make_bad, error in PREPARE_REFUSED:
        size = story.led.store.size()
        with pytest.raises(error):
            story.led.submit(make_bad(story))
        assert story.led.store.size() == size, name
    # stateful refusals
    s, led = story, story.led
    led.submit(_env(s, "key.add", R, P, example_key_add_body(P, 4)))
    led.submit(_env(s, "key.revoke", R, P, example_key_revoke_body(P, key_id(4))))
    _expect_refused(
        s,
        _env(s, "claim.publish", P, P, example_claim_body(), key_no=4),
        RevokedKeyError,
        "revoked",
    )
    _expect_refused(
        s,
        _env(s, "key.revoke", R, AUTHORITY, example_key_revoke_body(P, key_id(4))),
        NotAuthorisedError,
        "already revoked",
    )
    led.submit(_env(s, "claim.withdraw", P, P, example_claim_withdraw_body(s.c)))
    _expect_refused(
        s,
        _env(s, "claim.supersede", P, P, example_claim_body(supersedes=s.c)),
        NotAuthorisedError,
        "withdrawn",
    )
    _expect_refused(
        s,
        _env(s, "claim.withdraw", P, P, example_claim_withdraw_body(s.c)),
        NotAuthorisedError,
        "withdrawn",
    )
    c2 = claim(led, measure="detect.hash_known_video")
    led.submit(c2)
    led.submit(
        _env(
            s,
            "accreditation.grant",
            R,
            AUTHORITY,
            example_accreditation_grant_body(V, ["age.assurance"]),
        )
    )
    _expect_refused(
        s,
        _env(s, "test.record", P, V, example_test_record_body(digest(c2))),
        NotAuthorisedError,
        "not accredited for measure",
    )
    led.submit(_env(s, "accreditation.suspend", R, AUTHORITY, example_accreditation_suspend_body()))
    _expect_refused(
        s,
        _env(s, "test.record", P, V, example_test_record_body(digest(c2))),
        NotAuthorisedError,
        "suspended",
    )
    verify_all(led)


def test_every_kind_is_accepted_through_the_ledger(story: Story) -> None:
    s, led = story, story.led
    accepted: list[Receipt] = []

    def ok(env: bytes) -> str:
        before = led.size
        r = led.submit(env)
        assert (r.index, r.entry_hash) == (before, ehash(env))
        check_receipt(led, r)
        accepted.append(r)
        return digest(env)

    ok(_env(s, "party.register", R, AUTHORITY, example_party_register_body("new-co", keys=[8])))
    ok(_env(s, "key.add", R, P, example_key_add_body(P, 4)))
    ok(_env(s, "key.add", R, AUTHORITY, example_key_add_body(Q, 7)))
    ok(_env(s, "key.revoke", R, AUTHORITY, example_key_revoke_body(Q, key_id(7))))
    ok(_env(s, "provider.reply", P, P, example_provider_reply_body(s.d)))
    c2 = ok(_env(s, "claim.supersede", P, P, example_claim_body(supersedes=s.c)))
    ok(_env(s, "claim.publish", P, P, example_claim_body("report.authority"), key_no=4))
    t2 = ok(_env(s, "test.record", P, V, example_test_record_body(c2)))
    ok(_env(s, "verdict.issue", P, V, example_verdict_body(c2, [t2], result="INCONCLUSIVE")))
    ok(_env(s, "claim.withdraw", P, P, example_claim_withdraw_body(c2)))
    ok(_env(s, "accreditation.grant", R, AUTHORITY, example_accreditation_grant_body(V)))
    ok(_env(s, "accreditation.suspend", R, AUTHORITY, example_accreditation_suspend_body(V)))
    assert [r.index for r in accepted] == list(range(8, 20))
    assert led.state.claims[bytes.fromhex(s.c)].status == "superseded"
    assert led.state.claims[bytes.fromhex(c2)].status == "withdrawn"
    verify_all(led)


# -- chain conflicts and idempotency ------------------------------------------------------------


def test_stale_prev_is_a_chain_error_with_the_current_head(led: Ledger) -> None:
    register_story(led)
    first = claim(led)
    stale = claim(led, measure="report.authority")  # signed on the same head as ``first``
    r = led.submit(first)
    with pytest.raises(ChainError) as info:
        led.submit(stale)
    assert (info.value.head, info.value.length) == (r.entry_hash.hex(), 1)
    assert (info.value.stream, info.value.position, info.value.index) == (P, 1, 6)
    assert led.store.stream_length(P) == 1
    assert led.size == 6


def _variant(env: bytes) -> bytes:
    """The same envelope spelled differently: URL-safe unpadded base64, other member order."""
    d = json.loads(env)
    sig = d["signatures"][0]

    def url(s: str) -> str:
        return s.replace("+", "-").replace("/", "_").rstrip("=")

    return json.dumps(
        {
            "signatures": [{"sig": url(sig["sig"]), "keyid": sig["keyid"]}],
            "payloadType": d["payloadType"],
            "payload": url(d["payload"]),
        },
        indent=2,
    ).encode()  # fmt: skip


def test_resubmitting_the_same_envelope_returns_the_original_receipt(led: Ledger) -> None:
    register_story(led)
    env = claim(led)
    variant = _variant(env)
    assert variant != env
    assert Envelope.parse(variant).to_bytes() == env
    first = led.submit(env)
    assert first.appended
    led.submit(claim(led, P, "report.authority"))
    size = led.store.size()
    for again in (led.submit(env), led.submit(variant)):
        assert not again.appended
        assert (again.index, again.position, again.entry_hash, again.log_time_ms) == (
            first.index,
            first.position,
            first.entry_hash,
            first.log_time_ms,
        )
        check_receipt(led, again)
    assert led.store.size() == size
    assert led.log_entries(first.index, first.index + 1)[0].envelope == env


def test_resubmission_of_an_old_entry_is_found_in_the_store(
    led: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression (index_of_unbounded): the entry-hash -> index map kept every entry forever; it
    # now holds recent entries only and an older repeat is found in its stream.
    monkeypatch.setattr("ledger._ledger._RECENT_HASHES", 4)
    register_story(led)
    old = claim(led)
    first = led.submit(old)
    genesis_repeat = led.log_entries(1, 2)[0].envelope
    for m in ("report.authority", "detect.hash_known_video", "detect.hash_known_image") * 4:
        led.submit(claim(led, P, m))
    assert len(led._index_of) <= 8
    assert first.entry_hash not in led._index_of
    size = led.store.size()
    assert led.submit(old).index == first.index
    assert led.submit(genesis_repeat).index == 1
    assert led.store.size() == size
    with pytest.raises(ChainError):
        led.submit(_stale(led))


def _stale(led: Ledger) -> bytes:
    """A claim on ``P``'s stream signed on its genesis head (unlike any other in these tests)."""
    body = example_claim_body("transparency.report")
    return envelope(led, "claim.publish", P, P, body, prev=genesis_prev(P))


@pytest.mark.parametrize("checks", ["inline", "worker processes"])
def test_submit_many_mixes_good_bad_and_duplicate_entries(
    led: Ledger, checks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same decisions whether signatures are checked inline or in a SignaturePool.
    monkeypatch.setattr("ledger._ledger.POOL_FROM", 10**9 if checks == "inline" else 1)
    register_story(led)
    stored = claim(led)
    r0 = led.submit(stored)
    good1 = claim(led, P, "report.authority")
    good2 = envelope(
        led, "claim.publish", P, P, example_claim_body("detect.hash_known_video"),
        prev=ehash(good1).hex(),
    )  # fmt: skip
    bad_sig = bytearray(claim(led, Q))
    bad_sig[-10] = ord("A") if bad_sig[-10] != ord("A") else ord("B")
    stale = claim(led, P, "detect.url_blocklist")  # same head as good1: a chain conflict
    # a key registered earlier in the same call signs a later entry (regression:
    # submit_many_key_from_same_batch — prepare refused it as an unknown key)
    add_key = envelope(led, "key.add", R, Q, example_key_add_body(Q, 11))
    with_new_key = envelope(led, "claim.publish", Q, Q, example_claim_body(), key_no=11)
    size = led.size
    out = led.submit_many(
        [good1, bytes(bad_sig), good1, good2, stored, stale, add_key, with_new_key, b"{}"]
    )
    assert isinstance(out[0], Receipt)
    assert out[0].index == size
    assert isinstance(out[1], VerificationError)
    assert isinstance(out[2], Receipt)
    assert out[2].index == size
    assert isinstance(out[3], Receipt)
    assert out[3].index == size + 1
    assert isinstance(out[4], Receipt)
    assert out[4].index == r0.index
    assert isinstance(out[5], ChainError)
    assert out[5].head == ehash(good2).hex()
    assert isinstance(out[6], Receipt)
    assert out[6].index == size + 2
    assert isinstance(out[7], Receipt)
    assert out[7].index == size + 3
    assert isinstance(out[8], EncodingError)
    assert (led._pool is not None) == (checks == "worker processes")
    assert led.store.size() == size + 4
    for r in out:
        if isinstance(r, Receipt):
            check_receipt(led, r)
            assert led.log_entries(r.index, r.index + 1)[0].envelope is not None
    verify_all(led)


# -- receipts, proofs, checkpoints -------------------------------------------------------------


def test_receipts_verify_against_their_checkpoint(led: Ledger) -> None:
    receipts = register_story(led)
    receipts += [led.submit(claim(led, p)) for p in (P, Q, P)]
    for r in receipts:
        check_receipt(led, r)
        stored = led.log_entries(r.index, r.index + 1)[0]
        assert (stored.stream, stored.position, stored.log_time_ms) == (
            r.stream,
            r.position,
            r.log_time_ms,
        )
        fresh = led.receipt(r.index)
        assert fresh.tree_size == led.size
        check_receipt(led, fresh)


def test_receipt_to_dict(led: Ledger) -> None:
    register_story(led)
    r = led.submit(claim(led))
    d = r.to_dict()
    assert d["logTimeMs"] == r.log_time_ms  # the signed value, to the ms
    assert parse_timestamp(d["logTime"]) == r.log_time_ms // 1000 * 1000  # SPEC timestamp
    assert d["entryHash"] == r.entry_hash.hex()
    assert d["treeSize"] == r.tree_size
    assert [base64.b64decode(h) for h in d["inclusionProof"]] == list(r.inclusion_proof)
    assert d["checkpoint"].encode() == r.checkpoint


def test_consistency_proofs_between_every_pair_of_checkpoints(led: Ledger) -> None:
    notes = [led.checkpoint()]
    for r in register_story(led):
        notes.append(r.checkpoint)
    for m in ("report.authority", "detect.hash_known_video", "detect.hash_known_image"):
        notes.append(led.submit(claim(led, P, m)).checkpoint)
        notes.append(led.submit(claim(led, Q, m)).checkpoint)
    cps = [verify_checkpoint(n, led.note_verifier) for n in notes]
    assert [c.size for c in cps] == list(range(1, 12))
    tree = MemoryTree(
        leaf_hash(
            leaf_data(
                e.index, e.stream, e.position, e.log_time_ms, ehash(e.envelope), e.state_root or b""
            )
        )
        for e in led.iter_log()
    )
    for a in cps:
        assert tree.root(a.size) == a.root
        for b in cps:
            if a.size <= b.size:
                proof = led.consistency_proof(a.size, b.size)
                assert proof == tree.consistency_proof(a.size, b.size)
                verify_consistency(a.size, b.size, proof, a.root, b.root)
        for i in range(a.size):
            proof = led.inclusion_proof(i, a.size)
            verify_inclusion(tree.get_node(0, i), i, a.size, proof, a.root)
    with pytest.raises(LedgerError):
        led.inclusion_proof(0, 12)


def test_one_checkpoint_per_size_across_objects_and_reopen(led: Ledger, store_url: str) -> None:
    register_story(led)
    seen: dict[int, bytes] = {}

    def note(n: bytes) -> None:
        cp = verify_checkpoint(n, led.note_verifier)
        assert seen.setdefault(cp.size, cp.root) == cp.root

    with Ledger.open(store_url, log_key=key(LOG_KEY)) as other:
        for i in range(6):
            writer = led if i % 2 else other
            # A client signs on the current head: the writer reads what the other appended
            # first (its own sequencer only catches up when the store refuses a batch).
            writer.refresh()
            note(writer.submit(claim(writer, P if i % 3 else Q, "report.authority")).checkpoint)
            note(writer.checkpoint())
        other.refresh()
        led.refresh()
        assert led.checkpoint() == other.checkpoint()
    note(led.checkpoint())


def test_reopen_restores_state_tree_and_checkpoint(led: Ledger, store_url: str) -> None:
    register_story(led)
    for p in (P, Q, P, P):
        led.submit(claim(led, p, "report.authority" if p == Q else "detect.hash_known_image"))
    note, size = led.checkpoint(), led.size
    heads = {s: led.head(s) for s in (R, P, Q)}
    led.flush()
    nodes = {(lv, i): led.store.get_node(lv, i) for lv in range(4) for i in range(size >> lv)}
    led.close()
    with Ledger.open(store_url, log_key=key(LOG_KEY)) as again:
        assert again.size == size
        assert again.checkpoint() == note
        assert {s: again.head(s) for s in heads} == heads
        assert again.state.claims.keys() == led.state.claims.keys()
        assert again.store.nodes_size() == size
        assert {k: again.store.get_node(*k) for k in nodes} == nodes
        r = again.submit(claim(again, Q, "detect.hash_known_video"))
        assert r.index == size
        check_receipt(again, r)


# -- the write path's own failure modes -------------------------------------------------------


def test_a_failing_view_does_not_break_the_tree(
    led: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression (views_error_skips_integration): a view raising after the batch was stored left
    # the entries out of the Merkle tree, so every later checkpoint had a wrong root.
    register_story(led)

    def boom(placed: Placed) -> None:
        raise RuntimeError("view bug")

    monkeypatch.setattr(led.views, "apply", boom)
    r = led.submit(claim(led))
    check_receipt(led, r)
    assert isinstance(led.views_error, RuntimeError)
    r2 = led.submit(claim(led, Q))
    check_receipt(led, r2)
    verify_all(led)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_sequencer_fails_submitters_instead_of_hanging(
    led: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression (dead_sequencer_hangs_submitters): a BaseException escaping the sequencer
    # killed its thread, and every later submit waited forever on a future nobody would set.
    register_story(led)
    calls = []

    def die(batch: object) -> None:
        calls.append(batch)
        raise SystemExit("sequencer killed")

    monkeypatch.setattr(led, "_sequence", die)
    outcome: list[BaseException] = []

    def submit() -> None:
        try:
            led.submit(claim(led))
        except BaseException as exc:
            outcome.append(exc)

    t = threading.Thread(target=submit)
    t.start()
    t.join(10)
    assert not t.is_alive(), "submit hung on a dead sequencer"
    assert outcome
    assert calls
    monkeypatch.undo()
    r = led.submit(claim(led))  # a new sequencer thread takes over
    check_receipt(led, r)


def test_store_failure_after_append_keeps_the_receipt_and_the_tree(
    led: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_story(led)
    from ledger.errors import StoreError

    def fail(*a: object) -> None:
        raise StoreError("disk full (simulated)")

    monkeypatch.setattr(led.store, "put_nodes", fail)
    r = led.submit(claim(led))
    check_receipt(led, r)
    monkeypatch.undo()
    r2 = led.submit(claim(led, Q))
    check_receipt(led, r2)
    led.flush()
    assert led.store.nodes_size() == led.size
    tree = MemoryTree(
        leaf_hash(
            leaf_data(
                e.index, e.stream, e.position, e.log_time_ms, ehash(e.envelope), e.state_root or b""
            )
        )
        for e in led.iter_log()
    )
    for i in range(led.size):
        assert led.store.get_node(0, i) == tree.get_node(0, i)


def test_submit_from_the_sequencer_thread_is_refused(
    led: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression (submit_signed_blocks_sequencer): a view that submitted from the sequencer
    # thread waited for itself forever.
    register_story(led)
    inner: list[BaseException] = []

    def reenter(placed: Placed) -> None:
        try:
            led.submit(claim(led, Q))
        except BaseException as exc:
            inner.append(exc)

    monkeypatch.setattr(led.views, "apply", reenter)
    done = threading.Event()

    def outer() -> None:
        led.submit(claim(led))
        done.set()

    threading.Thread(target=outer).start()
    assert done.wait(10)
    assert inner
    assert isinstance(inner[0], LedgerError)


def test_submit_after_close_and_non_blocking_submit(led: Ledger, store_url: str) -> None:
    register_story(led)
    signed = led.prepare(claim(led))
    (fut,) = led.submit_signed([signed], wait=False)
    assert fut.result(10).index == 5
    led.close()
    with pytest.raises(LedgerError, match="closed"):
        led.submit_signed([signed])


def test_a_key_registered_by_another_writer_is_found(led: Ledger, store_url: str) -> None:
    # Regression (prepare_stale_keys): an object that had not seen a key registered through
    # another object (another process) refused its entries as signed with an unknown key.
    register_story(led)
    with Ledger.open(store_url, log_key=key(LOG_KEY)) as other:
        led.submit(envelope(led, "key.add", R, Q, example_key_add_body(Q, 12)))
        r = other.submit(envelope(led, "claim.publish", Q, Q, example_claim_body(), key_no=12))
        assert r.index == 6


def test_chain_error_reports_the_true_head_when_another_writer_appended(
    led: Ledger, store_url: str
) -> None:
    # Regression (stale_refusal): an object behind the store refused an entry signed on the
    # true head, reporting its own stale head (the submitter then rebased onto an old head).
    register_story(led)
    with Ledger.open(store_url, log_key=key(LOG_KEY)) as other:
        r = led.submit(claim(led))
        newer = claim(led, P, "report.authority")  # signed on led's (true) head
        assert other.submit(newer).index == r.index + 1
        with pytest.raises(ChainError) as info:
            other.submit(_stale(led))
        assert info.value.head == ehash(newer).hex()


def test_corrupt_store_is_refused_at_open(led: Ledger, store_url: str) -> None:
    register_story(led)
    led.close()
    from tests.ledger.conftest import raw_execute

    raw_execute(
        store_url,
        "UPDATE claimledger_events SET state = ? WHERE originator_version = 3 AND topic = ?",
        (b"{}", "claimledger.v1:EntryAppended"),
    )
    with pytest.raises(CorruptionError) as info:
        Ledger.open(store_url)
    assert info.value.stream is not None


def test_log_time_never_decreases_across_writers_with_skewed_clocks(
    led: Ledger, store_url: str
) -> None:
    # Two writers (as two processes would be) whose clocks disagree by five minutes: the one
    # behind must still never sign a log time before the last stored one (SPEC §6.1).
    register_story(led)
    ahead = led.state.last_log_time_ms + 5 * 60_000
    with (
        Ledger.open(store_url, log_key=key(LOG_KEY), clock=lambda: ahead) as fast,
        Ledger.open(store_url, log_key=key(LOG_KEY), clock=lambda: ahead - 5 * 60_000) as slow,
    ):
        r1 = fast.submit(claim(fast, Q))
        r2 = slow.submit(claim(led, P))  # slow has not seen r1: conflict, catch up, decide again
        assert r1.log_time_ms == ahead
        assert r2.index == r1.index + 1
        assert r2.log_time_ms >= r1.log_time_ms
    times = [e.log_time_ms for e in led.iter_log()]
    assert times == sorted(times)
    led.refresh()
    verify_all(led)


def test_trimmed_node_cache_reads_old_nodes_from_the_store(
    led: Ledger, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cache keeps only recent nodes; proofs for old entries read the rest from the store.
    monkeypatch.setattr("ledger._ledger._NODE_CACHE_LEAVES", 2)
    register_story(led)
    for i in range(12):
        led.submit(claim(led, P if i % 2 else Q, MEASURES[i % len(MEASURES)]))
    led.flush()  # nodes are written (and the cache trimmed) at most every PERSIST_EVERY_S
    assert len(led._nodes) <= 4 * 2 * 2
    assert led.store.nodes_size() == led.size
    for i in range(led.size):
        check_receipt(led, led.receipt(i))
    verify_all(led)


MEASURES = ["report.authority", "age.assurance", "detect.url_blocklist", "transparency.report"]


def test_open_on_a_database_that_refuses_node_writes(
    led: Ledger, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression (readonly_open_needs_write): opening (even read-only) wrote the Merkle nodes and
    # failed when the database refused the write; nodes are a projection: keep them cached.
    register_story(led)
    led.close()
    from ledger import EntryStore, StoreError

    def refuse(*a: object) -> None:
        raise StoreError("permission denied (simulated read-only user)")

    monkeypatch.setattr(EntryStore, "put_nodes", refuse)
    monkeypatch.setattr(EntryStore, "nodes_size", lambda self: 0)
    with Ledger.open(store_url) as ro:
        assert ro.size == 5
        v = LogVerifier()
        for raw in ro.iter_log():
            v.feed(raw)
        for i in range(5):
            leaf = leaf_hash(leaf_data(*_leaf_fields(ro, i)))
            verify_inclusion(leaf, i, 5, ro.inclusion_proof(i, 5), v.root())


def _leaf_fields(led: Ledger, i: int) -> tuple[int, str, int, int, bytes, bytes]:
    e = led.log_entries(i, i + 1)[0]
    assert e.state_root is not None
    return e.index, e.stream, e.position, e.log_time_ms, ehash(e.envelope), e.state_root
