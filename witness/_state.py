"""The witness's own SQLite file: per origin, the latest cosigned checkpoint.

One row per log origin: tree size, root hash, the cosigned note (log signature lines the witness
verified plus its own cosignatures) and when it was cosigned. The file runs in WAL mode with
``synchronous=FULL``, so a committed row survives a crash or power loss. Every add-checkpoint
runs check-and-update inside one ``BEGIN IMMEDIATE`` transaction (the write lock is taken before
the stored size is read), so two concurrent requests (threads or processes) can never roll
the size back, and nothing is answered before the commit returns.

Tree sizes are below 2^64, beyond SQLite's signed 64-bit integers, so they are stored as decimal
text.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from attest.tlogwitness import origin_hash
from witness.errors import WitnessError

__all__ = ["Stored", "WitnessState", "origin_hash"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    origin      TEXT PRIMARY KEY,
    origin_hash TEXT NOT NULL UNIQUE,
    size        TEXT NOT NULL,
    root        BLOB NOT NULL,
    note        BLOB NOT NULL,
    cosigned_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS refused (
    id          INTEGER PRIMARY KEY,
    origin      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    request     BLOB NOT NULL
) STRICT;
"""


@dataclass(frozen=True, slots=True)
class Stored:
    """The latest checkpoint cosigned for one origin."""

    origin: str
    size: int
    root: bytes
    note: bytes
    cosigned_at: int


class WitnessState:
    """The state file, opened once per process; methods are safe to call from many threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open (creating if needed) the state file.

        Raises:
            WitnessError: the file cannot be opened or is not a witness state file.
        """
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise WitnessError(f"cannot open witness state {self.path!r}: {exc}") from exc

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[_Tx]:
        """One write transaction: commits when the block ends, rolls back if it raises.

        Raises:
            WitnessError: the database fails (the transaction is rolled back).
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise WitnessError(f"witness state: cannot begin a transaction: {exc}") from exc
            try:
                yield _Tx(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise WitnessError(f"witness state: commit failed: {exc}") from exc

    def latest_by_hash(self, digest: str) -> Stored | None:
        """The latest cosigned checkpoint of the origin with this origin hash, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT origin, size, root, note, cosigned_at FROM checkpoints "
                "WHERE origin_hash = ?",
                (digest,),
            ).fetchone()
        return None if row is None else _stored(row)

    def latest(self, origin: str) -> Stored | None:
        """The latest cosigned checkpoint of ``origin``, if any."""
        return self.latest_by_hash(origin_hash(origin))

    def refused(self) -> list[tuple[str, int, str]]:
        """Every refused, validly signed request kept as evidence: (origin, status, reason)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT origin, status, reason FROM refused ORDER BY id"
            ).fetchall()
        return [(str(o), int(s), str(r)) for o, s, r in rows]


def _stored(row: tuple[str, str, bytes, bytes, int]) -> Stored:
    origin, size, root, note, at = row
    return Stored(origin, int(size), root, note, at)


class _Tx:
    """Reads and writes inside :meth:`WitnessState.transaction`."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def latest(self, origin: str) -> Stored | None:
        row = self._db.execute(
            "SELECT origin, size, root, note, cosigned_at FROM checkpoints WHERE origin = ?",
            (origin,),
        ).fetchone()
        return None if row is None else _stored(row)

    def put(self, stored: Stored) -> None:
        self._db.execute(
            "INSERT INTO checkpoints (origin, origin_hash, size, root, note, cosigned_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET size = excluded.size, "
            "root = excluded.root, note = excluded.note, cosigned_at = excluded.cosigned_at",
            (
                stored.origin,
                origin_hash(stored.origin),
                str(stored.size),
                stored.root,
                stored.note,
                stored.cosigned_at,
            ),
        )

    def refuse(self, origin: str, at: int, status: int, reason: str, request: bytes) -> None:
        self._db.execute(
            "INSERT INTO refused (origin, received_at, status, reason, request) "
            "VALUES (?, ?, ?, ?, ?)",
            (origin, at, status, reason, request),
        )
