"""Crash safety: a writer process is killed with SIGKILL at random moments, on both databases.

After every kill: each entry for which a receipt was printed is stored at its index with its hash;
the stored Merkle nodes match a fresh recomputation from the events (before and after reopening);
the checkpoint verifies; the whole log verifies; and the next writer continues the same log.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from attest.checkpoint import verify_checkpoint
from attest.entry import leaf_data
from attest.merkle import MemoryTree, leaf_hash
from attest.verify import LogVerifier
from ledger import EntryStore, Ledger, LedgerNotFoundError, open_store
from tests.attest.logbuilder import key
from tests.ledger.actors import LOG_KEY, init_ledger, register_story
from tests.ledger.conftest import sibling_database

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20

_WRITER = """
import itertools, random, sys, time
from ledger import Ledger
from attest.dsse import Envelope
from attest.entry import entry_hash
from attest.errors import VerificationError
from tests.attest.examples import example_claim_body
from tests.attest.logbuilder import key
from tests.ledger.actors import LOG_KEY, P, Q, envelope
url, run = sys.argv[1], sys.argv[2]
with Ledger.open(url, log_key=key(LOG_KEY)) as led:
    print("open", led.size, flush=True)
    for n in itertools.count():
        envs, heads = [], {}
        for i in range(1 if n % 3 else 5):  # single entries and group commits
            stream = P if (n + i) % 2 else Q
            body = example_claim_body()
            body["services"] = [f"run {run} entry {n}.{i}"]
            prev = heads.get(stream) or led.head(stream)[0]
            envs.append(envelope(led, "claim.publish", stream, stream, body, prev=prev))
            heads[stream] = entry_hash(Envelope.parse(envs[-1])).hex()
        for r in led.submit_many(envs):
            if isinstance(r, VerificationError):
                raise r
            print(r.index, r.entry_hash.hex(), flush=True)
        time.sleep(random.uniform(0, 0.01))  # keep the log small: checks replay all of it
"""

_INIT = """
import sys
from tests.ledger.actors import init_ledger
print("start", flush=True)
init_ledger(sys.argv[1]).close()
print("done", flush=True)
"""


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _fresh_tree(store: EntryStore, size: int) -> MemoryTree:
    return MemoryTree(
        leaf_hash(
            leaf_data(x.index, x.stream, x.position, x.log_time_ms, x.entry_hash, x.state_root)
        )
        for x in store.leaves(0, size)
    )


def _check_nodes(store: EntryStore, tree: MemoryTree, upto: int) -> None:
    """Every perfect node of the tree of ``upto`` leaves is stored and equals the recomputation."""
    wanted = [(lv, i) for lv in range(upto.bit_length()) for i in range(upto >> lv)]
    stored = store.get_nodes(wanted)
    missing = [k for k in wanted if k not in stored]
    assert not missing, f"nodes claimed up to {upto} but missing: {missing[:5]}"
    wrong = [k for k in wanted if stored[k] != tree.get_node(*k)]
    assert not wrong, f"stored nodes differ from the events at {wrong[:5]}"


def _check_after_crash(url: str, acknowledged: dict[int, bytes]) -> int:
    with open_store(url) as store:
        size = store.size()
        tree = _fresh_tree(store, size)
        marker = store.nodes_size()
        assert marker <= size
        _check_nodes(store, tree, marker)  # what the crash left is true as far as it claims
    with Ledger.open(url, log_key=key(LOG_KEY)) as led:  # re-verifies every entry
        assert led.size == size
        for index, h in acknowledged.items():
            (entry,) = led.store.leaves(index, index + 1)
            assert entry.entry_hash == h, f"acknowledged entry {index} lost"
        assert led.store.nodes_size() == size
        _check_nodes(led.store, tree, size)
        cp = verify_checkpoint(led.checkpoint(), led.note_verifier)
        assert (cp.size, cp.root) == (size, tree.root())
        v = LogVerifier()
        for raw in led.iter_log():
            v.feed(raw)
        v.finish(led.checkpoint())
    return size


def test_sigkill_during_sustained_appends(store_url: str) -> None:
    rng = random.Random(20261125)
    with init_ledger(store_url) as led:
        register_story(led)
    acknowledged: dict[int, bytes] = {}
    size = 5
    for run in range(KILLS):
        proc = _spawn(_WRITER, store_url, str(run))
        assert proc.stdout is not None
        if run % 5 == 4:  # sometimes while it starts up (imports, catch-up, node repair)
            time.sleep(rng.uniform(0.1, 0.6))
        else:
            opened = proc.stdout.readline()
            assert opened.startswith("open"), proc.communicate()[1]
            assert int(opened.split()[1]) == size  # the next run continues the same log
            time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        # only whole lines: a line cut by the kill was not a complete report of a receipt
        for line in out.split("\n")[:-1]:
            if line.startswith("open"):
                continue
            index, h = line.split()
            assert int(index) not in acknowledged
            acknowledged[int(index)] = bytes.fromhex(h)
        size = _check_after_crash(store_url, acknowledged)
        assert size >= len(acknowledged) + 5
    assert len(acknowledged) > KILLS  # the writers did make progress between kills


def test_sigkill_during_init_leaves_no_ledger_or_a_whole_one(store_url: str) -> None:
    rng = random.Random(7)
    with sibling_database(store_url) as url:  # how long an init takes here, to aim the kills
        proc = _spawn(_INIT, url)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "start"
        began = time.monotonic()
        assert proc.stdout.readline().strip() == "done"
        took = time.monotonic() - began
        proc.communicate(timeout=30)
    outcomes = set()
    for _ in range(8):
        with sibling_database(store_url) as url:
            proc = _spawn(_INIT, url)
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "start"
            time.sleep(rng.uniform(0.0, 1.2 * took))
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            try:
                led = Ledger.open(url, log_key=key(LOG_KEY))
            except LedgerNotFoundError:
                outcomes.add("absent")
                init_ledger(url).close()  # an unfinished init can simply be run again
                led = Ledger.open(url, log_key=key(LOG_KEY))
            else:
                outcomes.add("complete")
            with led:
                assert led.size == 1
                v = LogVerifier()
                v.feed(next(led.iter_log()))
                v.finish(led.checkpoint())
    assert outcomes, outcomes  # which ones happen depends on timing; both are fine


@pytest.fixture(autouse=True)
def _posix_only() -> None:
    if os.name != "posix":
        pytest.skip("SIGKILL needs POSIX")
