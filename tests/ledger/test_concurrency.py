"""Racing writers on real databases: threads on one Ledger, separate Ledgers, separate processes.

Every test ends with the same checks: no fork (each stream's chain verifies), no lost acknowledged
entry (every receipt's index holds that entry hash), global indexes gap-free, and a full offline
``LogVerifier`` replay that accepts every stored entry.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from attest.dsse import Envelope
from attest.entry import entry_hash
from attest.errors import ChainError, RevokedKeyError
from attest.statements import REGISTRY_STREAM
from attest.verify import LogVerifier
from ledger import Ledger, Receipt
from tests.attest.examples import (
    AUTHORITY,
    example_claim_body,
    example_key_add_body,
    example_key_revoke_body,
    example_party_register_body,
)
from tests.attest.logbuilder import key
from tests.ledger.actors import KEYS, LOG_KEY, P, envelope, init_ledger, register_story

WRITERS = 8
PER_WRITER = 5
MEASURES = [
    "detect.hash_known_image",
    "detect.hash_known_video",
    "detect.url_blocklist",
    "detect.classifier_novel",
    "detect.grooming_text",
    "detect.livestream",
    "report.authority",
    "report.user_tool",
    "age.assurance",
    "transparency.report",
]
ROOT = Path(__file__).resolve().parents[2]
_serial = itertools.count()  # every append of these tests signs a distinct statement


@pytest.fixture
def led(store_url: str) -> Iterator[Ledger]:
    ledger = init_ledger(store_url)
    register_story(ledger)
    yield ledger
    ledger.close()


def append_rebasing(
    led: Ledger, stream: str, signer: str, measure: str, *, key_no: int | None = None
) -> tuple[Receipt, int]:
    """Sign on the head this ledger object knows; on ChainError rebase onto the reported head."""
    prev = led.head(stream)[0]
    conflicts = 0
    body = example_claim_body(measure)
    body["services"] = [f"Service {os.getpid()}-{threading.get_ident()}-{next(_serial)}"]
    while True:
        env = envelope(led, "claim.publish", stream, signer, body, key_no=key_no, prev=prev)
        try:
            return led.submit(env), conflicts
        except ChainError as exc:
            if exc.stream != stream or exc.head == prev:
                raise AssertionError(f"a ChainError that does not help to rebase: {exc}") from exc
            prev = exc.head
            conflicts += 1


def check_log(led: Ledger, receipts: list[Receipt], expected_size: int) -> None:
    """No lost acknowledged entry, gap-free indexes, no fork, full verification."""
    led.refresh()
    assert led.store.size() == led.size == expected_size
    entries = list(led.iter_log())
    assert [e.index for e in entries] == list(range(expected_size))
    by_index = {e.index: entry_hash(Envelope.parse_stored(e.envelope)) for e in entries}
    for r in receipts:
        assert by_index[r.index] == r.entry_hash
    assert len({r.index for r in receipts}) == len(receipts)
    positions: dict[str, list[int]] = {}
    for e in entries:
        positions.setdefault(e.stream, []).append(e.position)
    for stream, pos in positions.items():
        assert pos == list(range(len(pos))), stream
        assert led.store.stream_length(stream) == len(pos)
    v = LogVerifier()
    for e in entries:
        v.feed(e)  # every chain link, every rule
    v.finish(led.checkpoint())


def run_threads(targets: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def wrap(f: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                f()
            except BaseException as exc:
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(f)) for f in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        assert not t.is_alive(), "a writer hung"
    if errors:
        raise errors[0]


def _opener(store_url: str, shared: Ledger | None) -> Callable[[], Ledger]:
    opened: list[Ledger] = []

    def get() -> Ledger:
        if shared is not None:
            return shared
        ledger = Ledger.open(store_url, log_key=key(LOG_KEY))
        opened.append(ledger)
        return ledger

    get.opened = opened  # type: ignore[attr-defined]
    return get


@pytest.mark.parametrize("objects", ["one", "separate"])
def test_eight_writers_on_one_stream(led: Ledger, store_url: str, objects: str) -> None:
    get = _opener(store_url, led if objects == "one" else None)
    receipts: list[Receipt] = []
    conflicts: list[int] = []
    start = led.size

    together = threading.Barrier(WRITERS)  # open first, then race (else no race under load)

    def writer(i: int) -> Callable[[], None]:
        def run() -> None:
            mine = get()
            together.wait(timeout=60)
            for j in range(PER_WRITER):
                r, c = append_rebasing(mine, P, P, MEASURES[(i + j * WRITERS) % len(MEASURES)])
                receipts.append(r)
                conflicts.append(c)

        return run

    try:
        run_threads([writer(i) for i in range(WRITERS)])
    finally:
        for other in get.opened:  # type: ignore[attr-defined]
            other.close()
    assert len(receipts) == WRITERS * PER_WRITER
    assert sum(conflicts) > 0  # they did race, and the losers were told
    check_log(led, receipts, start + WRITERS * PER_WRITER)
    assert sorted(r.position for r in receipts) == list(range(WRITERS * PER_WRITER))


@pytest.mark.parametrize("objects", ["one", "separate"])
def test_eight_writers_on_eight_streams(led: Ledger, store_url: str, objects: str) -> None:
    providers = [f"provider-{i}" for i in range(WRITERS)]
    for i, p in enumerate(providers):
        KEYS[p] = 40 + i
        body = example_party_register_body(p, "provider", keys=[40 + i])
        led.submit(envelope(led, "party.register", REGISTRY_STREAM, AUTHORITY, body))
    get = _opener(store_url, led if objects == "one" else None)
    receipts: list[Receipt] = []
    start = led.size

    def writer(i: int) -> Callable[[], None]:
        def run() -> None:
            mine = get()
            for j in range(PER_WRITER):
                r, c = append_rebasing(mine, providers[i], providers[i], MEASURES[j])
                assert c == 0  # nobody else writes this stream
                receipts.append(r)

        return run

    try:
        run_threads([writer(i) for i in range(WRITERS)])
    finally:
        for other in get.opened:  # type: ignore[attr-defined]
            other.close()
    check_log(led, receipts, start + WRITERS * PER_WRITER)
    for p in providers:
        assert led.head(p)[1] == PER_WRITER


_PROCESS_WRITER = """
import sys
from attest.errors import ChainError
from ledger import Ledger
from tests.attest.logbuilder import key
from tests.ledger.actors import LOG_KEY, P
from tests.ledger.test_concurrency import append_rebasing, MEASURES
url, i, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with Ledger.open(url, log_key=key(LOG_KEY)) as led:
    for j in range(n):
        r, _ = append_rebasing(led, P, P, MEASURES[(i + 4 * j) % len(MEASURES)])
        print(r.index, r.entry_hash.hex(), flush=True)
