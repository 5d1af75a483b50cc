"""Backups of a SQLite ledger while it is served, and the checks run on a copy before it counts.

:func:`backup_sqlite` copies the file with SQLite's online backup API in one step: the copy is
made under one read transaction, so it is the database as of one commit, whatever a server keeps
appending meanwhile (WAL mode: the reader does not block the writer, nor the writer the reader).
It writes a temporary file beside the target, switches the copy to a single self-contained file
(``journal_mode=DELETE``), fsyncs it and renames it into place: a target path never holds half a
backup. Then it opens the copy read-only and checks it (:func:`check_sqlite_copy`).

PostgreSQL is backed up with ``pg_dump`` (docs/operating/backup.md): its one snapshot is
consistent in the same way.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from attest.checkpoint import NoteVerifier, verify_checkpoint
from attest.dsse import Envelope
from attest.errors import CheckpointError, VerificationError
from attest.merkle import subtree_hash
from attest.rules import open_genesis
from attest.statements import REGISTRY_STREAM, Genesis
from keys import KeysError, PublicKey
from ledger._db import CHECKPOINTS_TABLE, EVENTS_TABLE, META_TABLE, NODES_TABLE
from ledger._published import rotated_log_key
from ledger._store import FORMAT_VERSION, LOG_ID, _Transcoder, parse_database_url, stream_id
from ledger.errors import CorruptionError, LedgerNotFoundError, StoreError

__all__ = ["BackupResult", "backup_sqlite", "check_sqlite_copy"]


@dataclass(frozen=True, slots=True)
class BackupResult:
    """A checked SQLite backup.

    Attributes:
        path: the backup file.
        size_bytes: its size.
        entries: the entries it holds.
        checkpoint_size: the size of the newest checkpoint kept in it (0: none kept yet).
        checkpoint: that signed checkpoint note (empty if none).
    """

    path: Path
    size_bytes: int
    entries: int
    checkpoint_size: int
    checkpoint: bytes


def backup_sqlite(url: str, out: str | os.PathLike[str]) -> BackupResult:
    """Copy the SQLite ledger at ``url`` to the file ``out``, consistently, and check the copy.

    Safe while servers append to it. ``out`` is replaced only by a complete, checked copy.

    Raises:
        DatabaseURLError: ``url`` is not a SQLite URL.
        LedgerNotFoundError: there is no database file at ``url``.
        StoreError: the copy cannot be made or written (e.g. ``out`` is the database itself).
        CorruptionError: the copy fails its checks (it is deleted).
    """
    db = parse_database_url(url)
    if db.kind != "sqlite" or db.path is None:
        raise StoreError(f"{db.display} is not a SQLite database")
    target = Path(out).absolute()
    if not db.path.is_file():
        raise LedgerNotFoundError(f"no ledger at {db.display}")
    if target.exists() and target.samefile(db.path):
        raise StoreError(f"{target} is the database itself")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        _copy(db.path, tmp)
        result = check_sqlite_copy(tmp)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot back up {db.display} to {target}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(
        target, target.stat().st_size, result.entries, result.checkpoint_size, result.checkpoint
    )


def _copy(source: Path, tmp: Path) -> None:
    # mode=ro: the backup never writes to the ledger (a read-only connection still reads the WAL).
    with (
        _connect(source, "ro") as src,
        contextlib.closing(sqlite3.connect(tmp)) as dst,
    ):
        src.execute("PRAGMA busy_timeout = 10000")
        src.backup(dst)  # pages=-1: all in one step, under one read transaction
        # One self-contained file (the ledger's WAL mode would need -wal/-shm beside it); opening
        # it as a ledger switches it back to WAL.
        dst.execute("PRAGMA journal_mode = DELETE").fetchone()
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())


@contextlib.contextmanager
def _connect(path: Path, mode: str) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode={mode}", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_sqlite_copy(path: str | os.PathLike[str]) -> BackupResult:
    """Check a SQLite copy of a ledger, opened read-only, in O(pages + log n).

    Checks SQLite's ``integrity_check``, the storage format, and the newest kept checkpoint: it
    verifies under the log key the genesis entry names, the copy holds at least its entries, and
    the stored Merkle nodes give its root. What it does not do is verify every entry: that is
    ``claimledger verify --db sqlite:///COPY`` (or opening the copy as a ledger).

    Raises:
        CorruptionError: a check fails.
        sqlite3.Error, OSError: the file cannot be read.
    """
    path = Path(path)
    decode = _Transcoder().decode
    with _connect(path, "ro") as conn:
        (ok,) = conn.execute("PRAGMA integrity_check").fetchone()
        if ok != "ok":
            raise CorruptionError(f"the copy fails SQLite's integrity check: {ok}")
        try:
            fmt = conn.execute(
                f"SELECT value FROM {META_TABLE} WHERE key='format'"  # noqa: S608
            ).fetchone()
            (entries,) = conn.execute(
                f"SELECT COALESCE(MAX(originator_version), 0) FROM {EVENTS_TABLE} "  # noqa: S608
                "WHERE originator_id=?",
                (LOG_ID.hex,),
            ).fetchone()
            first = conn.execute(
                f"SELECT state FROM {EVENTS_TABLE} "  # noqa: S608
                "WHERE originator_id=? AND originator_version=1",
                (stream_id(REGISTRY_STREAM).hex,),
            ).fetchone()
            kept = conn.execute(
                f"SELECT size, note FROM {CHECKPOINTS_TABLE} "  # noqa: S608
                "ORDER BY size DESC LIMIT 1"
            ).fetchone()
        except sqlite3.OperationalError as exc:  # no such table: not a ledger
            raise CorruptionError(f"the copy is not a claimledger database: {exc}") from exc
        if fmt is None or fmt[0] != FORMAT_VERSION:
            raise CorruptionError(f"the copy has storage format {fmt and fmt[0]}")
        if first is None or entries == 0:
            raise CorruptionError("the copy holds no genesis entry")
        if kept is None:
            return BackupResult(path, path.stat().st_size, entries, 0, b"")
        size, note = int(kept[0]), bytes(kept[1])
        try:
            body = open_genesis(Envelope.parse(decode(first[0])["envelope"])).statement.body
            if not isinstance(body, Genesis):  # pragma: no cover - open_genesis checks it
                raise CorruptionError("the first registry entry is not the genesis")
            verifier = NoteVerifier.for_key(body.origin, PublicKey.from_b64(body.log_key))
            try:
                cp = verify_checkpoint(note, verifier, origin=body.origin)
            except CheckpointError:
                # After a log key rotation (SPEC §7.6): the key the registry puts in force.
                rows = conn.execute(
                    f"SELECT state FROM {EVENTS_TABLE} "  # noqa: S608
                    "WHERE originator_id=? ORDER BY originator_version",
                    (stream_id(REGISTRY_STREAM).hex,),
                )
                payloads = (Envelope.parse(decode(r[0])["envelope"]).payload for r in rows)
                rotated = rotated_log_key(payloads, size)
                if rotated is None:
                    raise
                verifier = NoteVerifier.for_key(body.origin, rotated)
                cp = verify_checkpoint(note, verifier, origin=body.origin)
        except (VerificationError, KeysError, ValueError, KeyError) as exc:
            raise CorruptionError(f"the copy's newest checkpoint does not verify: {exc}") from exc
        if cp.size != size or cp.size > entries:
            raise CorruptionError(
                f"the copy holds {entries} entries but its newest checkpoint has {cp.size}"
            )

        def node(level: int, index: int) -> bytes:
            row = conn.execute(
                f"SELECT hash FROM {NODES_TABLE} WHERE level=? AND idx=?",  # noqa: S608
                (level, index),
            ).fetchone()
            if row is None:
                raise CorruptionError(f"the copy lacks Merkle node ({level}, {index})")
            return bytes(row[0])

        if subtree_hash(0, cp.size, node) != cp.root:
            raise CorruptionError(
                f"the copy's Merkle nodes do not give the root of its checkpoint {cp.size}"
            )
        return BackupResult(path, path.stat().st_size, entries, cp.size, note)
