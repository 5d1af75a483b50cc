"""SQLite backups taken while a writer appends, and the published-checkpoint floor.

Real SQLite files (and, for the floor, a real PostgreSQL schema too); the store is never mocked.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from attest.checkpoint import Checkpoint, verify_checkpoint
from ledger import (
    CorruptionError,
    Ledger,
    LedgerError,
    PublishedCheckpoint,
    StoreError,
    backup_sqlite,
    check_published_checkpoint,
)
from ledger._backup import check_sqlite_copy
from ledger._published import SLOT_BYTES
from tests.attest.logbuilder import key
from tests.ledger.actors import LOG_KEY, claim, init_ledger, register_story


def _appending(ledger: Ledger, stop: threading.Event, errors: list[BaseException]) -> None:
    try:
        while not stop.is_set():
            ledger.submit(claim(ledger))
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def _published(floor: Path, led: Ledger) -> Checkpoint | None:
    """The checkpoint in a floor file, read and verified as a ledger reads it."""
    return PublishedCheckpoint(floor).read(
        lambda n: verify_checkpoint(n, led.note_verifier, origin=led.origin)
    )


def _copy_sqlite(src: Path, dest: Path) -> None:
    """A restore: the backup file put in place of a database (no stale -wal/-shm beside it)."""
    for suffix in ("-wal", "-shm"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(src, dest)


def test_backup_while_appending_is_consistent_and_opens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    writer = init_ledger(url)
    register_story(writer)
    stop, errors = threading.Event(), list[BaseException]()
    thread = threading.Thread(target=_appending, args=(writer, stop, errors))
    thread.start()
    results = []
    try:
        while writer.size < 12:
            time.sleep(0.01)
        for n in range(3):  # each while the writer appends
            results.append(backup_sqlite(url, tmp_path / f"backup-{n}.db"))
            assert thread.is_alive()
    finally:
        stop.set()
        thread.join()
        final = writer.size
        writer.close()
    assert not errors, errors
    for r in results:
        assert r.path.is_file()
        assert r.size_bytes == r.path.stat().st_size
        assert 0 < r.checkpoint_size <= r.entries <= final
        assert not list(tmp_path.glob(f".{r.path.name}.*"))  # no temp file left
        # One self-contained file: no WAL beside it, nothing else needed to open it.
        assert not Path(f"{r.path}-wal").exists()
        with Ledger.open(f"sqlite:///{r.path}") as copy:  # verifies every entry again
            assert copy.size == r.entries
            assert copy.store.latest_checkpoint() == r.checkpoint
    assert results[-1].entries > results[0].entries  # the writer went on meanwhile


def test_backup_check_finds_a_damaged_copy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with init_ledger(url) as led:
        register_story(led)
        led.flush()
    r = backup_sqlite(url, tmp_path / "good.db")
    assert r.checkpoint_size == r.entries == 5
    bad = tmp_path / "bad.db"
    shutil.copyfile(r.path, bad)
    with sqlite3.connect(bad) as conn:
        conn.execute("UPDATE claimledger_merkle_nodes SET hash = zeroblob(32) WHERE level = 0")
    conn.close()
    with pytest.raises(CorruptionError, match="Merkle nodes do not give the root"):
        check_sqlite_copy(bad)


def test_backup_refuses_to_overwrite_the_database(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    init_ledger(f"sqlite:///{path}").close()
    with pytest.raises(StoreError, match="is the database itself"):
        backup_sqlite(f"sqlite:///{path}", path)
    with Ledger.open(f"sqlite:///{path}") as led:
        assert led.size == 1


def test_published_file_reaches_every_receipt_and_checkpoint(
    store_url: str, tmp_path: Path
) -> None:
    floor = tmp_path / "published"
    init_ledger(store_url).close()
    with Ledger.open(store_url, log_key=key(LOG_KEY), published_checkpoint=floor) as led:
        for receipt in register_story(led) + [led.submit(claim(led)) for _ in range(3)]:
            cp = _published(floor, led)
            assert cp is not None
            assert cp.size >= receipt.tree_size
        assert cp == verify_checkpoint(led.checkpoint(), led.note_verifier)
        assert floor.stat().st_size == 2 * SLOT_BYTES  # written in place after its creation
        assert not list(tmp_path.glob(".published.*"))


def test_published_file_survives_a_torn_write(tmp_path: Path) -> None:
    floor = tmp_path / "published"
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    init_ledger(url).close()
    with Ledger.open(url, log_key=key(LOG_KEY), published_checkpoint=floor) as led:
        register_story(led)
        newest = led.size
    data = bytearray(floor.read_bytes())
    slots = [bytes(data[i * SLOT_BYTES : (i + 1) * SLOT_BYTES]).rstrip(b"\0") for i in (0, 1)]
    torn = max((0, 1), key=lambda i: int(slots[i].split(b"\n")[1]))
    data[torn * SLOT_BYTES + 40 : torn * SLOT_BYTES + 60] = b"\xff" * 20  # a power cut mid-write
    floor.write_bytes(bytes(data))
    with Ledger.open(url) as ro:  # read-only, without the file: reads it, writes nothing
        cp = _published(floor, ro)
        assert cp is not None
        assert cp.size == newest - 1  # the other slot: the previous batch's checkpoint
    with Ledger.open(url, log_key=key(LOG_KEY), published_checkpoint=floor) as led:
        led.submit(claim(led))
        cp = _published(floor, led)
        assert cp is not None
        assert cp.size == newest + 1
    assert floor.stat().st_size == 2 * SLOT_BYTES
    floor.write_bytes(b"\xff" * (2 * SLOT_BYTES))
    with pytest.raises(LedgerError, match="holds no checkpoint published by this log"):
        Ledger.open(url, log_key=key(LOG_KEY), published_checkpoint=floor)


def test_open_refuses_a_database_older_than_the_published_checkpoint(tmp_path: Path) -> None:
    db, old = tmp_path / "ledger.db", tmp_path / "old.db"
    url = f"sqlite:///{db}"
    floor = tmp_path / "published"
    with init_ledger(url) as led:
        register_story(led)
    backup_sqlite(url, old)  # 5 entries
    with Ledger.open(url, log_key=key(LOG_KEY), published_checkpoint=floor) as led:
        led.submit(claim(led))
        led.submit(claim(led))
    _copy_sqlite(old, db)  # restored from the older backup
    message = (
        r"this database holds 5 entries but this log published a checkpoint of 7 entries "
        rf"\({floor}\): it was restored from an older backup"
    )
    with pytest.raises(CorruptionError, match=message):
        Ledger.open(url, log_key=key(LOG_KEY), published_checkpoint=floor)
    with pytest.raises(CorruptionError, match=message):
        check_published_checkpoint(url, floor)
    with Ledger.open(url) as led:  # read-only: signs nothing
        cp = _published(floor, led)
        assert cp is not None
        assert cp.size == 7  # the refusal signed nothing
    # Without the file the old database opens: the floor is what catches it.
    Ledger.open(url, log_key=key(LOG_KEY)).close()


def test_open_refuses_another_history_at_the_published_size(tmp_path: Path) -> None:
    db, fork = tmp_path / "ledger.db", tmp_path / "fork.db"
    url = f"sqlite:///{db}"
    floor = tmp_path / "published"
    with init_ledger(url) as led:
        register_story(led)
    backup_sqlite(url, fork)
    with Ledger.open(url, log_key=key(LOG_KEY), published_checkpoint=floor) as led:
        led.submit(claim(led))
    with Ledger.open(f"sqlite:///{fork}", log_key=key(LOG_KEY)) as other:
        other.submit(claim(other, measure="report.authority"))  # same size, other entry
    with pytest.raises(CorruptionError, match="are not the ones this log published"):
        Ledger.open(f"sqlite:///{fork}", log_key=key(LOG_KEY), published_checkpoint=floor)
    with pytest.raises(CorruptionError, match="are not the ones this log published"):
        check_published_checkpoint(f"sqlite:///{fork}", floor)


def test_published_file_of_another_log_is_refused(tmp_path: Path) -> None:
    floor = tmp_path / "published"
    floor.write_bytes(b"other.example/log\n3\n" + b"A" * 44 + b"\n\n\xe2\x80\x94 x y\n")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    init_ledger(url).close()
    with pytest.raises(LedgerError, match="holds no checkpoint published by this log"):
        Ledger.open(url, log_key=key(LOG_KEY), published_checkpoint=floor)


def test_a_floor_file_that_cannot_be_created_is_refused_before_serving(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    init_ledger(url).close()
    assert check_published_checkpoint(url, tmp_path / "published") is None  # created later
    with pytest.raises(LedgerError, match="is not a writable directory"):
        check_published_checkpoint(url, tmp_path / "no-such-dir" / "published")