"""


def test_writer_processes_on_one_stream(led: Ledger, store_url: str) -> None:
    start = led.size
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS_WRITER, store_url, str(i), str(PER_WRITER)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    acknowledged: list[tuple[int, bytes]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        for line in out.splitlines():
            at, hexhash = line.split()
            acknowledged.append((int(at), bytes.fromhex(hexhash)))
    assert len(acknowledged) == 4 * PER_WRITER
    led.refresh()
    stored = {e.index: entry_hash(Envelope.parse_stored(e.envelope)) for e in led.iter_log()}
    for ack_index, ack in acknowledged:
        assert stored[ack_index] == ack
    check_log(led, [], start + 4 * PER_WRITER)


@pytest.mark.parametrize("objects", ["one", "separate"])
def test_revocation_races_appends(led: Ledger, store_url: str, objects: str) -> None:
    """One writer revokes key K while others append signed with K, for several rounds."""
    appenders = _opener(store_url, led if objects == "one" else None)
    signed_with: dict[bytes, str] = {}  # entry hash -> key id, for every accepted append
    refused_after: list[tuple[str, int]] = []  # (key id, size when refused)
    try:
        for rnd in range(4):
            k = 60 + rnd
            kid = str(key(k).public_key.key_id)
            led.submit(
                envelope(led, "key.add", REGISTRY_STREAM, AUTHORITY, example_key_add_body(P, k))
            )
            go = threading.Event()

            def appender(
                i: int, k: int = k, kid: str = kid, go: threading.Event = go
            ) -> Callable[[], None]:
                def run() -> None:
                    mine = appenders()
                    mine.refresh()
                    go.wait()
                    pace = random.Random(i * 100 + k)
                    for j in range(40):
                        # A short, varied pause between appends, as real clients have: without
                        # it three separate writers hammering the log can starve the revoker
                        # (each lost race costs it a catch-up) and the round proves nothing.
                        time.sleep(pace.uniform(0, 0.003))
                        try:
                            m = MEASURES[(i * 3 + j) % len(MEASURES)]
                            r, _ = append_rebasing(mine, P, P, m, key_no=k)
                        except RevokedKeyError as exc:
                            refused_after.append((kid, -1 if exc.index is None else exc.index))
                            return
                        signed_with[r.entry_hash] = kid
                    raise AssertionError("the revocation never won")

                return run

            def revoker(kid: str = kid, go: threading.Event = go) -> None:
                go.set()
                body = example_key_revoke_body(P, kid)
                led.submit(envelope(led, "key.revoke", REGISTRY_STREAM, AUTHORITY, body))

            run_threads([appender(i) for i in range(3)] + [revoker])
    finally:
        for other in appenders.opened:  # type: ignore[attr-defined]
            other.close()
    led.refresh()
    # An offline replay accepts every stored entry: the ledger stored nothing the rules reject.
    v = LogVerifier()
    revoked_at: dict[str, int] = {}
    for e in led.iter_log():
        placed = v.feed(e)
        body = placed.signed.statement.body
        if placed.signed.statement.kind == "key.revoke":
            revoked_at[body.key_id] = e.index  # type: ignore[union-attr]
        signer_key = signed_with.get(placed.signed.entry_hash)
        if signer_key is not None:
            assert e.index < revoked_at.get(signer_key, 1 << 62), "stored after its revocation"
    v.finish(led.checkpoint())
    assert len(revoked_at) == 4
    # every refusal came after the revocation was sequenced
    assert len(refused_after) == 12
    for kid, at in refused_after:
        assert at > revoked_at[kid]
    assert KEYS[P] == 3
