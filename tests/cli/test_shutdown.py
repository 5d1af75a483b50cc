"""A real ``claimledger serve`` process stopped with SIGTERM under load, and one that cannot open
its ledger (docs/operating/monitoring.md).

SIGTERM: the server stops accepting, answers the submissions in flight, writes what the sequencer
had queued and exits 0. Every entry a client got a 2xx receipt for is in the ledger afterwards
(at its receipt's index, with its entry hash), nothing else is there but at most the one
submission per client that was in flight without an answer, and ``claimledger verify --db``
passes. The server logs in the JSON format meanwhile: every line one object.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from attest.dsse import Envelope
from attest.entry import entry_hash
from bench._workload import init_ledger, register_parties, signed_entries
from ledger import Ledger
from tests.attest.logbuilder import LOG_KEY, key
from tests.cli.conftest import Cli, free_port
from tests.conftest import wait_ready

CLIENTS = 4


def _stream(envelope: bytes) -> str:
    stream: str = json.loads(Envelope.parse_stored(envelope).payload)["stream"]
    return stream


def _serve(url: str, tmp_path: Path, log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    keyfile = tmp_path / "log.key"
    if not keyfile.exists():
        key(LOG_KEY).save(keyfile, None, unsafe_unencrypted=True)
    port = free_port()
    port_args = ["--port", str(port), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMLEDGER_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env["CLAIMLEDGER_CONFIG_DIR"] = str(tmp_path / "config")
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "serve",
                "--db",
                url,
                "--log-key",
                str(keyfile),
                *port_args,
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return server, f"http://127.0.0.1:{port}"


class _Client(threading.Thread):
    """Posts its stream's chain in order until the server stops answering."""

    def __init__(self, base: str, chain: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.chain = chain
        self.acked: list[dict[str, Any]] = []
        self.unanswered: bytes | None = None  # sent, but no answer came
        self.refused: list[int] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as http:
            for envelope in self.chain:
                try:
                    r = http.post(
                        "/v1/entries",
                        content=envelope,
                        headers={"content-type": "application/json"},
                    )
                except httpx.ConnectError:
                    return  # not accepting any more: nothing was sent
                except httpx.TransportError:
                    self.unanswered = envelope
                    return
                if r.status_code // 100 != 2:
                    self.refused.append(r.status_code)
                    return
                self.acked.append(r.json())


def test_sigterm_under_load_loses_no_acknowledged_entry(store_url: str, tmp_path: Path) -> None:
    with init_ledger(store_url) as ledger:
        register_parties(ledger, CLIENTS)
        base_size = ledger.size
    chains: dict[str, list[bytes]] = defaultdict(list)
    for envelope in signed_entries(CLIENTS * 150, CLIENTS):
        chains[_stream(envelope)].append(envelope)
    log = tmp_path / "server.log"
    server, base = _serve(store_url, tmp_path, log, "--log-format", "json")
    try:
        wait_ready(server, base, "/readyz", log)
        clients = [_Client(base, chain) for chain in chains.values()]
        for c in clients:
            c.start()
        deadline = time.monotonic() + 10
        while sum(len(c.acked) for c in clients) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    for c in clients:
        c.join(timeout=30)
    text = log.read_text()
    assert code == 0, text
    assert not any(c.refused for c in clients), [c.refused for c in clients]
    acked = [r for c in clients for r in c.acked]
    assert len(acked) >= 40
    assert all(len(c.acked) < len(c.chain) for c in clients), "the load ended before SIGTERM"

    # Every line of the log is one JSON object; requests carry method, path, status, duration.
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    posts = [r for r in records if r["logger"] == "claimledger.access" and r["method"] == "POST"]
    assert len(posts) >= len(acked)
    assert all(r["path"] == "/v1/entries" and r["duration"] > 0 for r in posts)
    assert any(r["message"] == "Shutting down" for r in records)

    # After the restart: every acknowledged entry is there, as acknowledged; nothing half-written.
    with Ledger.open(store_url) as ledger:  # verifies every stored entry again
        for receipt in acked:
            (entry,) = ledger.log_entries(receipt["index"], receipt["index"] + 1)
            assert entry_hash(Envelope.parse_stored(entry.envelope)).hex() == receipt["entryHash"]
        extra = ledger.size - base_size - len(acked)
        in_doubt = sum(1 for c in clients if c.unanswered is not None)
        assert 0 <= extra <= in_doubt
        assert ledger.store.size() == ledger.size
    out = Cli()("verify", "--db", store_url, "--log-key", tmp_path / "log.key").stdout
    assert f"Verified {base_size + len(acked) + extra} entries" in out


def test_a_ledger_that_cannot_be_opened_stops_the_server(tmp_path: Path) -> None:
    """The open runs in the background; when it fails the process exits 3, saying why, at once."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with init_ledger(url) as ledger:
        register_parties(ledger, 1)
    import sqlite3

    with sqlite3.connect(tmp_path / "ledger.db") as db:
        db.execute(
            "UPDATE claimledger_events SET state = CAST(replace(CAST(state AS TEXT), "
            "'statement.v1+json', 'statement.v9+json') AS BLOB) "
            "WHERE topic = ?",
            ("claimledger.v1:EntryAppended",),
        )
    log = tmp_path / "server.log"
    server, _ = _serve(url, tmp_path, log)
    try:
        code = server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    text = log.read_text()
    assert code == 3, text
    assert "cannot serve the ledger: stored entry fails verification" in text
    assert "Traceback" not in text
