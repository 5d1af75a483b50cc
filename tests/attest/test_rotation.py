"""Log key rotation in evidence bundles and the streaming verifier (SPEC §7.6, §10.3).

The log is rotation.json's (scripts/gen_vectors.rotation_log): the story log, the authority's
``log.key.rotate`` to example key 12 from size 15 at index 13, three more entries, and a second
rotation (to example key 13 from size 25) pending at size 18.
"""

from __future__ import annotations

import dataclasses

import pytest

from attest.bundle import Bundle, verify_bundle
from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.errors import CheckpointError, IncompleteRecordError, NotAuthorisedError
from attest.rules import LogState
from attest.verify import LogVerifier
from keys import PrivateKey
from scripts.gen_vectors import ORIGIN, ROTATION_FROM, rotation_log
from tests.attest.examples import AUTHORITY, PROVIDER, example_log_key_rotate_body, example_seed
from tests.attest.logbuilder import LogBuilder

OLD = NoteSigner(ORIGIN, PrivateKey.from_seed(example_seed(2)))
NEW = NoteSigner(ORIGIN, PrivateKey.from_seed(example_seed(12)))


@pytest.fixture(scope="module")
def log() -> LogBuilder:
    return rotation_log()


def _drop(bundle: Bundle, index: int) -> Bundle:
    return dataclasses.replace(bundle, entries=tuple(e for e in bundle.entries if e.index != index))


def test_bundle_across_the_rotation_verifies_with_the_key_in_force(log: LogBuilder) -> None:
    after = verify_bundle(log.bundle(PROVIDER, NEW).to_bytes())
    assert after.checkpoint.size == 18
    assert after.state.log_key_at(18) == NEW.key.public_key
    before = verify_bundle(log.bundle(PROVIDER, OLD, size=ROTATION_FROM - 1).to_bytes())
    assert before.checkpoint.size == ROTATION_FROM - 1
    assert any(p.signed.statement.kind == "log.key.rotate" for p in before.entries)


def test_bundle_signed_by_the_old_key_after_the_rotation_is_refused(log: LogBuilder) -> None:
    with pytest.raises(CheckpointError, match="log key"):
        verify_bundle(log.bundle(PROVIDER, OLD).to_bytes())
    with pytest.raises(CheckpointError, match="log key"):
        verify_bundle(log.bundle(PROVIDER, NEW, size=ROTATION_FROM - 1).to_bytes())


def test_bundle_hiding_the_rotation_is_refused(log: LogBuilder) -> None:
    """Dropping the rotation (so that the old key seems in force) is caught: the bundle's log key
    no longer matches, and with an old-key checkpoint the authority's record is incomplete."""
    with pytest.raises(CheckpointError, match="in force"):
        verify_bundle(_drop(log.bundle(PROVIDER, NEW), 13).to_bytes())
    old_signed = log.bundle(PROVIDER, OLD)
    with pytest.raises(IncompleteRecordError):
        verify_bundle(_drop(old_signed, 13).to_bytes())


def test_streaming_verifier_refuses_an_old_key_checkpoint_after_from_size(log: LogBuilder) -> None:
    tree = log.tree()
    verifier = LogVerifier()
    for e in log.entries[:ROTATION_FROM]:
        verifier.feed(e)
    note = sign_checkpoint(Checkpoint(ORIGIN, ROTATION_FROM, tree.root(ROTATION_FROM)), OLD)
    with pytest.raises(CheckpointError, match=r"replaced from size 15"):
        verifier.finish(note)
    good = sign_checkpoint(Checkpoint(ORIGIN, ROTATION_FROM, tree.root(ROTATION_FROM)), NEW)
    assert verifier.finish(good).checkpoint.size == ROTATION_FROM


def test_a_forged_rotation_by_a_non_authority_is_refused() -> None:
    """A provider signs a rotation to its own chosen key: refused, and the log key is unchanged."""
    b = LogBuilder.story()
    state = LogState()
    for e in b.entries:
        state.admit(state.open(e))
    forged = b.make("log.key.rotate", "registry", PROVIDER, example_log_key_rotate_body(12, 20))
    with pytest.raises(NotAuthorisedError, match="only the authority"):
        state.check(state.open(forged))
    honest = b.make("log.key.rotate", "registry", AUTHORITY, example_log_key_rotate_body(12, 20))
    state.check(state.open(honest))
    assert state.log_key_at(20) == OLD.key.public_key
