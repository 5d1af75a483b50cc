"""Several ``claimledger serve`` processes over one database: all current, all safe to write to.

Real server processes on loopback over one real database. Two hold the log key and take writes,
one holds no key (a read-only replica). Entries appended through any writer must be served by
every other server (checkpoint, stream head, pages) without any further write; with both writers
taking appends at once and one of them SIGKILLed mid-append, no acknowledged entry may be lost,
every server must then serve the same checkpoint, and ``claimledger verify --db`` must pass.
(How fast they follow is measured in bench/bench_scaleout.py, not timed here.)
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from attest.build import make_statement, sign_statement
from attest.checkpoint import verify_checkpoint
from attest.statements import format_timestamp
from ledger import Ledger, system_clock
from tests.attest.examples import example_claim_body
from tests.attest.logbuilder import LOG_KEY, key
from tests.cli.conftest import Proc, free_port
from tests.conftest import wait_ready
from tests.ledger.actors import KEYS, P, Q, init_ledger, register_story

JSON = {"content-type": "application/json"}
WAIT_S = 15.0  # generous: how long a server may take to show another's append in this test


@pytest.fixture
def shared(store_url: str, tmp_path: Path) -> tuple[str, Path]:
    """A ledger with the story's parties, and its log key in a file."""
    with init_ledger(store_url) as led:
        register_story(led)
    path = tmp_path / "log.key"
    key(LOG_KEY).save(path, None, unsafe_unencrypted=True)
    return store_url, path


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]


@contextmanager
def servers(proc: Proc, url: str, *keys: Path | None) -> Iterator[list[Server]]:
    """``claimledger serve`` over ``url`` once per key (None: read-only), all started at once,
    each answering its checkpoint before the block runs; killed (if still alive) after it."""
    started = []
    for log_key in keys:
        port = free_port()
        args = ["serve", "--db", url, "--port", str(port)]
        args += [] if log_key is None else ["--log-key", str(log_key)]
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            cwd=proc.cwd,
            env=proc.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(Server(f"http://127.0.0.1:{port}", process))
    try:
        for s in started:
            wait_ready(s.process, s.base, "/readyz")
        yield started
    finally:
        for s in started:
            if s.process.poll() is None:
                s.process.terminate()
        for s in started:
            s.process.wait(timeout=15)


def _size(base: str) -> int:
    r = httpx.get(base + "/v1/log/checkpoint", timeout=5)
    assert r.status_code == 200, r.text
    return int(r.text.split("\n")[1])


def _until(predicate: object) -> bool:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            if predicate():  # type: ignore[operator]
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


def _claim(stream: str, prev: str) -> bytes:
    """A claim by ``stream``'s provider on top of ``prev`` (each prev makes a new envelope)."""
    statement = make_statement(
        kind="claim.publish",
        stream=stream,
        prev=prev,
        signer=stream,
        signed_at=format_timestamp(system_clock()),
        body=example_claim_body("report.authority"),
    )
    return sign_statement(statement, key(KEYS[stream])).to_bytes()


def test_every_server_serves_what_any_other_appended(shared: tuple[str, Path], proc: Proc) -> None:
    url, log_key = shared
    with servers(proc, url, log_key, log_key, None) as started:
        a, b, replica = (s.base for s in started)
        head = httpx.get(f"{a}/v1/streams/{P}", timeout=5).json()
        r = httpx.post(f"{a}/v1/entries", headers=JSON, content=_claim(P, head["head"]), timeout=10)
        assert r.status_code == 201, r.text
        receipt = r.json()
        size = receipt["treeSize"]

        # Nobody writes through b or the replica: they must find the entry themselves.
        for base in (b, replica):
            assert _until(lambda base=base: _size(base) >= size), base
            stream = httpx.get(f"{base}/v1/streams/{P}", timeout=5).json()
            assert stream["head"] == receipt["entryHash"]
            page = httpx.get(f"{base}/providers/{P}", timeout=5)
            assert page.status_code == 200
            assert f'id="entry-{receipt["index"]}"' in page.text

        # And the other way round: appended through b, served by a and the replica.
        r = httpx.post(
            f"{b}/v1/entries", headers=JSON, content=_claim(P, receipt["entryHash"]), timeout=10
        )
        assert r.status_code == 201, r.text
        second = r.json()
        for base in (a, replica):
            assert _until(lambda base=base: _size(base) >= second["treeSize"]), base
            head = httpx.get(f"{base}/v1/streams/{P}", timeout=5).json()
            assert head == {"stream": P, "head": second["entryHash"], "length": 2}


