"""``claimledger monitor``: follows a log, verifies what it adds, prints what changes."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.cli.conftest import (
    PROVIDER,
    VERIFIER,
    Proc,
    World,
    claim_body,
    copy_sqlite,
    free_port,
    one_line_error,
    serving,
)
from tests.cli.test_witnessing import (
    _cosigned,
    _log_vkey,
    _logs_file,
    _policy_text,
    _witness_dir,
    _write_policy,
    ledger_server,
    witness,
)


def _ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_monitor_once_then_only_what_is_new(world: World) -> None:
    w = world
    out = w.cli("monitor", *w.db(), "--once", "--ndjson").output
    rows = _ndjson(out)
    assert [r["index"] for r in rows] == list(range(w.size()))
    assert rows[0]["kind"] == "genesis"
    digest = w.publish()
    out = w.cli("monitor", PROVIDER, *w.db(), "--once", "--ndjson").output
    (row,) = _ndjson(out)
    assert row["kind"] == "claim.publish"
    assert row["stream"] == PROVIDER
    assert row["digest"] == digest
    out = w.cli("monitor", VERIFIER, *w.db(), "--once", "--ndjson").output
    assert _ndjson(out) == []  # nothing new about the verifier


def test_monitor_prints_registry_entries_about_a_watched_party(world: World) -> None:
    w = world
    out = w.cli("monitor", VERIFIER, *w.db(), "--once", "--ndjson").output
    kinds = [r["kind"] for r in _ndjson(out)]
    assert kinds == ["party.register", "accreditation.grant"]


def test_monitor_catches_a_rollback(sqlite_world: World, tmp_path: Path) -> None:
    w = sqlite_world
    snapshot = tmp_path / "old.db"
    copy_sqlite(w.url, snapshot)
    w.publish()
    w.cli("monitor", *w.db(), "--once")
    copy_sqlite(f"sqlite:///{snapshot}", Path(w.url.removeprefix("sqlite:///")))
    r = w.cli("monitor", *w.db(), "--once", code=1)
    assert "verification FAILED" in one_line_error(r.stderr)


def test_monitor_catches_a_false_state_root(
    sqlite_world: World, proc: Proc, tmp_path: Path
) -> None:
    """A server whose leaves commit to a state that is not the log's: the monitor replays the
    state itself and refuses the entry."""
    w = sqlite_world
    w.publish()
    with serving(proc, w.url, w.key("log")) as server:
        entries = httpx.get(f"{server}/v1/log/entries?start=0&end=99").text
        assert '"stateRoot"' in entries
        with _entries_liar(server) as liar:
            bad = proc("monitor", "--server", liar, "--once", code=1)
            assert "state root" in bad.stderr
            assert "index 3" in bad.stderr


def _entries_liar(upstream: str) -> Any:
    """A proxy that changes the state root of entry 3 in every page of raw entries."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            r = httpx.get(upstream + self.path, timeout=30)
            body = r.content
            if self.path.startswith("/v1/log/entries"):
                lines = []
                for line in body.decode().splitlines():
                    e = json.loads(line)
                    if e["index"] == 3:
                        e["stateRoot"] = "ab" * 32
                    lines.append(json.dumps(e))
                body = ("\n".join(lines) + "\n").encode()
            self.send_response(r.status_code)
            self.send_header("content-type", r.headers.get("content-type", "text/plain"))
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    @contextlib.contextmanager
    def run() -> Any:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()

    return run()


def test_monitor_follows_new_entries_as_they_come(
    sqlite_world: World, proc: Proc, tmp_path: Path
) -> None:
    w = sqlite_world
    with serving(proc, w.url, w.key("log")) as server:
        follower = subprocess.Popen(
            [
                *(sys.executable, "-m", "cli", "monitor", PROVIDER, "--server", server),
                *("--ndjson", "--interval", "0.2", "--polls", "40"),
            ],
            cwd=proc.cwd,
            env=proc.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(2)  # its first polls: the log as it is (nothing of acme-social's yet)
        body = tmp_path / "claim.json"
        body.write_text(json.dumps(claim_body()))
        proc("claim", "publish", "--server", server, *w.as_party(PROVIDER), "--body", body)
        out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    kinds = [r["kind"] for r in _ndjson(out)]
    assert kinds == ["party.register", "claim.publish"]


def test_monitor_with_a_policy_follows_cosigned_checkpoints_and_refuses_below_quorum(
    sqlite_world: World, proc: Proc, tmp_path: Path
) -> None:
    w = sqlite_world
    vkey = _log_vkey(w.url)
    wdir = _witness_dir(proc, tmp_path, "w1")
    logs = _logs_file(proc, tmp_path, vkey)
    with witness(proc, wdir, logs) as wurl:
        witnesses = _policy_text(vkey, wdir, wurl)
        policy = _write_policy(tmp_path / "p.txt", vkey, witnesses, "group w all ml ed\nquorum w\n")
        with ledger_server(proc, w, policy) as server:
            _cosigned(server, w.size())
            ok = proc("monitor", "--server", server, "--policy", policy, "--once")
            assert "cosigned by ml, ed" in ok.stderr
            assert "genesis" in ok.stdout
            w2 = _witness_dir(proc, tmp_path, "w2")
            strict = _write_policy(
                tmp_path / "strict.txt",
                vkey,
                witnesses + _policy_text(vkey, w2, None, "two-"),
                "group both all ml two-ml\nquorum both\n",
            )
            bad = proc("monitor", "--server", server, "--policy", strict, "--once", code=1)
            assert "below quorum both" in one_line_error(bad.stderr)


def test_monitor_exits_2_on_usage_io_and_network_errors(proc: Proc, tmp_path: Path) -> None:
    """Exit 2 (not 1, which means the log failed verification) with one readable line: a server
    that cannot be reached, a policy file that is not a tlog-policy, a missing policy file."""
    dead = f"http://127.0.0.1:{free_port()}"
    line = one_line_error(proc("monitor", "--server", dead, "--once", code=2).stderr)
    assert f"cannot reach the server ({dead}/v1/log/key)" in line
    policy = tmp_path / "bad.policy"
    policy.write_text("quorum bogus\n")
    line = one_line_error(
        proc("monitor", "--server", dead, "--policy", policy, "--once", code=2).stderr
    )
    assert "policy line 1: quorum 'bogus' is not a witness or group defined above" in line
    missing = tmp_path / "missing.policy"
    assert "Error" in proc("monitor", "--server", dead, "--policy", missing, code=2).stderr
