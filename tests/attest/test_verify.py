"""Full-log verification: n appends verify; tampering with entry i is reported at i."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.entry import LogEntry, leaf_data
from attest.errors import CheckpointError, ProofError, VerificationError
from attest.merkle import MerkleFrontier, leaf_hash
from attest.rules import replay
from attest.verify import LogVerifier
from tests.attest.logbuilder import LogBuilder, key

ORIGIN = "claimledger.example/log"
SIGNER = NoteSigner(ORIGIN, key(2))


def _log(n_claims: int) -> LogBuilder:
    b = LogBuilder.story()
    for _ in range(n_claims):
        b.claim("acme-social")
    return b


def _note(entries: list[LogEntry], signer: NoteSigner = SIGNER) -> bytes:
    """The checkpoint an honest log would sign for ``entries``."""
    v = LogVerifier()
    for raw in entries:
        v.feed(raw)
    return sign_checkpoint(Checkpoint(ORIGIN, v.size, v.root()), signer)


def _verify(entries: list[LogEntry], note: bytes, **kw: object) -> None:
    v = LogVerifier(**kw)  # type: ignore[arg-type]
    for raw in entries:
        v.feed(raw)
    v.finish(note)


def test_a_valid_log_verifies_against_its_checkpoint() -> None:
    b = _log(3)
    note = _note(b.entries)
    v = LogVerifier()
    for raw in b.entries:
        v.feed(raw)
    result = v.finish(note)
    assert result.checkpoint.size == len(b.entries)
    assert result.genesis_hash == result.state.genesis_hash


def test_leaf_hashes_follow_spec_6_1() -> None:
    b = _log(0)
    state = replay(b.entries)
    v = LogVerifier()
    frontier = MerkleFrontier()
    for raw in b.entries:
        placed = v.feed(raw)
        frontier.append(
            leaf_hash(
                leaf_data(
                    raw.index,
                    raw.stream,
                    raw.position,
                    raw.log_time_ms,
                    placed.signed.entry_hash,
                    v.state.state_root,
                )
            )
        )
    assert v.root() == frontier.root()
    assert state.size == v.size


def test_checkpoint_by_another_key_is_refused() -> None:
    b = _log(1)
    forged = _note(b.entries, NoteSigner(ORIGIN, key(99)))
    with pytest.raises(CheckpointError):
        _verify(b.entries, forged)


def test_checkpoint_for_another_size_is_refused() -> None:
    b = _log(2)
    note = _note(b.entries[:-1])
    with pytest.raises(CheckpointError, match="entries but"):
        _verify(b.entries, note)


def test_truncated_log_is_refused_against_a_newer_checkpoint() -> None:
    b = _log(2)
    note = _note(b.entries)
    with pytest.raises(CheckpointError):
        _verify(b.entries[:-1], note)


def test_pinned_genesis_mismatch_is_refused() -> None:
    b = _log(0)
    with pytest.raises(VerificationError, match="pinned ledger fingerprint"):
        _verify(b.entries, _note(b.entries), genesis_hash=b"\x00" * 32)


def test_rewritten_history_is_caught_by_a_trusted_checkpoint() -> None:
    honest = _log(2)
    trusted_note = _note(honest.entries)
    v = LogVerifier()
    for raw in honest.entries:
        v.feed(raw)
    trusted = v.finish(trusted_note).checkpoint
    # A fork: same prefix up to the story, then a different claim at the same place.
    fork = _log(0)
    fork.claim("acme-social", "report.authority")
    fork.claim("acme-social")
    with pytest.raises(ProofError, match="not consistent with the checkpoint trusted earlier"):
        _verify(fork.entries, _note(fork.entries), trusted=trusted)
    # A rollback to a shorter log.
    with pytest.raises(ProofError, match="rollback"):
        _verify(honest.entries[:-1], _note(honest.entries[:-1]), trusted=trusted)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 6), data=st.data())
def test_any_flipped_byte_of_any_entry_is_reported_at_that_entry(
    n: int, data: st.DataObject
) -> None:
    b = _log(n)
    note = _note(b.entries)
    i = data.draw(st.integers(0, len(b.entries) - 1), label="entry")
    raw = b.entries[i]
    j = data.draw(st.integers(0, len(raw.envelope) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    env = bytearray(raw.envelope)
    env[j] ^= 1 << bit
    tampered = list(b.entries)
    tampered[i] = LogEntry(raw.index, raw.stream, raw.position, raw.log_time_ms, bytes(env))
    with pytest.raises(VerificationError) as info:
        _verify(tampered, note)
    assert info.value.index == i
    assert (info.value.stream, info.value.position) == (raw.stream, raw.position)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 4), data=st.data())
def test_tampered_log_metadata_is_caught(n: int, data: st.DataObject) -> None:
    b = _log(n)
    note = _note(b.entries)
    i = data.draw(st.integers(0, len(b.entries) - 1), label="entry")
    raw = b.entries[i]
    which = data.draw(st.sampled_from(["index", "position", "time", "stream"]))
    changed = {
        "index": LogEntry(raw.index + 1, raw.stream, raw.position, raw.log_time_ms, raw.envelope),
        "position": LogEntry(
            raw.index, raw.stream, raw.position + 1, raw.log_time_ms, raw.envelope
        ),
        "time": LogEntry(raw.index, raw.stream, raw.position, raw.log_time_ms + 1, raw.envelope),
        "stream": LogEntry(
            raw.index, raw.stream + "x", raw.position, raw.log_time_ms, raw.envelope
        ),
    }[which]
    tampered = list(b.entries)
    tampered[i] = changed
    with pytest.raises(VerificationError):
        _verify(tampered, note)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_flipped_byte_of_the_checkpoint_is_rejected(data: st.DataObject) -> None:
    b = _log(1)
    note = bytearray(_note(b.entries))
    j = data.draw(st.integers(0, len(note) - 1))
    note[j] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(VerificationError):
        _verify(b.entries, bytes(note))


def test_reordered_entries_are_refused() -> None:
    b = _log(2)
    entries = list(b.entries)
    entries[-1], entries[-2] = entries[-2], entries[-1]
    with pytest.raises(VerificationError):
        _verify(entries, _note(b.entries))


def test_an_entry_filed_under_another_stream_is_refused() -> None:
    """Regression: the leaf commits to the stored stream name, the rules to the statement's."""
    b = _log(1)
    b.register("other-co", "provider", 6)
    raw = b.entries[-2]  # the claim on acme-social
    moved = LogEntry(raw.index, "other-co", raw.position, raw.log_time_ms, raw.envelope)
    entries = [*b.entries[:-2], moved]
    with pytest.raises(VerificationError, match="filed this entry under stream other-co") as info:
        _verify(entries, _note(b.entries[:-2]))
    assert info.value.index == raw.index
