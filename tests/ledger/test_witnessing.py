"""``ledger.Witnessing`` round by round, against a real witness process, on SQLite and PostgreSQL.

Rounds are run by hand (no thread) with a fake monotonic clock, so each status the witness
answers and each backoff can be checked exactly. The end-to-end run with the server's thread is
in ``tests/cli/test_witnessing.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from attest.checkpoint import note_signature_line, parse_note
from attest.cosignature import MLDSA44_SIGNATURE_SIZE, cosign
from attest.loglist import logs_v0_entry
from attest.policy import Policy, parse_policy, verify_policy
from ledger import Ledger, Witnessing, WitnessingError, backup_sqlite
from tests.attest.logbuilder import key
from tests.conftest import REPO, loopback_http
from tests.ledger.actors import LOG_KEY, claim, init_ledger, register_story
from witness import WitnessKeys, init_witness


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    led = init_ledger(store_url)
    register_story(led)
    try:
        yield led
    finally:
        led.close()


@pytest.fixture
def keys(tmp_path: Path) -> WitnessKeys:
    return init_witness(tmp_path / "w1", "witness.example/w1")


@pytest.fixture
def witness_url(ledger: Ledger, keys: WitnessKeys, tmp_path: Path) -> Iterator[str]:
    logs = tmp_path / "logs.txt"
    logs.write_text("logs/v0\n" + logs_v0_entry(ledger.note_verifier.vkey(), None, 86400, "x"))
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMLEDGER_")}
    env["PYTHONPATH"] = str(REPO)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    command = [sys.executable, "-m", "cli", "witness", "serve", "--dir", str(tmp_path / "w1")]
    proc = subprocess.Popen(
        [*command, "--logs", str(logs), "--listen", f"127.0.0.1:{port}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/{'0' * 64}", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, "the witness exited"
                assert time.monotonic() < deadline, "the witness did not start"
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _policy(ledger: Ledger, keys: WitnessKeys, url: str) -> Policy:
    return parse_policy(
        (
            f"log {ledger.note_verifier.vkey()}\n"
            f"witness ml {keys.mldsa44.verifier.vkey()} {url}\n"
            f"witness ed {keys.ed25519.verifier.vkey()} {url}\n"
            "group w1 all ml ed\nquorum w1\n"
        ).encode()
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rounds_statuses_and_recovery(ledger: Ledger, keys: WitnessKeys, witness_url: str) -> None:
    policy = _policy(ledger, keys, witness_url)
    w = Witnessing(ledger, policy, monotonic=Clock())
    try:
        assert w.round() is True
        (endpoint,) = w.endpoints
        assert endpoint.statuses == [200]
        note = ledger.cosigned_checkpoint()
        assert note is not None
        assert verify_policy(note, policy).checkpoint.size == ledger.size
        assert w.round() is False  # nothing new
        ledger.submit(claim(ledger))
        assert w.round() is True
        assert endpoint.statuses == [200, 200]
    finally:
        w.close()
    # A restart: the kept note says where the witness is, so no 409 is needed.
    ledger.submit(claim(ledger))
    again = Witnessing(ledger, policy, monotonic=Clock())
    try:
        assert again.cosigned_size == ledger.size - 1
        assert again.endpoints[0].size == ledger.size - 1
        assert again.round() is True
        assert again.endpoints[0].statuses == [200]
    finally:
        again.close()


def test_only_the_newest_rounds_delays_are_kept(
    ledger: Ledger, keys: WitnessKeys, witness_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ledger._witnessing.DELAYS_KEPT", 2)
    w = Witnessing(ledger, _policy(ledger, keys, witness_url), monotonic=Clock())
    try:
        for _ in range(3):
            ledger.submit(claim(ledger))
            assert w.round() is True
        assert len(w.delays) == 2  # three rounds cosigned, the newest two kept
    finally:
        w.close()


def test_a_log_that_lost_track_learns_the_size_from_a_409(
    ledger: Ledger, keys: WitnessKeys, witness_url: str
) -> None:
    policy = _policy(ledger, keys, witness_url)
    first = Witnessing(ledger, policy)
    assert first.round() is True
    first.close()
    ledger.submit(claim(ledger))
    # Another object that never saw the kept note (as after losing that table): old size 0.
    w = Witnessing(ledger, policy)
    w.endpoints[0].size = 0
    try:
        assert w.round() is True
        assert w.endpoints[0].statuses == [409, 200]
    finally:
        w.close()


def test_wrong_keys_at_a_witness_url_are_refused_and_backed_off(
    ledger: Ledger, witness_url: str, tmp_path: Path
) -> None:
    other = init_witness(tmp_path / "other", "witness.example/w1")
    clock = Clock()
    w = Witnessing(ledger, _policy(ledger, other, witness_url), monotonic=clock)
    try:
        assert w.round() is False
        (endpoint,) = w.endpoints
        assert endpoint.statuses == [200]
        assert "does not verify" in endpoint.last_error
        assert (endpoint.failures, endpoint.retry_at) == (1, clock.now + 1.0)
        assert ledger.cosigned_checkpoint() is None
        assert w.round() is False  # not due yet: not asked
        assert endpoint.statuses == [200]
        clock.now += 1.0
        assert w.round() is False
        assert (endpoint.failures, endpoint.retry_at) == (2, clock.now + 2.0)
    finally:
        w.close()


def test_an_unreachable_witness_backs_off_up_to_the_limit(
    ledger: Ledger, keys: WitnessKeys
) -> None:
    clock = Clock()
    url = f"http://127.0.0.1:{_port()}"
    w = Witnessing(ledger, _policy(ledger, keys, url), monotonic=clock, backoff_s=(1.0, 4.0))
    try:
        delays = []
        for _ in range(5):
            clock.now = max(clock.now, w.endpoints[0].retry_at)
            assert w.round() is False
            delays.append(w.endpoints[0].retry_at - clock.now)
        assert delays == [1.0, 2.0, 4.0, 4.0, 4.0]
        assert "ConnectError" in w.endpoints[0].last_error
        assert ledger.cosigned_checkpoint() is None
    finally:
        w.close()


def test_policies_it_cannot_use(ledger: Ledger, keys: WitnessKeys, store_url: str) -> None:
    no_log = parse_policy(
        f"witness ml {keys.mldsa44.verifier.vkey()} http://x\nquorum ml\n".encode()
    )
    with pytest.raises(WitnessingError, match="does not list this log's key"):
        Witnessing(ledger, no_log)
    with Ledger.open(store_url) as read_only, pytest.raises(WitnessingError, match="read-only"):
        Witnessing(read_only, _policy(ledger, keys, "http://x"))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_log_restored_from_an_older_backup_is_told_by_its_witness(
    ledger: Ledger,
    keys: WitnessKeys,
    witness_url: str,
    store_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    old = backup_sqlite(store_url, tmp_path / "old.db")  # 5 entries
    ledger.submit(claim(ledger))
    ledger.submit(claim(ledger))
    policy = _policy(ledger, keys, witness_url)
    w = Witnessing(ledger, policy)
    assert w.round() is True  # the witness cosigned 7 entries
    w.close()
    with Ledger.open(f"sqlite:///{old.path}", log_key=key(LOG_KEY)) as restored:
        assert restored.size == 5
        again = Witnessing(restored, policy)
        try:
            assert again.round() is False
            (endpoint,) = again.endpoints
            assert endpoint.statuses == [409]
            assert again.witnessed_beyond == 7
            assert "restored from an older backup" in endpoint.last_error
            assert endpoint.failures == 1  # backed off, asked again later, logged each time
        finally:
            again.close()
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "this log published 7 entries and holds 5" in errors[0].getMessage()


def test_lines_of_keys_the_log_does_not_trust_there_are_dropped(
    ledger: Ledger, keys: WitnessKeys, witness_url: str, tmp_path: Path
) -> None:
    """tlog-witness: a client ignores cosignatures from unknown keys. A witness (here a real one
    behind a proxy that adds to its answers) that also returns a valid line of a stranger and a
    forged line under another policy witness's name and key id must not keep the log from its
    quorum, and neither line is served."""
    other = init_witness(tmp_path / "w2", "witness.example/w2")
    stranger = init_witness(tmp_path / "w3", "witness.example/w3")
    forged = other.mldsa44.verifier
    added: list[bytes] = []

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = self.rfile.read(int(self.headers["content-length"]))
            r = httpx.post(witness_url + self.path, content=request, timeout=30)
            body = r.content
            if r.status_code == 200:
                note = request.split(b"\n\n", 1)[1]
                extra = cosign(note, stranger.ed25519, 1) + note_signature_line(
                    forged.name, forged.key_id, bytes(8 + MLDSA44_SIGNATURE_SIZE)
                )
                added.append(extra)
                body += extra
            self.send_response(r.status_code)
            self.send_header("content-type", r.headers["content-type"])
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with loopback_http(Proxy) as proxy:
        policy = parse_policy(
            (
                f"log {ledger.note_verifier.vkey()}\n"
                f"witness ml {keys.mldsa44.verifier.vkey()} {proxy}\n"
                f"witness ed {keys.ed25519.verifier.vkey()} {proxy}\n"
                f"witness w2 {forged.vkey()}\n"
                "group w1 all ml ed\nquorum w1\n"
            ).encode()
        )
        w = Witnessing(ledger, policy, monotonic=Clock())
        try:
            assert w.round() is True
        finally:
            w.close()
    assert len(added) == 1
    note = ledger.cosigned_checkpoint()
    assert note is not None
    _, lines = parse_note(note)
    assert {line.name for line in lines} == {ledger.note_verifier.name, "witness.example/w1"}
    assert len(lines) == 3  # the log's signature and the two lines of w1
    assert [name for name, _ in verify_policy(note, policy).cosigners] == ["ml", "ed"]
