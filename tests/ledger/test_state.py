"""The state commitment in a real ledger (SPEC §11): stored with every entry, re-checked at every
open, proved at any size, and refused when it does not match the log."""

from __future__ import annotations

import json

import pytest

from attest.bundle import verify_bundle
from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint, verify_checkpoint
from attest.completeness import verify_state
from attest.dsse import Envelope
from attest.entry import LogEntry, entry_hash
from attest.statemap import Record, party_key, stream_key
from ledger import Ledger
from ledger._bundle import export_bundle
from ledger._store import LOG_ID, stream_id
from ledger.errors import CorruptionError, LedgerError, StoreError
from tests.attest.logbuilder import LogBuilder, key
from tests.ledger.actors import mirrored_ledger
from tests.ledger.conftest import raw_execute
from tests.ledger.test_store import oid

P = "acme-social"
Q = "globex-video"
V = "safecheck-labs"
AUTHORITY = "online-safety-board"


def _story(url: str) -> tuple[Ledger, LogBuilder]:
    ledger, b, put = mirrored_ledger(url)
    b.register(P, "provider", 3)
    put()
    b.register(Q, "provider", 4)
    put()
    b.register(V, "verifier", 5)
    put()
    b.accredit(V)
    put()
    c = b.claim(P)
    put()
    t = b.test(V, P, c)
    put()
    b.verdict(V, P, c, [t])
    put()
    b.claim(Q)
    put()
    return ledger, b


def test_every_stored_entry_carries_the_replayed_state_root(store_url: str) -> None:
    ledger, b = _story(store_url)
    with ledger:
        stored = ledger.log_entries(0, ledger.size)
        assert [e.state_root for e in stored] == [e.state_root for e in b.entries]
        assert len({e.state_root for e in stored}) == len(stored)  # every entry changes it
        assert ledger.state.state_root == b.commitment.map.root()


@pytest.mark.parametrize("older", [False, True])
def test_state_proofs_verify_at_the_latest_and_an_older_size(store_url: str, older: bool) -> None:
    ledger, b = _story(store_url)
    with ledger:
        n = ledger.size - 2 if older else ledger.size
        signer = NoteSigner(ledger.origin, key(2))
        note = sign_checkpoint(Checkpoint(ledger.origin, n, b.tree().root(n)), signer)
        cp = verify_checkpoint(note, ledger.note_verifier)
        wanted = [("stream", P), ("stream", Q), ("party", V), ("party", "nobody"), ("stream", V)]
        proof = ledger.state_proof(n, wanted)  # type: ignore[arg-type]
        got = verify_state(cp, proof)
        assert b.commitment.maps is not None
        expected = b.commitment.maps[n]
        for (kind, ident), rec in got.items():
            k = (stream_key if kind == "stream" else party_key)(ident)
            value = expected.get(k)
            assert (None if rec is None else rec.to_bytes()) == value
        assert got[("party", "nobody")] is None
        assert got[("stream", V)] is None  # a verifier has no stream of its own
        p = got[("stream", P)]
        assert isinstance(p, Record)
        assert p.count == (2 if older else 3)  # claim, test (, verdict); the last claim is Q's


def test_a_size_outside_the_tree_is_refused(store_url: str) -> None:
    ledger, _ = _story(store_url)
    with ledger, pytest.raises(LedgerError, match="tree size"):
        ledger.state_proof(ledger.size + 1, [("stream", P)])


def test_a_tampered_state_root_is_refused_at_open(store_url: str) -> None:
    """A database whose stored state root (log and stream events alike) is not the one the log
    replays: refused, located at the entry."""
    ledger, _ = _story(store_url)
    index = 5
    with ledger:
        (e,) = ledger.log_entries(index, index + 1)
    bad = "ab" * 32
    assert e.state_root is not None
    assert e.state_root.hex() != bad
    common = {"log_time_ms": e.log_time_ms, "entry_hash": _hash(e), "state_root": bad}
    leaf = {"stream": e.stream, "position": e.position, **common}
    entry = {"stream": e.stream, "index": e.index, "envelope": e.envelope.decode(), **common}
    for originator, version, state in (
        (LOG_ID, index + 1, leaf),
        (stream_id(e.stream), e.position + 1, entry),
    ):
        raw_execute(
            store_url,
            "UPDATE claimledger_events SET state=? WHERE originator_id=? AND originator_version=?",
            (json.dumps(state).encode(), oid(store_url, originator), version),
        )
    with pytest.raises(CorruptionError, match="state root") as info:
        Ledger.open(store_url)
    assert info.value.index == index


def _hash(e: LogEntry) -> str:
    return entry_hash(Envelope.parse_stored(e.envelope)).hex()


def test_a_ledger_of_the_previous_storage_format_is_refused_with_a_clear_message(
    store_url: str,
) -> None:
    ledger, _ = _story(store_url)
    ledger.close()
    raw_execute(store_url, "UPDATE claimledger_meta SET value=? WHERE key=?", (2, "format"))
    with pytest.raises(StoreError, match="storage format 2, written before its Merkle leaves"):
        Ledger.open(store_url)


def test_bundles_carry_only_the_parties_involved(store_url: str) -> None:
    ledger, b, put = mirrored_ledger(store_url)
    with ledger:
        b.register(P, "provider", 3)
        put()
        b.register(V, "verifier", 5)
        put()
        b.accredit(V)
        put()
        c = b.claim(P)
        put()
        sizes = []
        for i in range(2):
            for j in range(20):
                b.register(f"extra-{i}-{j:02d}", "provider", 10 + 20 * i + j)
                put()
            t = b.test(V, P, c)
            put()
            data = export_bundle(ledger, P)
            obj = json.loads(data)
            sizes.append(len(obj["entries"]))
            assert {r["id"] for r in obj["state"]["records"] if r["kind"] == "party"} == {
                P,
                V,
                AUTHORITY,
            }
            verify_bundle(data)
        assert sizes[1] == sizes[0] + 1  # one more test record, not 20 more parties
        assert t


def test_a_provider_with_no_entries_exports_a_bundle_that_proves_it(store_url: str) -> None:
    ledger, b, put = mirrored_ledger(store_url)
    with ledger:
        b.register(P, "provider", 3)
        put()
        b.register(Q, "provider", 4)
        put()
        b.claim(P)
        put()
        record = verify_bundle(export_bundle(ledger, Q))
        assert record.stream_length == 0
        assert [p.signed.statement.kind for p in record.entries] == ["genesis", "party.register"]
