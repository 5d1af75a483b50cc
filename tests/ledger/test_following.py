"""Following a shared database: a second ledger serves what the first appended, verified.

Two :class:`Ledger` objects over one real database (a SQLite file, a PostgreSQL schema) stand for
two server processes. :class:`Following` must bring the second up to date with the first's
appends (views, heads, checkpoints), re-verify what it reads, and stop rather than serve an entry
that fails the rules.
"""

from __future__ import annotations

import random
import time

import pytest

from attest.checkpoint import verify_checkpoint
from ledger import CorruptionError, Following, Ledger
from ledger._store import LOG_ID
from tests.attest.logbuilder import LOG_KEY, key
from tests.ledger.actors import P, Q, claim, init_ledger, register_story
from tests.ledger.test_tamper import Rows, flip


def _wait_for(predicate: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("writable", [True, False], ids=["writer", "read-only"])
def test_a_second_ledger_serves_what_the_first_appended(store_url: str, writable: bool) -> None:
    with init_ledger(store_url) as first:
        register_story(first)
        with Ledger.open(store_url, log_key=key(LOG_KEY) if writable else None) as second:
            follow = Following(second)
            assert follow.poll() == 0  # nothing new yet
            before = second.size
            receipts = [first.submit(claim(first, P if i % 2 else Q)) for i in range(5)]
            first.flush()  # keep the signed checkpoint now (a read-only ledger serves the kept one)

            assert second.size == before  # it does not know yet
            assert follow.poll() == 5
            assert second.size == first.size
            assert second.head(P) == first.head(P)
            assert second.head(Q) == first.head(Q)
            assert second.views.streams() == first.views.streams()
            assert second.checkpoint() == first.checkpoint()  # the same note, byte for byte
            cp = verify_checkpoint(second.checkpoint(), second.note_verifier)
            assert cp.size == receipts[-1].index + 1
            stats = follow.stats
            assert (stats.refreshes, stats.entries) == (1, 5)
            assert stats.last_lag_s is not None
            assert stats.last_lag_s >= 0
            assert stats.current_at > 0


def test_the_thread_follows_until_closed(store_url: str) -> None:
    with init_ledger(store_url) as first:
        register_story(first)
        with Ledger.open(store_url) as second:
            follow = Following(second, interval_s=0.02)
            follow.start()
            try:
                for i in range(3):
                    first.submit(claim(first, P))
                    assert _wait_for(lambda: second.head(P) == first.head(P)), i
            finally:
                follow.close()
            first.submit(claim(first, P))
            time.sleep(0.1)
            assert second.size == first.size - 1  # closed: it reads no more
            assert follow.stats.error == ""
            assert not follow.stopped


def test_an_entry_that_fails_the_rules_stops_the_follower_and_is_never_served(
    store_url: str,
) -> None:
    with init_ledger(store_url) as first:
        register_story(first)
        with Ledger.open(store_url) as second:
            follow = Following(second, interval_s=0.02)
            served = second.size
            receipt = first.submit(claim(first, P))
            rows = Rows(store_url)
            try:
                version = receipt.index + 1
                rows.put(LOG_ID, version, flip(rows.get(LOG_ID, version), random.Random(7)))
                with pytest.raises(CorruptionError) as caught:
                    follow.poll()
                assert caught.value.index == receipt.index
                assert second.size == served  # nothing of it is served

                follow.start()
                assert _wait_for(lambda: follow.stopped)
                follow.close()
                assert follow.stats.error == str(caught.value)  # the same refusal, kept
                assert second.size == served
            finally:
                rows.close()


def test_an_interval_must_be_positive(store_url: str) -> None:
    with init_ledger(store_url) as led, pytest.raises(ValueError, match="interval_s"):
        Following(led, interval_s=0)
