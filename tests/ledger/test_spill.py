"""SpillIndex: a verifier's growing state in a temporary SQLite file (issue 10 §2), read back
exactly as the in-memory index holds it."""

from __future__ import annotations

import gc
import random
from pathlib import Path

from attest.entry import LogEntry
from attest.rules import STREAM_FIELDS
from attest.verify import LogVerifier, MemoryIndex, VerifiedLog
from ledger._pool import SignaturePool
from ledger._spill import SpillIndex
from ledger._verify import verify_log
from scripts.gen_vectors import parties_log
from tests.attest.examples import AUTHORITY, example_key_revoke_body
from tests.attest.logbuilder import key
from tests.ledger.test_verify import note_for

P = "acme-social"


def test_a_spilled_mapping_behaves_as_a_dict_across_flushes() -> None:
    """Random puts, replacements, deletions and reads, with a buffer of 3 (so most of them
    cross a write to the file), against a plain dict."""
    rng = random.Random(20261207)
    with SpillIndex(buffer=3) as index:
        spilled, model = index.mapping("claims"), {}
        for step in range(2_000):
            k = bytes([rng.randrange(40)]) * 32
            op = rng.random()
            if op < 0.5:
                spilled[k] = model[k] = (step, "v" * (step % 7))
            elif op < 0.7 and k in model:
                del spilled[k], model[k]
            else:
                assert spilled.get(k) == model.get(k)
                assert (k in spilled) == (k in model)
        assert len(spilled) == len(model)
        assert dict(spilled) == model
        try:
            del spilled[b"\xff" * 32]
        except KeyError:
            pass
        else:
            raise AssertionError("deleting a missing key must raise KeyError")


def test_what_a_key_signed_reads_back_in_index_order_and_no_file_is_left(
    tmp_path: Path,
) -> None:
    index = SpillIndex(tmp_path, buffer=4)
    assert list(tmp_path.iterdir()) == []  # unlinked at once: a killed verifier leaves nothing
    for i in range(1, 30):
        index.signed("k2" if i % 3 else "k1", i, 1_000 * i)
    assert list(index.signed_by("k1")) == [(i, 1_000 * i) for i in range(3, 30, 3)]
    assert list(index.signed_by("none")) == []
    claims = index.mapping("claims")
    for i in range(10):
        claims[bytes([i]) * 32] = i
    del index
    gc.collect()
    assert claims[bytes([9]) * 32] == 9  # the state's mapping keeps the file open
    assert len(claims) == 10
    assert list(tmp_path.iterdir()) == []


def _compromised_log() -> tuple[list[LogEntry], bytes]:
    """A log with claims, tests and verdicts, and a key later stated compromised."""
    b, _ = parties_log()
    first = next(e for e in b.entries if e.stream == P)
    body = example_key_revoke_body(P, str(key(7).public_key.key_id))
    body["compromisedSince"] = {"index": first.index}
    b.append("key.revoke", "registry", AUTHORITY, body)
    return list(b.entries), note_for(b.entries)


def test_verifying_with_the_state_on_disk_gives_the_in_memory_verdict() -> None:
    """verify_log with a tiny buffer (every few entries go to the file, and are read back to
    decide later ones) ends in the state, counts and compromised entries of LogVerifier."""
    entries, note = _compromised_log()
    memory = LogVerifier(index=MemoryIndex())
    for e in entries:
        memory.feed(e)
    want = memory.finish(note)
    assert want.compromised  # the cases are there to be read back
    assert len(want.state.claims) > 2
    assert len(want.state.verdicts) > 0
    with SignaturePool(1) as pool:
        got = verify_log(iter(entries), note, pool=pool, chunk=5, index=SpillIndex(buffer=2))
    assert isinstance(got, VerifiedLog)
    assert (got.checkpoint, got.kinds, got.compromised) == (
        want.checkpoint,
        want.kinds,
        want.compromised,
    )
    for name in STREAM_FIELDS:
        assert dict(getattr(got.state, name)) == dict(getattr(want.state, name)), name
    assert got.state.state_root == want.state.state_root
