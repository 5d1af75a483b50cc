"""Restore drills, with real processes: back up while a ledger keeps appending, restore, verify.

SQLite: ``claimledger backup`` against a real ``claimledger serve`` taking entries over HTTP;
PostgreSQL: the pg_dump / pg_restore recipe of docs/operating/backup.md (the command that
``claimledger backup`` prints). Then the published-checkpoint floor: the server restarted over
the older backup refuses to start, in one line, and starts again over the newer database.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from attest.build import make_statement, sign_statement
from attest.entry import genesis_prev
from attest.statements import format_timestamp
from cli._backup import pg_dump_command
from keys import PrivateKey
from ledger import Ledger, parse_database_url
from ledger._published import SLOT_BYTES
from tests.cli.conftest import (
    PROVIDER,
    Cli,
    Proc,
    World,
    claim_body,
    make_world,
    one_line_error,
    running,
)
from tests.ledger.conftest import PG_BASE_URL, pg_connect


class _Appender:
    """Signs claims of the world's provider one after another and hands each to ``submit``,
    which returns the new entry's hash (the next ``prev``), until stopped."""

    def __init__(self, world: World, submit: Callable[[bytes], str]) -> None:
        self.key = PrivateKey.load(world.key(PROVIDER), None)
        self.submit = submit
        self.count = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        prev = genesis_prev(PROVIDER)
        try:
            while not self._stop.is_set():
                statement = make_statement(
                    kind="claim.publish",
                    stream=PROVIDER,
                    prev=prev,
                    signer=PROVIDER,
                    signed_at=format_timestamp(time.time_ns() // 1_000_000),
                    body=claim_body(),
                )
                prev = self.submit(sign_statement(statement, self.key).to_bytes())
                self.count += 1
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def wait_for(self, n: int) -> None:
        deadline = time.monotonic() + 20
        while self.count < n and not self.errors:
            assert time.monotonic() < deadline, f"only {self.count} appends"
            time.sleep(0.01)

    @contextmanager
    def running(self) -> Iterator[_Appender]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()
        assert not self.errors, self.errors


def _published_size(floor: Path) -> int:
    """The size in a floor file (its two slots read as the ledger reads them, unverified)."""
    data = floor.read_bytes()
    notes = [data[i * SLOT_BYTES : (i + 1) * SLOT_BYTES].rstrip(b"\0") for i in (0, 1)]
    return max(int(n.split(b"\n")[1]) for n in notes if n)


def _verified(proc: Proc, url: str, log_key: Path) -> int:
    """``claimledger verify --db URL`` as a real process; the number of entries it verified.

    (``verify --db`` takes the log key: it signs a checkpoint of the database's size to verify.)
    """
    out = proc("verify", "--db", url, "--log-key", log_key).stdout
    words = out[out.index("Verified ") :].split()
    return int(words[1])


def test_sqlite_restore_drill_and_the_published_floor(
    sqlite_world: World, cli: Cli, proc: Proc, tmp_path: Path
) -> None:
    w = sqlite_world
    db = Path(w.url.removeprefix("sqlite:///"))
    floor = tmp_path / "published-checkpoint"
    backup = tmp_path / "backups" / "ledger.db"
    backup.parent.mkdir()
    serve = ["serve", "--db", w.url, "--log-key", str(w.key("log"))]
    with running(proc, [*serve, "--published-checkpoint", str(floor)], "/v1/log/checkpoint") as s:
        client = httpx.Client(base_url=s, timeout=10)

        def submit(envelope: bytes) -> str:
            r = client.post(
                "/v1/entries", content=envelope, headers={"content-type": "application/json"}
            )
            assert r.status_code == 201, r.text
            size = int(r.json()["checkpoint"].split("\n")[1])
            # Nothing of this size left the server before the floor file reached it.
            assert _published_size(floor) >= size
            return str(r.json()["entryHash"])

        with _Appender(w, submit).running() as appender:
            appender.wait_for(3)
            line = cli("backup", "--db", w.url, backup).stdout.strip()  # while appending
            appender.wait_for(appender.count + 3)  # and it goes on after the backup
        served = int(client.get("/v1/log/checkpoint").text.split("\n")[1])
        client.close()
    assert line.startswith("Backed up ")
    assert line.endswith(f" to {backup}")
    assert "checkpoint " in line
    backed_up = int(line.split()[2])
    assert _published_size(floor) == served
    assert backed_up < served

    # The drill: restore the backup elsewhere, and the real CLI verifies every entry of it.
    restored = tmp_path / "restored.db"
    shutil.copyfile(backup, restored)
    assert _verified(proc, f"sqlite:///{restored}", w.key("log")) == backed_up

    # The floor: the server restarted over the older backup refuses to sign anything.
    newer = tmp_path / "newer.db"
    shutil.copyfile(db, newer)  # the server is stopped: the file (and its WAL) is whole
    for wal in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        if wal.exists():
            shutil.copyfile(wal, f"{newer}{wal.name.removeprefix(db.name)}")
            wal.unlink()
    shutil.copyfile(backup, db)
    refused = subprocess.run(
        [sys.executable, "-m", "cli", *serve, "--published-checkpoint", str(floor)],
        cwd=proc.cwd,
        env=proc.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert one_line_error(refused.stderr) == (
        f"Error: the database fails verification: this database holds {backed_up} entries but "
        f"this log published a checkpoint of {served} entries ({floor}): it was restored from "
        f"an older backup, and signing from here would fork the log; restore a backup holding "
        f"at least {served} entries (or recover the missing entries from a replica) before "
        "serving it (docs/operating/backup.md)"
    )
    assert _published_size(floor) == served  # nothing signed

    # What the operator does: restore the newer database; it passes the floor again.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
        if Path(f"{newer}{suffix}").exists():
            shutil.copyfile(f"{newer}{suffix}", f"{db}{suffix}")
    log_key = PrivateKey.load(w.key("log"), None)
    with Ledger.open(w.url, log_key=log_key, published_checkpoint=floor) as led:
        assert led.size == served


def test_postgres_restore_drill(
    pg_schema: str, cli: Cli, proc: Proc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump and pg_restore are not installed")
    url = f"{PG_BASE_URL}?schema={pg_schema}"
    w = make_world(cli, url, tmp_path / "keys", monkeypatch)
    dump = tmp_path / "ledger.dump"
    # claimledger backup does not run pg_dump itself: it names the command, exit 2.
    refused = cli("backup", "--db", url, dump, code=2)
    command = pg_dump_command(url, dump)
    assert f"`{command}`" in refused.stderr
    assert "docs/operating/backup.md" in refused.stderr

    writer = Ledger.open(url, log_key=PrivateKey.load(w.key("log"), None))
    try:
        with _Appender(w, lambda e: writer.submit(e).entry_hash.hex()).running() as appender:
            appender.wait_for(3)
            dumped = subprocess.run(
                shlex.split(command), capture_output=True, text=True, timeout=60, check=False
            )
            assert dumped.returncode == 0, dumped.stderr
            appender.wait_for(appender.count + 3)
        final = writer.size
    finally:
        writer.close()

    # The disaster: the schema is gone. The recipe restores it from the dump.
    with pg_connect() as conn:
        conn.execute(f'DROP SCHEMA "{pg_schema}" CASCADE')
    pg = parse_database_url(url).env
    restored = subprocess.run(
        [
            "pg_restore",
            *("--host", pg["POSTGRES_HOST"], "--port", pg["POSTGRES_PORT"]),
            *("--username", pg["POSTGRES_USER"], "--dbname", pg["POSTGRES_DBNAME"]),
            *("--no-owner", "--exit-on-error", "--single-transaction", str(dump)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert restored.returncode == 0, restored.stderr
    entries = _verified(proc, url, w.key("log"))
    assert 0 < entries < final
