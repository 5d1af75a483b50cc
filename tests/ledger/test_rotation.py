"""Log key rotation in the ledger (SPEC §7.6), on a real SQLite file and real PostgreSQL.

The authority logs ``log.key.rotate``; the ledger signs every checkpoint with the key in force at
its size (the old key up to ``fromSize - 1``, the new one from ``fromSize``), refuses a rotation
to a key it does not hold, and the whole log verifies from genesis across the rotation.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from attest.checkpoint import NoteVerifier, verify_checkpoint
from attest.errors import CheckpointError, NotAuthorisedError
from attest.statements import REGISTRY_STREAM
from attest.verify import LogVerifier, verify_log_checkpoint
from ledger import (
    Ledger,
    LedgerError,
    LogKeyNotHeldError,
    backup_sqlite,
    check_published_checkpoint,
)
from tests.attest.examples import AUTHORITY, example_log_key_rotate_body
from tests.attest.logbuilder import key
from tests.ledger.actors import LOG_KEY, ORIGIN, claim, envelope, init_ledger, register_story

NEW_KEY = 12


@pytest.fixture
def led(store_url: str) -> Any:
    ledger = init_ledger(store_url)
    yield ledger
    ledger.close()


def _rotate(led: Ledger, from_size: int) -> bytes:
    body = example_log_key_rotate_body(NEW_KEY, from_size)
    return envelope(led, "log.key.rotate", REGISTRY_STREAM, AUTHORITY, body)


def test_a_rotation_to_a_key_the_ledger_does_not_hold_is_refused(led: Ledger) -> None:
    register_story(led)
    with pytest.raises(NotAuthorisedError, match="does not hold the private key"):
        led.submit(_rotate(led, led.size + 2))
    assert led.state.log_keys[-1].from_size == 0  # nothing was logged


def test_checkpoints_follow_the_rotation_and_the_log_verifies(store_url: str) -> None:
    init_ledger(store_url).close()
    old = NoteVerifier.for_key(ORIGIN, key(LOG_KEY).public_key)
    new = NoteVerifier.for_key(ORIGIN, key(NEW_KEY).public_key)
    with Ledger.open(store_url, log_key=key(LOG_KEY), next_log_keys=[key(NEW_KEY)]) as led:
        register_story(led)
        rotation = led.submit(_rotate(led, led.size + 2))
        from_size = rotation.index + 2
        # The receipt's checkpoint (size index + 1) is the hand-over: old key, covers it.
        assert verify_checkpoint(rotation.checkpoint, old).size == rotation.index + 1
        later = led.submit(claim(led))
        assert later.tree_size == from_size
        assert verify_checkpoint(later.checkpoint, new).size == from_size
        with pytest.raises(CheckpointError):
            verify_checkpoint(later.checkpoint, old)
        handover = led.checkpoint_at(from_size - 1)
        assert verify_checkpoint(handover, old).size == from_size - 1
        led.submit(claim(led, measure="report.authority"))
        note = led.checkpoint()
        v = LogVerifier()
        for raw in led.iter_log():
            v.feed(raw)
        assert v.finish(note).checkpoint.size == led.size
        assert verify_log_checkpoint(handover, v.state).size == from_size - 1
    # After fromSize the old key alone cannot open the ledger for writing; the new key can.
    with pytest.raises(LedgerError, match="not the one in force"):
        Ledger.open(store_url, log_key=key(LOG_KEY))
    with Ledger.open(store_url, log_key=key(NEW_KEY)) as again:
        again.submit(claim(again, measure="detect.url_blocklist"))
        assert verify_checkpoint(again.checkpoint(), new).size == again.size
        # The new key cannot sign a size before fromSize, but the hand-over note was kept when
        # the rotation was logged, so clients pinned to the old key can still follow.
        kept = again.checkpoint_at(from_size - 1)
        assert verify_checkpoint(kept, old).size == from_size - 1
        assert kept == handover
        with pytest.raises(LedgerError, match="does not hold the log key in force at size 3"):
            again.checkpoint_at(3)
    with Ledger.open(store_url) as read_only:
        assert read_only.checkpoint_at(from_size - 1) == handover


def test_a_snapshot_after_the_rotation_is_signed_by_the_new_key_and_read_with_it(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    init_ledger(store_url).close()
    with Ledger.open(store_url, log_key=key(LOG_KEY), next_log_keys=[key(NEW_KEY)]) as led:
        register_story(led)
        rotation = led.submit(_rotate(led, led.size + 2))
        led.submit(claim(led))
        assert led.size == rotation.index + 2
        assert led.snapshot() == led.size
        size = led.size
    with (
        caplog.at_level(logging.INFO, logger="ledger._ledger"),
        Ledger.open(store_url, log_key=key(NEW_KEY)) as again,
    ):
        assert again.size == size
        assert again.state.log_key == key(NEW_KEY).public_key
    assert f"opened from the snapshot of {size} entries" in caplog.text
    caplog.clear()
    # A reader that does not hold the new key cannot check the snapshot's signature: it replays.
    with caplog.at_level(logging.INFO, logger="ledger._ledger"), Ledger.open(store_url) as ro:
        assert ro.size == size
    assert "replaying the log from genesis" in caplog.text
    caplog.clear()
    # Given the new public key (an operator's setting, CLAIMLEDGER_LOG_VKEYS), it starts from the
    # snapshot; given only the old one, it still replays.
    new = key(NEW_KEY).public_key
    with (
        caplog.at_level(logging.INFO, logger="ledger._ledger"),
        Ledger.open(store_url, snapshot_keys=[new]) as ro,
    ):
        assert ro.size == size
    assert f"opened from the snapshot of {size} entries" in caplog.text
    caplog.clear()
    old = key(LOG_KEY).public_key
    with (
        caplog.at_level(logging.INFO, logger="ledger._ledger"),
        Ledger.open(store_url, snapshot_keys=[old]) as ro,
    ):
        assert ro.size == size
    assert "replaying the log from genesis" in caplog.text


def test_the_published_checkpoint_floor_across_the_rotation(store_url: str, tmp_path: Any) -> None:
    """The floor file holds a new-key checkpoint after the rotation: the start-up check (which
    does not replay) and the open (which does) both read it with the key in force at its size."""
    floor = tmp_path / "published"
    init_ledger(store_url).close()
    with Ledger.open(
        store_url,
        log_key=key(LOG_KEY),
        next_log_keys=[key(NEW_KEY)],
        published_checkpoint=floor,
    ) as led:
        register_story(led)
        led.submit(_rotate(led, led.size + 2))
        led.submit(claim(led))
        size = led.size
    cp = check_published_checkpoint(store_url, floor)
    assert cp is not None
    assert cp.size == size
    with Ledger.open(store_url, log_key=key(NEW_KEY), published_checkpoint=floor) as again:
        assert again.size == size


def test_a_backup_after_the_rotation_checks_with_the_new_key(tmp_path: Any) -> None:
    """``backup`` checks the copy's newest checkpoint without replaying it: after a rotation,
    with the key the registry puts in force at its size."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    init_ledger(url).close()
    with Ledger.open(url, log_key=key(LOG_KEY), next_log_keys=[key(NEW_KEY)]) as led:
        register_story(led)
        led.submit(_rotate(led, led.size + 2))
        led.submit(claim(led))
        led.flush()  # keep the newest checkpoint (signed by the new key) in the database
        size = led.size
    result = backup_sqlite(url, tmp_path / "copy.db")
    assert result.checkpoint_size == size
    new = NoteVerifier.for_key(ORIGIN, key(NEW_KEY).public_key)
    assert verify_checkpoint(result.checkpoint, new).size == size


