"""Real processes: ``claimledger serve`` and the CLI against it, end to end.

Provider publishes, verifier tests and judges, the public verifies the company's record, the
regulator replays it as of a past date and verifies an exported bundle offline. Then the server
is restarted over an older copy of its database (a rollback) and ``verify`` catches it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.attest.examples import example_test_record_body
from tests.cli.conftest import PROVIDER, VERIFIER, World, claim_body, copy_sqlite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Proc:
    """Runs ``claimledger`` as a real process (``python -m cli``)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd

    def __call__(self, *args: str | Path, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "cli", *map(str, args)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == code, (
            f"claimledger {' '.join(map(str, args))}: exit {proc.returncode}\n"
            f"{proc.stdout}\n{proc.stderr}"
        )
        return proc

    def json(self, *args: str | Path) -> dict[str, object]:
        data: dict[str, object] = json.loads(self(*args, "--json").stdout)
        return data


@contextmanager
def serving(proc: Proc, url: str, log_key: Path) -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "serve",
            "--db",
            url,
            "--port",
            str(port),
            "--log-key",
            str(log_key),
        ],
        cwd=proc.cwd,
        env=proc.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/v1/log/checkpoint", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"server did not start: {server.stderr.read() if server.stderr else ''}"
                )
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def proc(tmp_path: Path) -> Proc:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMLEDGER_")}
    env["CLAIMLEDGER_CONFIG_DIR"] = str(tmp_path / "config")
    # Not tmp_path itself: with `python -m`, its keys/ folder would shadow the keys package.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return Proc(env, cwd)


def test_story_against_a_real_server(sqlite_world: World, proc: Proc, tmp_path: Path) -> None:
    w = sqlite_world
    snapshot = tmp_path / "snapshot.db"
    copy_sqlite(w.url, snapshot)
    body = tmp_path / "claim.json"
    body.write_text(json.dumps(claim_body()))
    with serving(proc, w.url, w.key("log")) as server:
        s = ["--server", server]
        # provider
        claim = str(
            proc.json("claim", "publish", *s, *w.as_party(PROVIDER), "--body", body)["digest"]
        )
        # verifier
        test_file = tmp_path / "test.json"
        test_file.write_text(json.dumps(example_test_record_body(claim)))
        test = str(
            proc.json(
                "test",
                "record",
                *s,
                *w.as_party(VERIFIER),
                "--provider",
                PROVIDER,
                "--body",
                test_file,
            )["digest"]
        )
        proc(
            "verdict",
            "issue",
            *s,
            *w.as_party(VERIFIER),
            "--provider",
            PROVIDER,
            "--claim",
            claim,
            "--test",
            test,
            "--result",
            "CONFIRMED",
            "--assurance",
            "limited",
            "--scope-surface",
            "public_posts",
            "--scope-jurisdiction",
            "GB",
            "--scope-match",
            "full",
            "--valid-until",
            "2099-01-01T00:00:00Z",
            "--conflicts-of-interest",
            "none declared",
        )
        # the public
        out = proc("verify", *s, "--genesis", w.fingerprint).stdout
        assert "Verified 7 entries" in out
        out = proc("verify", PROVIDER, *s).stdout
        assert "Verified the record of acme-social" in out
        # the regulator
        table = proc("replay", PROVIDER, *s).stdout
        assert "CONFIRMED" in table
        past = json.loads(
            proc("replay", PROVIDER, *s, "--as-of", "2020-01-01", "--format", "json").stdout
        )
        assert past["claims"] == []
        proc("export", PROVIDER, *s, "-o", tmp_path / "acme.bundle.json")
    # offline, with the server gone
    out = proc(
        "verify", "--bundle", tmp_path / "acme.bundle.json", "--genesis", w.fingerprint
    ).stdout
    assert "Verified the record of acme-social" in out

    # the operator rolls the log back and serves it again: caught
    copy_sqlite(f"sqlite:///{snapshot}", Path(w.url.removeprefix("sqlite:///")))
    with serving(proc, w.url, w.key("log")) as server:
        bad = proc("verify", "--server", server, code=1)
        assert "rollback" in bad.stderr
        assert "Traceback" not in bad.stderr
        bad = proc("verify", PROVIDER, "--server", server, code=1)
        assert "rollback" in bad.stderr
