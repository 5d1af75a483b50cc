"""Evidence bundles verified offline: every alteration is refused, with a specific message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest import canonical
from attest.bundle import BUNDLE_FORMAT, Bundle, BundleEntry, verify_bundle
from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.dsse import Envelope
from attest.entry import LogEntry, entry_hash, leaf_data
from attest.errors import CheckpointError, EncodingError, ProofError, VerificationError
from attest.merkle import MemoryTree, leaf_hash
from tests.attest.examples import example_claim_withdraw_body
from tests.attest.logbuilder import LogBuilder, key

ORIGIN = "claimledger.example/log"
SIGNER = NoteSigner(ORIGIN, key(2))
P = "acme-social"
Q = "globex-video"
V = "safecheck-labs"


def _log() -> LogBuilder:
    """Two providers whose entries interleave, so a company record has gaps."""
    b = LogBuilder.story()  # genesis, acme-social, safecheck-labs, grant, claim, test, verdict
    b.register(Q, "provider", 4)
    cq = b.claim(Q)
    c2 = b.claim(P, "report.authority")
    b.test(V, Q, cq)
    t = b.test(V, P, c2, result="FAILED")
    b.verdict(V, P, c2, [t], result="CONTRADICTED")
    b.append("claim.withdraw", P, P, example_claim_withdraw_body(c2))
    b.claim(Q, "report.authority")
    return b


def _hash(raw: LogEntry) -> bytes:
    return entry_hash(Envelope.parse_stored(raw.envelope))


def _tree(entries: list[LogEntry]) -> MemoryTree:
    return MemoryTree(
        leaf_hash(leaf_data(r.index, r.stream, r.position, r.log_time_ms, _hash(r)))
        for r in entries
    )


def make_bundle(
    b: LogBuilder,
    stream: str = P,
    *,
    size: int | None = None,
    proof_size: int | None = None,
    signer: NoteSigner = SIGNER,
) -> Bundle:
    """The bundle an honest ledger would export (``proof_size``: proofs for another size)."""
    n = len(b.entries) if size is None else size
    tree = _tree(b.entries)
    entries = tuple(
        BundleEntry(
            r.index,
            r.stream,
            r.position,
            r.log_time_ms,
            r.envelope,
            tuple(tree.inclusion_proof(r.index, n if proof_size is None else proof_size)),
        )
        for r in b.entries
        if r.index < n and r.stream in ("registry", stream)
    )
    note = sign_checkpoint(Checkpoint(ORIGIN, n, tree.root(n)), signer)
    return Bundle(ORIGIN, SIGNER.verifier.vkey(), _hash(b.entries[0]), stream, note, entries)


def _edit(data: bytes, fn: Any) -> bytes:
    obj = json.loads(data)
    fn(obj)
    return canonical.encode(obj)


def _without(bundle: Bundle, index: int) -> bytes:
    entries = tuple(e for e in bundle.entries if e.index != index)
    return Bundle(
        bundle.origin, bundle.log_key, bundle.genesis, bundle.stream, bundle.checkpoint, entries
    ).to_bytes()


@pytest.fixture(scope="module")
def log() -> LogBuilder:
    return _log()


@pytest.fixture(scope="module")
def bundle_bytes(log: LogBuilder) -> bytes:
    return make_bundle(log).to_bytes()


# -- the honest bundle -------------------------------------------------------------------------


def test_an_honest_bundle_verifies(log: LogBuilder, bundle_bytes: bytes) -> None:
    record = verify_bundle(bundle_bytes, genesis_hash=_hash(log.entries[0]))
    assert record.stream == P
    assert record.checkpoint.size == len(log.entries)
    assert record.genesis_hash == _hash(log.entries[0])
    company = [r for r in log.entries if r.stream == P]
    registry = [r for r in log.entries if r.stream == "registry"]
    assert [p.index for p in record.entries] == sorted(r.index for r in company + registry)
    assert record.stream_length == len(company)
    assert [p.signed.statement.kind for p in record.statements()] == [
        "claim.publish",
        "test.record",
        "verdict.issue",
        "claim.publish",
        "test.record",
        "verdict.issue",
        "claim.withdraw",
    ]
    assert Q not in {p.signed.statement.stream for p in record.entries}


def test_bundle_bytes_are_canonical_and_round_trip(bundle_bytes: bytes) -> None:
    parsed = Bundle.parse(bundle_bytes)
    assert parsed.to_bytes() == bundle_bytes
    obj = json.loads(bundle_bytes)
    assert obj["format"] == BUNDLE_FORMAT
    assert list(obj) == sorted(obj)
    assert set(obj["entries"][0]) == {
        "envelope",
        "inclusionProof",
        "index",
        "logTimeMs",
        "position",
        "stream",
    }


def test_a_bundle_at_an_earlier_size_verifies(log: LogBuilder) -> None:
    record = verify_bundle(make_bundle(log, size=9).to_bytes())
    assert record.checkpoint.size == 9
    assert all(p.index < 9 for p in record.entries)


# -- tampering -----------------------------------------------------------------------------------


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_flipped_byte_is_rejected(bundle_bytes: bytes, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(bundle_bytes) - 1), label="offset")
    mask = data.draw(st.integers(1, 255), label="mask")
    damaged = bytearray(bundle_bytes)
    damaged[i] ^= mask
    with pytest.raises(VerificationError):
        verify_bundle(bytes(damaged))


def test_every_byte_of_a_small_bundle_is_covered() -> None:
    """Flip one bit in every third byte of a whole (small) bundle: every change is refused."""
    b = LogBuilder.story()
    data = make_bundle(b).to_bytes()
    verify_bundle(data)
    for i in range(0, len(data), 3):
        damaged = bytearray(data)
        damaged[i] ^= 1 << (i % 8)
        with pytest.raises(VerificationError):
            verify_bundle(bytes(damaged))


def test_removing_a_company_entry_is_rejected(log: LogBuilder) -> None:
    bundle = make_bundle(log)
    victim = next(e for e in bundle.entries if e.stream == P and e.position == 2)
    with pytest.raises(VerificationError, match="record of acme-social is incomplete") as exc:
        verify_bundle(_without(bundle, victim.index))
    assert exc.value.position == 3
    assert exc.value.stream == P


def test_removing_a_registry_entry_is_rejected(log: LogBuilder) -> None:
    bundle = make_bundle(log)
    with pytest.raises(VerificationError, match="record of registry is incomplete"):
        verify_bundle(_without(bundle, 1))


def test_removing_the_genesis_is_rejected(log: LogBuilder) -> None:
    with pytest.raises(VerificationError, match="must be the genesis entry"):
        verify_bundle(_without(make_bundle(log), 0))


def test_reordering_is_rejected(log: LogBuilder, bundle_bytes: bytes) -> None:
    def swap(obj: dict[str, Any]) -> None:
        e = obj["entries"]
        e[5], e[6] = e[6], e[5]

    with pytest.raises(VerificationError, match="not in index order") as exc:
        verify_bundle(_edit(bundle_bytes, swap))
    assert exc.value.index is not None


def test_a_checkpoint_signed_by_another_key_is_rejected(log: LogBuilder) -> None:
    forged = make_bundle(log, signer=NoteSigner(ORIGIN, key(9)))
    with pytest.raises(CheckpointError, match="no signature"):
        verify_bundle(forged.to_bytes())


def test_a_checkpoint_of_another_origin_is_rejected(log: LogBuilder, bundle_bytes: bytes) -> None:
    def origin(obj: dict[str, Any]) -> None:
        obj["origin"] = "evil.example/log"

    with pytest.raises(CheckpointError, match="origin"):
        verify_bundle(_edit(bundle_bytes, origin))


def test_proofs_for_the_wrong_size_are_rejected(log: LogBuilder) -> None:
    n = len(log.entries)
    with pytest.raises(ProofError, match=f"in a tree of size {n - 3}") as exc:
        verify_bundle(make_bundle(log, size=n - 3, proof_size=n).to_bytes())
    assert exc.value.index is not None


def test_an_entry_beyond_the_checkpoint_is_rejected(log: LogBuilder) -> None:
    full = make_bundle(log)
    small = make_bundle(log, size=9)
    late = next(e for e in full.entries if e.index >= 9)
    mixed = Bundle(
        small.origin, small.log_key, small.genesis, P, small.checkpoint, (*small.entries, late)
    )
    with pytest.raises(ProofError, match="not below the checkpoint's tree size 9") as exc:
        verify_bundle(mixed.to_bytes())
    assert exc.value.index == late.index


def test_another_companys_entry_is_rejected(log: LogBuilder) -> None:
    bundle = make_bundle(log)
    other = make_bundle(log, Q)
    q_entry = next(e for e in other.entries if e.stream == Q)
    entries = tuple(sorted((*bundle.entries, q_entry), key=lambda e: e.index))
    mixed = Bundle(bundle.origin, bundle.log_key, bundle.genesis, P, bundle.checkpoint, entries)
    with pytest.raises(VerificationError, match="entry of stream 'globex-video'"):
        verify_bundle(mixed.to_bytes())


def test_a_pinned_genesis_mismatch_is_rejected(bundle_bytes: bytes) -> None:
    with pytest.raises(VerificationError, match="pinned ledger fingerprint") as exc:
        verify_bundle(bundle_bytes, genesis_hash=b"\x00" * 32)
    assert exc.value.index == 0


def test_unknown_members_and_non_canonical_json_are_rejected(bundle_bytes: bytes) -> None:
    def extra(obj: dict[str, Any]) -> None:
        obj["note"] = "hi"

    with pytest.raises(EncodingError, match="unknown member") as exc:
        verify_bundle(_edit(bundle_bytes, extra))
    assert exc.value.field == "/note"

    def extra_in_entry(obj: dict[str, Any]) -> None:
        obj["entries"][2]["comment"] = "x"

    with pytest.raises(EncodingError, match="unknown member") as exc:
        verify_bundle(_edit(bundle_bytes, extra_in_entry))
    assert exc.value.field == "/entries/2/comment"

    def missing(obj: dict[str, Any]) -> None:
        del obj["logKey"]

    with pytest.raises(EncodingError, match="missing member"):
        verify_bundle(_edit(bundle_bytes, missing))
    with pytest.raises(EncodingError):
        verify_bundle(json.dumps(json.loads(bundle_bytes), indent=1).encode())

    def version(obj: dict[str, Any]) -> None:
        obj["format"] = "claimledger.bundle.v2"

    with pytest.raises(EncodingError, match="unknown bundle format"):
        verify_bundle(_edit(bundle_bytes, version))


def test_the_bundle_genesis_and_log_key_must_match_the_genesis_entry(
    log: LogBuilder, bundle_bytes: bytes
) -> None:
    def genesis(obj: dict[str, Any]) -> None:
        obj["genesis"] = "00" * 32

    with pytest.raises(VerificationError, match="bundle names genesis"):
        verify_bundle(_edit(bundle_bytes, genesis))

    def log_key(obj: dict[str, Any]) -> None:
        obj["logKey"] = NoteSigner(ORIGIN, key(9)).verifier.vkey()

    with pytest.raises(CheckpointError, match="log key"):
        verify_bundle(_edit(bundle_bytes, log_key))


def test_a_bundle_of_a_party_that_is_not_a_provider_is_rejected(log: LogBuilder) -> None:
    with pytest.raises(VerificationError, match="not a provider"):
        verify_bundle(make_bundle(log, V).to_bytes())


def test_tail_truncation_is_not_provable_but_shows_in_the_stream_length(log: LogBuilder) -> None:
    """RFC 9162 has no proofs of absence: a bundle cut after its last company entry still
    verifies (SPEC §10.4); callers compare ``stream_length`` with the live log."""
    bundle = make_bundle(log)
    last = max(e.index for e in bundle.entries if e.stream == P)
    record = verify_bundle(_without(bundle, last))
    assert record.stream_length == verify_bundle(bundle.to_bytes()).stream_length - 1


# -- a checkpoint trusted earlier --------------------------------------------------------------


def test_consistency_with_a_trusted_checkpoint(log: LogBuilder) -> None:
    n = len(log.entries)
    tree = _tree(log.entries)
    data = make_bundle(log).to_bytes()
    same = Checkpoint(ORIGIN, n, tree.root(n))
    verify_bundle(data, trusted=same)
    with pytest.raises(ProofError, match="forked"):
        verify_bundle(data, trusted=Checkpoint(ORIGIN, n, b"\x01" * 32))
    older = Checkpoint(ORIGIN, 8, tree.root(8))
    with pytest.raises(ProofError, match="consistency proof is needed"):
        verify_bundle(data, trusted=older)
    verify_bundle(data, trusted=older, consistency_proof=tree.consistency_proof(8, n))
    with pytest.raises(ProofError, match="not consistent"):
        verify_bundle(data, trusted=older, consistency_proof=tree.consistency_proof(7, n))
    with pytest.raises(CheckpointError, match="trusted checkpoint is of log"):
        verify_bundle(data, trusted=Checkpoint("other.example/log", n, tree.root(n)))
