"""CLI test fixtures: a ledger made with the CLI itself, on a SQLite file and on PostgreSQL.

Every test gets its own config directory (``CLAIMLEDGER_CONFIG_DIR``) and a clean environment, so
nothing reads or writes the real user's trust store.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from cli import main
from tests.ledger.conftest import pg_schema, store_url

__all__ = ["Cli", "Proc", "World", "free_port", "pg_schema", "running", "serving", "store_url"]

_ENV = (
    "CLAIMLEDGER_DB",
    "CLAIMLEDGER_SERVER",
    "CLAIMLEDGER_KEY",
    "CLAIMLEDGER_SIGNER",
    "CLAIMLEDGER_PASSPHRASE",
    "CLAIMLEDGER_LOG_KEY",
)

AUTHORITY = "test-authority"
PROVIDER = "acme-social"
VERIFIER = "safecheck-labs"


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config"
    monkeypatch.setenv("CLAIMLEDGER_CONFIG_DIR", str(config))
    return config


class Cli:
    """Runs ``claimledger`` in-process with :class:`CliRunner`."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str | Path, input: str | None = None, code: int | None = 0) -> Result:
        result = self.runner.invoke(main, [str(a) for a in args], input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        if code is not None:
            assert result.exit_code == code, (
                f"claimledger {' '.join(map(str, args))} exited {result.exit_code}, not {code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def json(self, *args: str | Path) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@dataclass
class World:
    """A ledger made by ``claimledger init`` with a registered provider and accredited verifier."""

    cli: Cli
    url: str
    keys: Path
    fingerprint: str

    def key(self, name: str) -> Path:
        return self.keys / f"{name}.key"

    def db(self) -> list[str]:
        return ["--db", self.url]

    def as_party(self, name: str) -> list[str]:
        return ["--key", str(self.key(name)), "--signer", name]

    def size(self) -> int:
        """The log's size, read straight from the database."""
        from ledger import Ledger

        with Ledger.open(self.url) as led:
            return led.size

    def publish(self, measure: str = "detect.hash_known_image", **extra: Any) -> str:
        body = claim_body(measure)
        body.update(extra)
        path = self.keys.parent / f"claim-{os.urandom(4).hex()}.json"
        path.write_text(json.dumps(body))
        out = self.cli.json(
            "claim", "publish", *self.db(), *self.as_party(PROVIDER), "--body", path
        )
        digest: str = out["digest"]
        return digest


def claim_body(measure: str = "detect.hash_known_image") -> dict[str, Any]:
    from tests.attest.examples import example_claim_body

    body = example_claim_body(measure)
    body["services"] = ["Acme Social"]
    return body


def make_world(cli: Cli, url: str, keys: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    keys.mkdir(parents=True, exist_ok=True)
    out = cli.json(
        "init",
        "--db",
        url,
        "--authority-id",
        AUTHORITY,
        "--authority-name",
        "Test Authority",
        "--origin",
        "test.claimledger.example/log",
        "--keys-dir",
        keys,
        "--unsafe-unencrypted",
    )
    monkeypatch.setenv("CLAIMLEDGER_LOG_KEY", str(keys / "log.key"))
    for party in (PROVIDER, VERIFIER):
        cli("keys", "generate", keys / f"{party}.key", "--unsafe-unencrypted")
    world = World(cli, url, keys, out["fingerprint"])
    auth: list[str | Path] = ["--db", url, "--key", keys / "authority.key", "--signer", AUTHORITY]
    cli(
        "party",
        "register",
        PROVIDER,
        *auth,
        "--role",
        "provider",
        "--name",
        "Acme Social, Inc.",
        "--jurisdiction",
        "US",
        "--website",
        "https://acme-social.example",
        "--public-key",
        keys / f"{PROVIDER}.key",
    )
    cli(
        "party",
        "register",
        VERIFIER,
        *auth,
        "--role",
        "verifier",
        "--name",
        "SafeCheck Labs",
        "--jurisdiction",
        "GB",
        "--public-key",
        keys / f"{VERIFIER}.key",
    )
    cli(
        "accredit",
        "grant",
        VERIFIER,
        *auth,
        "--scheme",
        "Test Scheme 2026",
        "--measure",
        "detect.hash_known_image",
        "--measure",
        "report.authority",
        "--valid-until",
        "2099-01-01T00:00:00Z",
    )
    return world


@pytest.fixture
def world(cli: Cli, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """A fresh world on a SQLite file and on PostgreSQL (parametrised by ``store_url``)."""
    return make_world(cli, store_url, tmp_path / "keys", monkeypatch)


@pytest.fixture
def sqlite_world(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """A fresh world on a SQLite file only (for tests that copy the database file)."""
    return make_world(cli, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path / "keys", monkeypatch)


def copy_sqlite(url: str, dest: Path) -> None:
    """Copy a (closed) SQLite ledger with its WAL files."""
    src = Path(url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        f = Path(f"{src}{suffix}")
        target = Path(f"{dest}{suffix}")
        if f.exists():
            shutil.copyfile(f, target)
        else:
            target.unlink(missing_ok=True)


def one_line_error(stderr: str) -> str:
    """The single error line of a failed command (and nothing like a traceback)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr
    assert lines, "no error message"
    assert lines[-1].startswith("Error: "), stderr
    return lines[-1]


# -- real processes -------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
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
def running(proc: Proc, args: list[str], ready: str, *, port: int | None = None) -> Iterator[str]:
    """Start ``python -m cli ARGS --port/--listen``, wait until ``ready`` answers (not 503);
    stop it."""
    port = port or free_port()
    listen = ["--listen", f"127.0.0.1:{port}"] if args[0] == "witness" else ["--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", *args, *listen],
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
                # 503: listening, but the ledger is still being opened (api/lifecycle.py)
                if httpx.get(base + ready, timeout=1).status_code != 503:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"{args[0]} did not start: {server.stderr.read() if server.stderr else ''}"
                )
            time.sleep(0.1)
        yield base
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=15)
        if server.stderr is not None:
            server.stderr.close()


@contextmanager
def serving(proc: Proc, url: str, log_key: Path) -> Iterator[str]:
    """``claimledger serve`` on a free loopback port, until the block ends."""
    with running(
        proc, ["serve", "--db", url, "--log-key", str(log_key)], "/v1/log/checkpoint"
    ) as b:
        yield b


@pytest.fixture
def proc(tmp_path: Path) -> Proc:
    """Runs ``claimledger`` as a real process, in a clean environment and config directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMLEDGER_")}
    env["CLAIMLEDGER_CONFIG_DIR"] = str(tmp_path / "config")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    cwd = tmp_path / "cwd"  # not tmp_path: its keys/ folder would shadow the keys package
    cwd.mkdir()
    return Proc(env, cwd)
