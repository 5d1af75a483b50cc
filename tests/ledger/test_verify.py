"""verify_log / verify_ledger: the parallel verdict is the sequential LogVerifier's, always."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pytest
from psycopg import sql

from attest.build import make_statement, sign_statement
from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.entry import LogEntry
from attest.errors import VerificationError
from attest.statements import REGISTRY_STREAM, format_timestamp
from attest.verify import LogVerifier, VerifiedLog
from ledger import Ledger
from ledger._pool import SignaturePool
from ledger._store import stream_id
from ledger._verify import verify_ledger, verify_log
from tests.attest.examples import (
    AUTHORITY,
    example_accreditation_grant_body,
    example_claim_body,
    example_key_add_body,
    example_key_revoke_body,
    example_party_register_body,
)
from tests.attest.logbuilder import LOG_KEY, LogBuilder, key
from tests.ledger.conftest import raw_execute

ORIGIN = "claimledger.example/log"


@pytest.fixture(scope="module")
def pool() -> Iterator[SignaturePool]:
    with SignaturePool(2, task_size=5) as p:
        yield p


def note_for(entries: Sequence[LogEntry], size: int | None = None) -> bytes:
    """A checkpoint note signed by the example log key over the first ``size`` leaves."""
    v = LogVerifier()
    for e in entries[: len(entries) if size is None else size]:
        v.feed_opened(e, v.state.open(e))  # no rules needed for the root, but they pass here
    origin = v.state.origin or ORIGIN
    return sign_checkpoint(Checkpoint(origin, v.size, v.root()), NoteSigner(origin, key(LOG_KEY)))


def rich_log(claims: int = 30) -> LogBuilder:
    """Several providers and verifiers, key rotation and revocation, claims, tests, verdicts."""
    b = LogBuilder.story()
    b.register("globex-video", "provider", 6)
    b.register("initech-chat", "provider", 7)
    b.append("key.add", REGISTRY_STREAM, "acme-social", example_key_add_body("acme-social", 4))
    kid3 = key(3).public_key.key_id
    body = example_key_revoke_body("acme-social", kid3)
    b.append("key.revoke", REGISTRY_STREAM, "acme-social", body, key_no=4)
    b.keys["acme-social"] = 4
    for i in range(claims):
        provider = ("acme-social", "globex-video", "initech-chat")[i % 3]
        c = b.claim(provider)
        if i % 5 == 0:
            t = b.test("safecheck-labs", provider, c)
            v = b.verdict("safecheck-labs", provider, c, [t])
            if i % 10 == 0:
                b.reply(provider, v)
    return b


Outcome = tuple[str, str, str | None, int | None, int | None, str | None] | VerifiedLog


def sequential(entries: Sequence[LogEntry], note: bytes, **kw: Any) -> Outcome:
    v = LogVerifier(**kw)
    try:
        for e in entries:
            v.feed(e)
        return v.finish(note)
    except VerificationError as exc:
        return _err(exc)


def _err(exc: VerificationError) -> Outcome:
    return (type(exc).__name__, str(exc), exc.stream, exc.position, exc.index, exc.field)


def parallel(
    entries: Sequence[LogEntry], note: bytes, pool: SignaturePool | None, **kw: Any
) -> Outcome:
    try:
        return verify_log(iter(entries), note, pool=pool, **kw)
    except VerificationError as exc:
        return _err(exc)


def same_verdicts(
    entries: Sequence[LogEntry], note: bytes, pool: SignaturePool, **kw: Any
) -> Outcome:
    """The sequential outcome, after checking every parallel configuration agrees with it."""
    want = sequential(entries, note, **kw)
    for p, chunk in ((None, 2048), (None, 3), (pool, 4), (pool, 2048)):
        got = parallel(entries, note, p, workers=1, chunk=chunk, **kw)
        if isinstance(want, VerifiedLog):
            assert isinstance(got, VerifiedLog)
            assert (got.checkpoint, got.genesis_hash) == (want.checkpoint, want.genesis_hash)
            assert got.state.heads == want.state.heads
        else:
            assert got == want, (p, chunk)
    return want


def test_a_valid_log_verifies_alike(pool: SignaturePool) -> None:
    b = rich_log()
    out = same_verdicts(b.entries, note_for(b.entries), pool)
    assert isinstance(out, VerifiedLog)
    assert out.checkpoint.size == len(b.entries)


def test_every_flipped_byte_is_reported_alike(pool: SignaturePool) -> None:
    b = rich_log(12)
    note = note_for(b.entries)
    rng = random.Random(20261125)
    failures = 0
    for _ in range(60):
        entries = list(b.entries)
        i = rng.randrange(len(entries))
        data = bytearray(entries[i].envelope)
        j = rng.randrange(len(data))
        data[j] ^= 1 << rng.randrange(8)
        e = entries[i]
        entries[i] = LogEntry(e.index, e.stream, e.position, e.log_time_ms, bytes(data))
        out = same_verdicts(entries, note, pool)
        assert not isinstance(out, VerifiedLog)
        assert out[4] == i  # located at the tampered entry
        failures += 1
    assert failures == 60


def test_a_key_registered_later_in_the_same_chunk_is_unknown(pool: SignaturePool) -> None:
    # The pool learns key 8 from the key.add of this very chunk; the rules must still refuse
    # its use before that entry.
    b = LogBuilder.story()
    b.add(b.make("claim.publish", "acme-social", "acme-social", example_claim_body(), key_no=8))
    b.append("key.add", REGISTRY_STREAM, AUTHORITY, example_key_add_body("acme-social", 8))
    out = same_verdicts(b.entries, note_for(b.entries[:7]), pool)
    assert not isinstance(out, VerifiedLog)
    assert out[0] == "UnknownKeyError"
    assert out[2:5] == ("acme-social", 3, 7)


def test_a_revoked_key_and_a_stranger_are_refused_alike(pool: SignaturePool) -> None:
    b = rich_log(3)
    base = list(b.entries)
    revoked = b.make("claim.publish", "acme-social", "acme-social", example_claim_body(), key_no=3)
    out = same_verdicts([*base, revoked], note_for(base), pool)
    assert not isinstance(out, VerifiedLog)
    assert (out[0], out[4]) == ("RevokedKeyError", len(base))
    stranger = b.make("claim.publish", "acme-social", "acme-social", example_claim_body(), key_no=9)
    out = same_verdicts([*base, stranger], note_for(base), pool)
    assert not isinstance(out, VerifiedLog)
    assert (out[0], out[4]) == ("UnknownKeyError", len(base))


def test_reordered_and_dropped_entries_are_reported_alike(pool: SignaturePool) -> None:
    b = rich_log(6)
    e = list(b.entries)
    note = note_for(e)
    swapped = [*e[:9], e[10], e[9], *e[11:]]
    assert not isinstance(same_verdicts(swapped, note, pool), VerifiedLog)
    assert not isinstance(same_verdicts(e[:8] + e[9:], note, pool), VerifiedLog)
    assert not isinstance(same_verdicts([e[0], e[0], *e[1:]], note, pool), VerifiedLog)


def test_checkpoint_fingerprint_and_trusted_checkpoint_alike(pool: SignaturePool) -> None:
    b = rich_log(6)
    e = b.entries
    note = note_for(e)
    short = note_for(e, 10)
    out = same_verdicts(e, short, pool)  # a checkpoint of another size
    assert not isinstance(out, VerifiedLog)
    assert out[0] == "CheckpointError"
    out = same_verdicts(e, note, pool, genesis_hash=b"\x01" * 32)
    assert not isinstance(out, VerifiedLog)
    assert out[2:5] == ("registry", 0, 0)
    good = sequential(e[:10], short)
    assert isinstance(good, VerifiedLog)
    assert isinstance(same_verdicts(e, note, pool, trusted=good.checkpoint), VerifiedLog)
    forged = Checkpoint(good.checkpoint.origin, 10, b"\x02" * 32)
    out = same_verdicts(e, note, pool, trusted=forged)
    assert not isinstance(out, VerifiedLog)
    assert (out[0], out[4]) == ("ProofError", 9)


def test_two_workers_agree_with_one_on_a_longer_log() -> None:
    b = rich_log(150)
    note = note_for(b.entries)
    want = sequential(b.entries, note)
    assert isinstance(want, VerifiedLog)
    for workers in (1, 2):
        got = verify_log(b.entries, note, workers=workers, chunk=64)
        assert got.checkpoint == want.checkpoint
    bad = list(b.entries)
    victim = bad[200]
    bad[200] = LogEntry(
        victim.index, victim.stream, victim.position, victim.log_time_ms, victim.envelope[:-3]
    )
    results = {workers: parallel(bad, note, None, workers=workers, chunk=64) for workers in (1, 2)}
    assert results[1] == results[2] == sequential(bad, note)


def test_progress_counts_every_entry(pool: SignaturePool) -> None:
    b = rich_log(10)
    seen: list[int] = []
    verify_log(b.entries, note_for(b.entries), pool=pool, chunk=7, progress=seen.append)
    n = len(b.entries)
    assert seen == [*range(7, n, 7), n]


def test_bad_chunk() -> None:
    with pytest.raises(ValueError, match="chunk"):
        verify_log([], b"", workers=0, chunk=0)


# -- a real ledger, on SQLite and PostgreSQL ---------------------------------------------------


def _sign(ledger: Ledger, kind: str, stream: str, signer: str, body: Any, key_no: int) -> bytes:
    statement = make_statement(
        kind=kind,
        stream=stream,
        prev=ledger.head(stream)[0],
        signer=signer,
        signed_at=format_timestamp(1_795_000_000_000),
        body=body,
    )
    return sign_statement(statement, key(key_no)).to_bytes()


def _real_ledger(url: str) -> Ledger:
    ledger = Ledger.init(
        url,
        authority_id=AUTHORITY,
        authority_name="Online Safety Standards Board",
        authority_key=key(1),
        origin=ORIGIN,
        log_key=key(LOG_KEY),
        clock=lambda: 1_795_000_000_000,
    )
    reg = REGISTRY_STREAM
    ledger.submit(_sign(ledger, "party.register", reg, AUTHORITY, example_party_register_body(), 1))
    body = example_party_register_body("safecheck-labs", "verifier", keys=[5])
    ledger.submit(_sign(ledger, "party.register", reg, AUTHORITY, body, 1))
    body = example_accreditation_grant_body("safecheck-labs")
    ledger.submit(_sign(ledger, "accreditation.grant", reg, AUTHORITY, body, 1))
    for _ in range(12):
        envelope = _sign(
            ledger, "claim.publish", "acme-social", "acme-social", example_claim_body(), 3
        )
        ledger.submit(envelope)
    return ledger


def _read_state(url: str, originator: Any, version: int) -> bytes:
    query = "SELECT state FROM claimledger_events WHERE originator_id=? AND originator_version=?"
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            row = conn.execute(query, (originator.hex, version)).fetchone()
        finally:
            conn.close()
        return bytes(row[0])
    base, _, schema = url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as pg:
        pg.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        row = pg.execute(query.replace("?", "%s").encode(), (originator, version)).fetchone()
    assert row is not None
    return bytes(row[0])


def test_a_real_ledger_verifies_and_a_tampered_row_is_located(store_url: str) -> None:
    ledger = _real_ledger(store_url)
    try:
        note = ledger.checkpoint()
        size = ledger.size
        entries = list(ledger.iter_log())
        assert len(entries) == size == 16
        want = sequential(entries, note)
        assert isinstance(want, VerifiedLog)
        for workers in (1, 2):
            got = verify_ledger(ledger, workers=workers, chunk=5)
            assert got.checkpoint == want.checkpoint
        assert verify_ledger(store_url, note, workers=2).checkpoint == want.checkpoint
    finally:
        ledger.close()
    # Flip one character of the payload of acme-social's 7th entry (global index 10), directly
    # in the database.
    sid = stream_id("acme-social")
    state = _read_state(store_url, sid, 7)
    at = state.index(b"payload") + 60  # inside the base64 payload
    tampered = state[:at] + (b"A" if state[at : at + 1] != b"A" else b"B") + state[at + 1 :]
    oid: Any = sid.hex if store_url.startswith("sqlite") else sid
    raw_execute(
        store_url,
        "UPDATE claimledger_events SET state=? WHERE originator_id=? AND originator_version=?",
        (tampered, oid, 7),
    )
    results = []
    for workers in (1, 2):
        with pytest.raises(VerificationError) as info:
            verify_ledger(store_url, note, workers=workers)
        results.append(_err(info.value))
    assert results[0] == results[1]
    assert not isinstance(results[0], VerifiedLog)
    assert results[0][2:5] == ("acme-social", 6, 10)
    tampered_entries = [*entries[:10], *_stored_entries(store_url, 10, 11), *entries[11:]]
    assert sequential(tampered_entries, note) == results[0]


def _stored_entries(url: str, start: int, end: int) -> list[LogEntry]:
    from ledger import open_store

    with open_store(url) as store:
        return [
            LogEntry(s.index, s.stream, s.position, s.log_time_ms, s.envelope)
            for s in store.log_entries(start, end)
        ]


def test_verify_ledger_by_url_needs_a_note(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="checkpoint note"):
        verify_ledger(f"sqlite:///{tmp_path / 'x.db'}")


def test_an_entry_filed_under_another_stream_is_refused_in_parallel_too(
    pool: SignaturePool,
) -> None:
    """Regression: workers' results were placed without checking the filed stream (the leaf
    commits to it) against the statement's stream (the rules read it)."""
    b = rich_log(3)
    entries = list(b.entries)
    i = max(k for k, e in enumerate(entries) if e.stream == "acme-social")
    e = entries[i]
    entries[i] = LogEntry(e.index, "globex-video", e.position, e.log_time_ms, e.envelope)
    out = same_verdicts(entries, note_for(b.entries), pool)
    assert not isinstance(out, VerifiedLog)
    assert (out[0], out[4], out[5]) == ("NotAuthorisedError", i, "/stream")