def test_a_writer_without_the_new_key_appends_nothing_past_from_size(store_url: str) -> None:
    """Two writers on one database; one holds the next key and logs the rotation. The other
    appends only while the old key is in force, then refuses, storing nothing it cannot sign."""
    init_ledger(store_url).close()
    with (
        Ledger.open(store_url, log_key=key(LOG_KEY), next_log_keys=[key(NEW_KEY)]) as a,
        Ledger.open(store_url, log_key=key(LOG_KEY)) as b,
    ):
        register_story(a)
        rotation = a.submit(_rotate(a, a.size + 3))
        b.refresh()
        first = b.submit(claim(b))  # size rotation.index + 2: the old key still signs it
        assert first.tree_size == rotation.index + 2
        with pytest.raises(LogKeyNotHeldError, match="does not hold the log key in force"):
            b.submit(claim(b, measure="report.authority"))
        # Its server answers a specific 503 problem naming the key, not an internal error.
        with TestClient(create_app(b)) as http:
            r = http.post(
                "/v1/entries",
                content=claim(b, measure="report.authority"),
                headers={"content-type": "application/json"},
            )
        assert r.status_code == 503
        assert r.json()["type"].endswith("/log-key-not-held")
        assert "does not hold the log key in force" in r.json()["detail"]
        assert b.store.size() == first.tree_size
        a.refresh()
        later = a.submit(claim(a, measure="report.authority"))
        assert later.tree_size == rotation.index + 3
        # B follows the log past fromSize: it keeps no checkpoint and saves no snapshot it
        # cannot sign, and says so only when asked to sign one.
        b.refresh()
        b.flush()
        assert b.size == later.tree_size
        with pytest.raises(LedgerError, match="does not hold the log key in force"):
            b.checkpoint()
