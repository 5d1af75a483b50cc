"""Opening a large ledger in worker processes: the same state, the same refusals, or a fallback.

``Ledger.open`` catches up with a large log by opening entries (envelope, signature, statement) in
a :class:`~ledger._pool.SignaturePool` one chunk ahead of the rules (``CATCH_UP_POOL_FROM``).
Here the threshold is lowered so that a small ledger takes that path, and every outcome is
compared with the sequential path on the same database: the same checkpoint and views for an
intact ledger, the same ``CorruptionError`` (type, message, location) for a tampered one.
"""

from __future__ import annotations

import logging
import random

import pytest

from attest.checkpoint import verify_checkpoint
from ledger import CorruptionError, Ledger
from ledger import _ledger as ledger_module
from ledger._pool import SignaturePool, WorkerError
from ledger._store import stream_id
from tests.attest.logbuilder import LOG_KEY, key
from tests.ledger.actors import P, Q, claim, init_ledger, register_story
from tests.ledger.test_tamper import Rows, flip

Outcome = tuple[str, str, str | None, int | None, int | None]


@pytest.fixture
def filled(store_url: str) -> str:
    """A ledger of the genesis, 4 registry entries and 24 claims over two providers."""
    with init_ledger(store_url) as led:
        register_story(led)
        for i in range(24):
            led.submit(claim(led, P if i % 3 else Q, "report.authority"))
    return store_url


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every catch-up of more than 1 entry use 2 worker processes."""
    monkeypatch.setattr(ledger_module, "CATCH_UP_POOL_FROM", 2)
    monkeypatch.setattr(ledger_module, "CATCH_UP_WORKERS", 2)


def _outcome(url: str) -> Outcome:
    try:
        with Ledger.open(url, log_key=key(LOG_KEY)) as led:
            cp = verify_checkpoint(led.checkpoint(), led.note_verifier)
            streams = led.views.streams()
            return ("ok", f"{cp.size}:{cp.root.hex()}:{streams}", None, None, None)
    except CorruptionError as exc:
        return (type(exc).__name__, str(exc), exc.stream, exc.position, exc.index)


def _sequential(url: str, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    with monkeypatch.context() as m:
        m.setattr(ledger_module, "CATCH_UP_POOL_FROM", 1 << 62)
        return _outcome(url)


def test_pooled_open_rebuilds_the_same_log_and_views(filled: str, pooled: None) -> None:
    with Ledger.open(filled) as seq_led:
        seq_scorecard = seq_led.views.scorecard(at_ms=2**45)
        seq_heads = {s: seq_led.head(s) for s in (P, Q)}
    assert {r.provider for r in seq_scorecard.rows} >= {P, Q}
    spawned: list[SignaturePool] = []
    real_init = SignaturePool.__init__

    def spy(self: SignaturePool, *args: object, **kwargs: object) -> None:
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]
        spawned.append(self)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(SignaturePool, "__init__", spy)
        with Ledger.open(filled, log_key=key(LOG_KEY)) as led:
            assert led.size == 29
            assert {s: led.head(s) for s in (P, Q)} == seq_heads
            assert led.views.scorecard(at_ms=2**45) == seq_scorecard
            # Still a working writer afterwards: the tree and the state are the real ones.
            receipt = led.submit(claim(led, P, "age.assurance"))
            assert receipt.index == 29
    assert [p.workers for p in spawned] == [2]  # the catch-up really went through workers


def test_pooled_and_sequential_opens_agree_on_an_intact_ledger(
    filled: str, pooled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _outcome(filled)[0] == "ok"
    assert _outcome(filled) == _sequential(filled, monkeypatch)


def test_pooled_and_sequential_opens_refuse_the_same_edit_at_the_same_place(
    filled: str, pooled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = Rows(filled)
    rng = random.Random(20261125)
    refused = 0
    try:
        for _ in range(12):
            provider = rng.choice([P, Q])
            version = rng.randrange(1, 9)
            original = rows.get(stream_id(provider), version)
            rows.put(stream_id(provider), version, flip(original, rng))
            try:
                pooled_outcome = _outcome(filled)
                assert pooled_outcome == _sequential(filled, monkeypatch)
                refused += pooled_outcome[0] != "ok"
            finally:
                rows.put(stream_id(provider), version, original)
    finally:
        rows.close()
    assert refused >= 6  # most single-byte edits of an envelope row break it outright


def test_a_pool_that_cannot_start_falls_back_to_one_core(
    filled: str,
    pooled: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(self: SignaturePool, *args: object, **kwargs: object) -> object:
        raise WorkerError("a signature worker process died; the pool cannot be used any more")

    monkeypatch.setattr(SignaturePool, "submit", broken)
    with caplog.at_level(logging.WARNING, logger="ledger"):
        outcome = _outcome(filled)
    assert outcome == _sequential(filled, monkeypatch)
    assert outcome[0] == "ok"
    assert any("catching up on one core" in r.getMessage() for r in caplog.records)