class _Writer(threading.Thread):
    """Appends claims on one stream, alternating between servers, rebasing on the true head."""

    def __init__(self, stream: str, bases: list[str], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.stream, self.bases, self.stop = stream, bases, stop
        self.acked: list[dict[str, object]] = []
        self.failures = 0

    def _head(self) -> str:
        for base in self.bases:
            try:
                head: str = httpx.get(f"{base}/v1/streams/{self.stream}", timeout=5).json()["head"]
                return head
            except httpx.HTTPError:
                continue
        raise RuntimeError("no server answers")

    def run(self) -> None:
        prev = self._head()
        n = 0
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                base = self.bases[n % len(self.bases)]
                n += 1
                try:
                    r = client.post(
                        f"{base}/v1/entries", headers=JSON, content=_claim(self.stream, prev)
                    )
                except httpx.HTTPError:
                    self.failures += 1  # a killed server: the entry may or may not be stored
                    self.bases = [x for x in self.bases if x != base] or self.bases
                    time.sleep(0.2)
                    prev = self._head()
                    continue
                if r.status_code == 201:
                    self.acked.append(r.json())
                    prev = r.json()["entryHash"]
                else:  # 409: this server had not seen the newest head yet; rebase
                    self.failures += 1
                    time.sleep(0.05)
                    prev = self._head()


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_three_servers_one_killed_mid_append_lose_nothing(
    shared: tuple[str, Path], proc: Proc
) -> None:
    url, log_key = shared
    with servers(proc, url, log_key, log_key, None) as started:
        a, b, replica = (s.base for s in started)
        victim = started[1].process
        stop = threading.Event()
        writers = [_Writer(P, [a, b], stop), _Writer(Q, [b, a], stop)]
        sizes: dict[str, list[int]] = {a: [], b: [], replica: []}

        def read() -> None:
            while not stop.is_set():
                for base in list(sizes):
                    with suppress(httpx.HTTPError):
                        sizes[base].append(_size(base))
                time.sleep(0.02)

        reader = threading.Thread(target=read, daemon=True)
        for t in (*writers, reader):
            t.start()
        assert _until(lambda: sum(len(w.acked) for w in writers) >= 20)
        victim.send_signal(signal.SIGKILL)  # mid-append: both writers send to it in turn
        victim.wait(timeout=10)
        assert _until(lambda: sum(len(w.acked) for w in writers) >= 40)
        stop.set()
        for t in (*writers, reader):
            t.join(timeout=30)

        # Every server that answered never went backwards.
        for base, seen in sizes.items():
            assert seen == sorted(seen), base
        # The survivors and a restarted b all serve one checkpoint, byte for byte.
        with servers(proc, url, log_key) as restarted:
            b2 = restarted[0].base
            final = _size(a)
            assert _until(lambda: _size(replica) == final and _size(b2) == final)
            notes = {httpx.get(f"{x}/v1/log/checkpoint", timeout=5).text for x in (a, b2, replica)}
            assert len(notes) == 1

    acked = [r for w in writers for r in w.acked]
    assert len(acked) >= 40
    with Ledger.open(url) as led:
        cp = verify_checkpoint(notes.pop().encode(), led.note_verifier)
        assert cp.size == led.size
        for r in acked:  # every acknowledged entry is where its receipt said
            stored = led.log_entries(int(r["index"]), int(r["index"]) + 1)[0]  # type: ignore[call-overload]
            assert stored.stream == r["stream"]
            assert stored.position == r["position"]
    # Without the log key: against the newest checkpoint the log published (nothing signed here).
    out = proc("verify", "--db", url)
    assert out.stdout.startswith("Verified"), out.stdout
    assert f"{cp.size} entries" in out.stdout or str(cp.size) in out.stdout
