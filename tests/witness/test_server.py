"""The witness as a real server process on loopback: `claimledger witness init|serve|log-entry`.

Each test starts ``python -m cli witness serve`` on a free 127.0.0.1 port and stops it. The
protocol is driven over HTTP with httpx; SIGKILL is sent to the real process.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from attest.cosignature import CosignerKey, verify_subtree_cosignature
from attest.errors import CheckpointError
from attest.loglist import parse_logs_v0
from attest.merkle import subtree_hash as mth
from attest.policy import QuorumError, SplitViewError, check_consistent, parse_policy, verify_policy
from attest.subtree import subtree_consistency_proof
from attest.tlogwitness import sign_subtree_body
from tests.conftest import REPO
from tests.witness.helpers import ORIGIN, SimLog, logs_file, origin_hash
from witness import load_witness


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMLEDGER_")}
    # The package is importable from the source tree whatever the editable install maps.
    env["PYTHONPATH"] = str(REPO)
    env["CLAIMLEDGER_CONFIG_DIR"] = str(tmp_path / "config")
    return env


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    path = tmp_path / "cwd"  # not tmp_path: its folders must not shadow the packages
    path.mkdir()
    return path


def _cli(env: dict[str, str], cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Server:
    """A running ``claimledger witness serve``; :meth:`kill` sends SIGKILL."""

    def __init__(self, proc: subprocess.Popen[str], base: str) -> None:
        self.proc = proc
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=30)

    def add(self, body: bytes) -> httpx.Response:
        return self.http.post("/add-checkpoint", content=body)

    def latest(self, origin: str = ORIGIN) -> httpx.Response:
        return self.http.get(f"/{origin_hash(origin)}/checkpoint")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.http.close()


@contextmanager
def serving(env: dict[str, str], cwd: Path, wdir: Path, logs: Path) -> Iterator[Server]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "witness",
            "serve",
            "--dir",
            str(wdir),
            "--logs",
            str(logs),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    server = Server(proc, base)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # Any answer means it listens (404 until it has cosigned something).
                httpx.get(f"{base}/{origin_hash('x')}/checkpoint", timeout=1)
                break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"witness did not start: {proc.stderr.read() if proc.stderr else ''}")
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        server.http.close()
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.fixture
def wdir(env: dict[str, str], cwd: Path, tmp_path: Path) -> Path:
    path = tmp_path / "witness"
    out = _cli(env, cwd, "witness", "init", "--dir", path, "--name", "witness.example/w1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ml-dsa-44 vkey: ")
    assert lines[1].startswith("ed25519 vkey:   ")
    printed = [CosignerKey.from_vkey(line.split()[-1]) for line in lines]
    loaded = load_witness(path)
    assert printed == [loaded.mldsa44.verifier, loaded.ed25519.verifier]
    return path


def _policy(wdir: Path, log: SimLog) -> bytes:
    keys = load_witness(wdir)
    return (
        f"log {log.vkey()}\n"
        f"witness ml {keys.mldsa44.verifier.vkey()}\n"
        f"witness ed {keys.ed25519.verifier.vkey()}\n"
        "group w1 all ml ed\n"
        "quorum w1\n"
    ).encode()


def test_init_refuses_an_existing_directory_and_a_bad_name(
    env: dict[str, str], cwd: Path, wdir: Path, tmp_path: Path
) -> None:
    again = _cli(env, cwd, "witness", "init", "--dir", wdir, "--name", "witness.example/w1")
    assert again.returncode == 2
    assert "refusing to overwrite" in again.stderr
    bad = _cli(env, cwd, "witness", "init", "--dir", tmp_path / "b", "--name", "a b")
    assert bad.returncode == 2
    assert "refused" in bad.stderr


def test_log_entry_prints_a_list_entry(env: dict[str, str], cwd: Path) -> None:
    log = SimLog()
    out = _cli(env, cwd, "witness", "log-entry", "--vkey", log.vkey(), "--contact", "ops@x")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"vkey {log.vkey()}\nqpd 86400\ncontact ops@x\n"
    assert parse_logs_v0(("logs/v0\n" + out.stdout).encode())[0].origin == ORIGIN
    bad = _cli(
        env, cwd, "witness", "log-entry", "--vkey", log.vkey(), "--qpd", "0", "--contact", "x"
    )
    assert bad.returncode == 2
    assert "qpd" in bad.stderr


def test_serve_protocol_over_http(
    env: dict[str, str], cwd: Path, wdir: Path, tmp_path: Path
) -> None:
    log = SimLog().grow(3)
    logs = tmp_path / "logs.txt"
    logs.write_bytes(logs_file(log))
    policy = parse_policy(_policy(wdir, log))
    with serving(env, cwd, wdir, logs) as w:
        assert w.latest().status_code == 404
        # A consistent sequence, each cosigned and each reaching the policy's quorum.
        old = 0
        for grow in (0, 1, 5, 0, 17):
            log.grow(grow)
            r = w.add(log.request(old))
            assert r.status_code == 200, r.text
            verified = verify_policy(log.note() + r.content, policy)
            assert verified.checkpoint == log.checkpoint()
            old = log.tree.size
        latest = w.latest()
        assert latest.status_code == 200
        assert verify_policy(latest.content, policy).checkpoint == log.checkpoint()
        # Stale old size: 409 with the latest size as text/x.tlog.size.
        r = w.add(log.request(3))
        assert (r.status_code, r.text, r.headers["content-type"]) == (
            409,
            f"{old}\n",
            "text/x.tlog.size",
        )
        # Unknown log: 404; a checkpoint with a bad log signature: 403.
        assert w.add(SimLog("other.example/log").grow(1).request(0)).status_code == 404
        bad = bytearray(log.note())
        bad[-3] = ord("A") if bad[-3] != ord("A") else ord("B")
        assert w.add(log.request(old, note=bytes(bad))).status_code == 403
        # A fork: the same size with another root, then a checkpoint not consistent with it.
        fork = log.fork(b"B")
        log.grow(2)
        fork.grow(2)
        assert w.add(log.request(old)).status_code == 200
        assert w.add(fork.request(old + 2, old + 2)).status_code == 422
        fork.grow(4)
        assert w.add(fork.request(old + 2)).status_code == 422
        assert verify_policy(w.latest().content, policy).checkpoint == log.checkpoint()
        # sign-subtree: a subtree of the latest cosigned checkpoint, timestamp 0.
        size = log.tree.size
        node = mth(4, 8, log.tree.get_node)
        proof = subtree_consistency_proof(4, 8, size, log.tree.get_node)
        r = w.http.post(
            "/sign-subtree", content=sign_subtree_body(4, 8, node, proof, w.latest().content)
        )
        assert r.status_code == 200, r.text
        ml = load_witness(wdir).mldsa44.verifier
        assert verify_subtree_cosignature(r.content, ml, ORIGIN, 4, 8, node) == 0
        r = w.http.post("/sign-subtree", content=sign_subtree_body(4, 8, node, proof, log.note()))
        assert r.status_code == 403


def test_sigkill_mid_run_loses_nothing(
    env: dict[str, str], cwd: Path, wdir: Path, tmp_path: Path
) -> None:
    log = SimLog()
    logs = tmp_path / "logs.txt"
    logs.write_bytes(logs_file(log))
    acked: list[int] = []
    sent: list[int] = []
    policy = parse_policy(_policy(wdir, log))
    with serving(env, cwd, wdir, logs) as w:
        stop = threading.Event()

        def run() -> None:
            old = 0
            while not stop.is_set():
                log.grow(1)
                sent.append(log.tree.size)
                try:
                    r = w.add(log.request(old))
                except httpx.HTTPError:
                    return
                if r.status_code != 200:
                    return
                acked.append(log.tree.size)
                old = log.tree.size

        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 15 and time.monotonic() < deadline:
            time.sleep(0.01)
        w.kill()  # while requests are in flight
        stop.set()
        t.join(timeout=30)
    assert len(acked) >= 15
    with serving(env, cwd, wdir, logs) as w:
        latest = w.latest()
        assert latest.status_code == 200
        got = verify_policy(latest.content, policy).checkpoint
        # Everything acknowledged is there; at most the one request in flight went further
        # (committed, then killed before it could answer).
        assert got.size in (acked[-1], *(s for s in sent if s > acked[-1]))
        assert got == log.checkpoint(got.size)
        r = w.add(log.request(0))
        assert (r.status_code, r.text) == (409, f"{got.size}\n")
        log.grow(3)
        assert w.add(log.request(got.size)).status_code == 200


def test_split_view_is_caught(env: dict[str, str], cwd: Path, wdir: Path, tmp_path: Path) -> None:
    """Two forks of one log under one key: the witness cosigns A, refuses B; a client that
    holds A's cosigned checkpoint rejects B naming both checkpoints."""
    prefix = SimLog().grow(5)
    fork_a = prefix.fork(b"A").grow(4)
    fork_b = prefix.fork(b"B").grow(4)
    assert fork_a.checkpoint().size == fork_b.checkpoint().size
    assert fork_a.checkpoint().root != fork_b.checkpoint().root
    logs = tmp_path / "logs.txt"
    logs.write_bytes(logs_file(prefix))
    policy = parse_policy(_policy(wdir, prefix))
    with serving(env, cwd, wdir, logs) as w:
        assert w.add(prefix.request(0)).status_code == 200
        r = w.add(fork_a.request(5))
        assert r.status_code == 200
        held_note = fork_a.note() + r.content
        r_b = w.add(fork_b.request(5))
        assert r_b.status_code == 409  # the witness is already at 9 (fork A)
        assert r_b.text == "9\n"
        r_b = w.add(fork_b.request(9))
        assert r_b.status_code == 422  # same size, different root
    # Client 1 verified fork A under the policy and keeps it.
    held = verify_policy(held_note, policy).checkpoint
    # Fork B alone cannot reach quorum: no witness cosigned it.
    with pytest.raises(QuorumError, match="below quorum w1"):
        verify_policy(fork_b.note(), policy)
    # Shown fork B (same size, or grown, with B's own proofs), the client names both.
    other = fork_b.checkpoint()
    with pytest.raises(SplitViewError) as info:
        check_consistent(held, other, [])
    message = str(info.value)
    assert f"size 9 root {_b64(held.root)}" in message
    assert f"size 9 root {_b64(other.root)}" in message
    fork_b.grow(3)
    with pytest.raises(SplitViewError, match="shows two histories"):
        check_consistent(held, fork_b.checkpoint(), fork_b.tree.consistency_proof(9, 12))
    # And a client of fork B that sees fork A's cosigned checkpoint catches it the same way.
    with pytest.raises(SplitViewError):
        check_consistent(fork_b.checkpoint(9), held, [])
    with pytest.raises(CheckpointError):
        check_consistent(held, SimLog("x.example/log").grow(9).checkpoint(), [])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_serve_refuses_bad_configuration(
    env: dict[str, str], cwd: Path, wdir: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "logs.txt"
    logs.write_bytes(b"logs/v1\n")
    out = _cli(env, cwd, "witness", "serve", "--dir", wdir, "--logs", logs, "--listen", "x")
    assert out.returncode == 2
    assert "HOST:PORT" in out.stderr
    out = _cli(
        env, cwd, "witness", "serve", "--dir", wdir, "--logs", logs, "--listen", "127.0.0.1:1"
    )
    assert out.returncode == 2
    assert "logs/v0" in out.stderr
    logs.write_bytes(logs_file(SimLog()))
    out = _cli(
        env,
        cwd,
        "witness",
        "serve",
        "--dir",
        tmp_path / "nowhere",
        "--logs",
        logs,
        "--listen",
        "127.0.0.1:1",
    )
    assert out.returncode == 2
    assert "cannot read the witness directory" in out.stderr
