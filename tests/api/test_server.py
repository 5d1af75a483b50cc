"""The API served by a real uvicorn process (``uvicorn api:app_from_env --factory``), as
``claimledger serve`` runs it: configured by environment variables, reached over TCP.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from attest.checkpoint import NoteVerifier, verify_checkpoint
from attest.entry import LogEntry
from attest.merkle import verify_inclusion
from attest.verify import LogVerifier
from tests.api.conftest import LOG_KEY, Api, P, Response, Story, init_ledger
from tests.api.test_story import leaf
from tests.attest.logbuilder import key
from tests.conftest import REPO, wait_ready

PASSPHRASE = "correct horse battery staple"  # noqa: S105 - a test key's passphrase

Serve = Callable[..., str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api:app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "info",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return proc, f"http://127.0.0.1:{port}"


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.terminate()
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """``serve(db_url, *, writable=True)`` starts a server on a free port and returns its URL."""
    running: list[subprocess.Popen[bytes]] = []
    keyfile = tmp_path / "log.key"
    key(LOG_KEY).save(keyfile, PASSPHRASE.encode())

    def _serve(url: str, *, writable: bool = True) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMLEDGER_")}
        env.update(CLAIMLEDGER_DB=url, PYTHONPATH=str(REPO))
        if writable:
            env.update(CLAIMLEDGER_LOG_KEY=str(keyfile), CLAIMLEDGER_PASSPHRASE=PASSPHRASE)
        log = tmp_path / f"server-{len(running)}.log"
        proc, base = _start(env, log)
        running.append(proc)
        wait_ready(proc, base, "/healthz", log)
        return base

    yield _serve
    for i, proc in enumerate(running):
        if proc.poll() is None:
            # uvicorn shuts down gracefully on SIGTERM (the lifespan closes the ledger), then
            # re-raises the signal.
            assert _stop(proc) in (0, -signal.SIGTERM)
            assert "Application shutdown complete" in (tmp_path / f"server-{i}.log").read_text()


def test_story_over_http_and_client_side_verification(store_url: str, serve: Serve) -> None:
    init_ledger(store_url).close()
    base = serve(store_url)
    with httpx.Client(base_url=base, timeout=30) as http:
        api = Api(http)
        Story(api).run()
        note = http.get("/v1/log/checkpoint").content
        vkey = http.get("/v1/log/key").text.strip()
        cp = verify_checkpoint(note, NoteVerifier.from_vkey(vkey))
        assert cp.size == 9
        lines = http.get("/v1/log/entries", params={"start": 0, "end": cp.size}).text.splitlines()
        verifier = LogVerifier()
        for line in lines:
            e = orjson.loads(line)
            verifier.feed(
                LogEntry(
                    e["index"], e["stream"], e["position"], e["logTimeMs"], e["envelope"].encode()
                )
            )
        verifier.finish(note)
        for line in http.get(f"/v1/streams/{P}/entries").text.splitlines():
            e = orjson.loads(line)
            proof = http.get(
                "/v1/log/proof/inclusion", params={"index": e["index"], "size": cp.size}
            ).json()
            hashes = [base64.b64decode(h) for h in proof["hashes"]]
            verify_inclusion(leaf(e), e["index"], cp.size, hashes, cp.root)

        # Mistakes over the wire: specific problems, nothing written.
        r: Response = http.post(
            "/v1/entries", content=b"x" * (300 * 1024), headers={"content-type": "application/json"}
        )
        assert (r.status_code, r.json()["type"]) == (
            413,
            "https://claimledger.dev/problems/too-large",
        )
        r = api.post(b'{"payload": ')
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/invalid-envelope")
        r = http.get("/v1/no/such/thing")
        assert (r.status_code, r.headers["content-type"]) == (404, "application/problem+json")
        assert api.size() == 9


def test_read_only_server(tmp_path: Path, serve: Serve) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    init_ledger(url).close()
    base = serve(url, writable=False)
    r = httpx.post(
        base + "/v1/entries", content=b"{}", headers={"content-type": "application/json"}
    )
    assert r.status_code == 503
    assert r.json()["type"].endswith("/read-only")
    assert httpx.get(base + "/v1/log/entries").status_code == 200
    # Without the log key it serves the checkpoint the writer published, kept in the database.
    from ledger import Ledger

    with Ledger.open(url) as led:
        kept = led.checkpoint()
    assert httpx.get(base + "/v1/log/checkpoint").content == kept


def test_server_refuses_to_start_without_a_database(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMLEDGER_")}
    env["PYTHONPATH"] = str(REPO)
    log = tmp_path / "server.log"
    proc, _ = _start(env, log)
    assert proc.wait(timeout=30) != 0
    assert "CLAIMLEDGER_DB is not set" in log.read_text()
