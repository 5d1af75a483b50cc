"""Evidence bundles verified offline: every alteration is refused, with a specific message."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest import canonical
from attest.bundle import BUNDLE_FORMAT, Bundle, BundleEntry, verify_bundle
from attest.checkpoint import Checkpoint, NoteSigner
from attest.dsse import Envelope
from attest.entry import LogEntry, entry_hash
from attest.errors import (
    CheckpointError,
    EncodingError,
    IncompleteRecordError,
    ProofError,
    VerificationError,
)
from attest.merkle import MemoryTree
from attest.statemap import stream_key
from keys import PrivateKey
from tests.attest.examples import (
    AUTHORITY,
    example_claim_withdraw_body,
    example_key,
    example_seed,
)
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
    b = LogBuilder()
    for e in entries:
        b.add(e)
    return b.tree()


def make_bundle(
    b: LogBuilder,
    stream: str = P,
    *,
    size: int | None = None,
    proof_size: int | None = None,
    signer: NoteSigner = SIGNER,
) -> Bundle:
    """The bundle an honest ledger would export (``proof_size``: proofs for another size)."""
    bundle = b.bundle(stream, signer, size=size, proof_size=proof_size)
    return dataclasses.replace(bundle, log_key=SIGNER.verifier.vkey())


def _edit(data: bytes, fn: Any) -> bytes:
    obj = json.loads(data)
    fn(obj)
    return canonical.encode(obj)


def _without(bundle: Bundle, index: int) -> bytes:
    entries = tuple(e for e in bundle.entries if e.index != index)
    return dataclasses.replace(bundle, entries=entries).to_bytes()


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
    about = {i for party in (P, V, "online-safety-board") for i in log.about(party, 99)}
    assert [p.index for p in record.entries] == sorted([r.index for r in company] + [*about])
    registered_q = next(i for i in log.about(Q, 99))
    assert registered_q not in {p.index for p in record.entries}  # the other provider's record
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
        "stateRoot",
        "stream",
    }
    assert set(obj["state"]) == {"inclusionProof", "leaf", "records"}


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
    with pytest.raises(IncompleteRecordError, match="registry record of acme-social"):
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
    mixed = dataclasses.replace(small, entries=(*small.entries, late))
    with pytest.raises(ProofError, match="not below the checkpoint's tree size 9") as exc:
        verify_bundle(mixed.to_bytes())
    assert exc.value.index == late.index


def test_another_companys_entry_is_rejected(log: LogBuilder) -> None:
    bundle = make_bundle(log)
    other = make_bundle(log, Q)
    q_entry = next(e for e in other.entries if e.stream == Q)
    entries = tuple(sorted((*bundle.entries, q_entry), key=lambda e: e.index))
    mixed = dataclasses.replace(bundle, entries=entries)
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
        obj["format"] = "claimledger.bundle.v1"

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


def test_tail_truncation_is_caught(log: LogBuilder) -> None:
    """The hole SPEC §10.4 of version 1 admitted: a bundle cut after a company entry, even
    re-encoded canonically, no longer verifies: the state commitment counts the stream."""
    bundle = make_bundle(log)
    last = max(e.index for e in bundle.entries if e.stream == P)
    with pytest.raises(IncompleteRecordError, match="counts 7 entries in stream acme-social"):
        verify_bundle(_without(bundle, last))
    company = [e for e in bundle.entries if e.stream == P]
    cut = tuple(e for e in bundle.entries if e.stream != P or e.position < 3)
    with pytest.raises(IncompleteRecordError, match="and 3 were given"):
        verify_bundle(dataclasses.replace(bundle, entries=cut).to_bytes())
    assert len(company) == 7


def test_an_old_head_with_a_new_checkpoint_is_caught(log: LogBuilder) -> None:
    """A server answering with an old bundle's entries and proofs against a newer checkpoint:
    the old state proof's leaf is not the newest leaf, and the new one counts more entries."""
    n = len(log.entries)
    old, new = make_bundle(log, size=n - 2), make_bundle(log)
    with pytest.raises(ProofError, match="not the last index"):
        verify_bundle(dataclasses.replace(new, state=old.state).to_bytes())
    old_entries = tuple(e for e in new.entries if e.index < n - 2)
    with pytest.raises(IncompleteRecordError):
        verify_bundle(dataclasses.replace(new, entries=old_entries).to_bytes())


def _with_revocation_and_suspension() -> LogBuilder:
    b = _log()
    key_id = PrivateKey.from_seed(example_seed(5)).public_key.key_id
    b.append("key.add", "registry", V, {"party": V, "key": example_key(6)})
    b.keys[V] = 6
    b.append("key.revoke", "registry", V, {"party": V, "keyId": key_id, "reason": "lost laptop"})
    b.append("accreditation.suspend", "registry", AUTHORITY, {"party": V, "reason": "conflict"})
    return b


@pytest.mark.parametrize("kind", ["key.revoke", "accreditation.suspend"])
def test_hiding_a_verifiers_revocation_or_suspension_is_caught(kind: str) -> None:
    b = _with_revocation_and_suspension()
    bundle = make_bundle(b)
    verify_bundle(bundle.to_bytes())
    hidden = next(
        e.index
        for e in bundle.entries
        if e.stream == "registry"
        and canonical.decode_object(Envelope.parse_stored(e.envelope).payload)["kind"] == kind
    )
    with pytest.raises(IncompleteRecordError, match="registry record of safecheck-labs"):
        verify_bundle(_without(bundle, hidden))


def test_leaving_out_a_signers_record_is_caught(log: LogBuilder) -> None:
    bundle = make_bundle(log)
    records = tuple(r for r in bundle.state.records if r.ident != V)
    short = dataclasses.replace(bundle, state=dataclasses.replace(bundle.state, records=records))
    with pytest.raises(IncompleteRecordError, match="leaves out the registry record of "):
        verify_bundle(short.to_bytes())


def test_a_registry_entry_about_an_unproved_party_is_refused(log: LogBuilder) -> None:
    bundle = make_bundle(log)
    q_register = next(i for i in log.about(Q, 99))
    tree = log.tree()
    r = log.entries[q_register]
    extra = BundleEntry(
        r.index,
        r.stream,
        r.position,
        r.log_time_ms,
        r.envelope,
        r.state_root or b"",
        tuple(tree.inclusion_proof(r.index, len(log.entries))),
    )
    entries = tuple(sorted((*bundle.entries, extra), key=lambda e: e.index))
    with pytest.raises(VerificationError, match="whose registry record the bundle does not prove"):
        verify_bundle(dataclasses.replace(bundle, entries=entries).to_bytes())


def test_a_provider_with_no_entries_verifies_with_an_absence_proof() -> None:
    b = LogBuilder.story()
    b.register("quiet-app", "provider", 7)
    b.claim("acme-social")  # the newest entry is not quiet-app's
    record = verify_bundle(make_bundle(b, "quiet-app").to_bytes())
    assert record.stream_length == 0
    assert record.statements() == []
    proof = make_bundle(b, "quiet-app").state.records[0]
    assert proof.kind == "stream"
    assert proof.proof.leaf is None or proof.proof.leaf.key != stream_key("quiet-app")


def test_a_bundle_stays_small_as_the_registry_grows() -> None:
    """The bundle carries the records of the parties involved, not the whole registry."""
    sizes = []
    for extra in (0, 40):
        b = _log()
        for i in range(extra):
            b.register(f"other-{i:03d}", "provider", 10 + i % 5)
        b.claim(P)
        sizes.append(len(make_bundle(b).entries))
        verify_bundle(make_bundle(b).to_bytes())
    assert sizes[0] == sizes[1]


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
