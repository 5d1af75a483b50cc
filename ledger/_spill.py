"""A verifier's growing state on disk, so that full verification holds memory flat as the log
grows (issue 10 §2).

A :class:`~attest.verify.LogVerifier` keeps one record per claim version, test record, verdict and
engagement (the rules need them: a verdict may name any earlier claim) and, per signing key, the
indexes and log times of what it signed (for a ``compromisedSince`` that comes later). In memory
that is a few hundred bytes an entry: 10^7 entries would not fit. :class:`SpillIndex` keeps them
in a private SQLite file instead (unlinked as soon as it is open, so nothing is left behind even
when the process is killed; the space is freed when the connection closes): writes go to an
in-memory buffer of at most ``buffer`` records per table, written out in one transaction when
full; reads look in the buffer, then in the file (SQLite's own page cache, ``cache_mb``).

The file is the verifier's scratch space, written and read only by this process: nothing in it is
trusted input (it holds values the verifier itself decided), so values are plain pickles. The
rules never change a stored value in place (they put a changed copy, ``LogState._replace``), so
a value read back is always the current one.

:class:`PartSpill` is the same kind of scratch file for a server under a memory budget: the
snapshot parts (ledger/_snapshot.py) of streams written since the last snapshot, so that they
may leave memory before a snapshot holds them.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any, Final

from attest.rules import STREAM_FIELDS

__all__ = ["PartSpill", "SpillIndex"]

_DELETED: Final = object()
_MISSING: Final = object()
_BUFFER: Final = 20_000


def _scratch(directory: Path | None, prefix: str, cache_mb: int) -> sqlite3.Connection:
    """A new SQLite file for this process alone, unlinked as soon as it is open (its space is
    freed when the connection closes, even when the process is killed)."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".db", dir=directory)
    os.close(fd)
    try:
        # One thread at a time, though not always the one that made it.
        db = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
        for pragma in (
            "journal_mode=OFF",  # scratch: no journal, no second file to name
            "synchronous=OFF",
            "locking_mode=EXCLUSIVE",
            f"cache_size=-{cache_mb * 1024}",
        ):
            db.execute(f"PRAGMA {pragma}")
    finally:
        Path(name).unlink()
    return db


class SpillIndex:
    """A :class:`~attest.verify.VerifierIndex` in a temporary SQLite file.

    Args:
        directory: where to make the file (default: the system's temporary directory).
        buffer: records held in memory per table before they are written out.
        cache_mb: SQLite's page cache.
    """

    def __init__(
        self, directory: Path | None = None, *, buffer: int = _BUFFER, cache_mb: int = 32
    ) -> None:
        self._db = _scratch(directory, "claimledger-verify-", cache_mb)
        for table in STREAM_FIELDS:
            self._db.execute(f"CREATE TABLE {table} (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
        self._db.execute("CREATE TABLE signed (keyid TEXT, idx INTEGER, ms INTEGER)")
        self._finalizer = weakref.finalize(self, self._db.close)
        self._buffer = buffer
        self._maps: dict[str, _SpillMap] = {}
        self._signed: list[tuple[str, int, int]] = []
        self._signed_indexed = False

    def mapping(self, name: str) -> MutableMapping[Any, Any]:
        if name not in STREAM_FIELDS or name in self._maps:
            raise ValueError(f"no new table {name!r}")
        m = self._maps[name] = _SpillMap(self, name, self._buffer)
        return m

    def signed(self, keyid: str, index: int, log_time_ms: int) -> None:
        self._signed.append((keyid, index, log_time_ms))
        if len(self._signed) >= self._buffer:
            self._flush_signed()

    def signed_by(self, keyid: str) -> Iterable[tuple[int, int]]:
        self._flush_signed()
        if not self._signed_indexed:
            self._db.execute("CREATE INDEX signed_by ON signed (keyid, idx)")
            self._signed_indexed = True
        return self._db.execute(
            "SELECT idx, ms FROM signed WHERE keyid = ? ORDER BY idx", (keyid,)
        ).fetchall()

    def _flush_signed(self) -> None:
        if self._signed:
            with self._db:
                self._db.executemany("INSERT INTO signed VALUES (?, ?, ?)", self._signed)
            self._signed.clear()

    def close(self) -> None:
        """Close the file (its space is freed)."""
        self._finalizer()

    def __enter__(self) -> SpillIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SpillMap(MutableMapping[Any, Any]):
    """One table: a write buffer in front of the SQLite file. It keeps its index (and so the
    file) alive: a verified state's mappings stay readable for as long as the state."""

    def __init__(self, owner: SpillIndex, table: str, buffer: int) -> None:
        self._owner = owner
        self._db = owner._db
        self._table = table
        self._limit = buffer
        self._pending: dict[Any, Any] = {}
        self._get = f"SELECT v FROM {table} WHERE k = ?"  # noqa: S608 - a fixed table name
        self._put = f"INSERT OR REPLACE INTO {table} (k, v) VALUES (?, ?)"  # noqa: S608
        self._del = f"DELETE FROM {table} WHERE k = ?"  # noqa: S608

    def __getitem__(self, key: Any) -> Any:
        value = self._pending.get(key, _MISSING)
        if value is _MISSING:
            row = self._db.execute(self._get, (key,)).fetchone()
            if row is None:
                raise KeyError(key)
            return pickle.loads(row[0])  # noqa: S301 - this process's own scratch file
        if value is _DELETED:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        self._pending[key] = value
        if len(self._pending) >= self._limit:
            self.flush()

    def __delitem__(self, key: Any) -> None:
        self[key]
        self._pending[key] = _DELETED
        if len(self._pending) >= self._limit:
            self.flush()

    def __iter__(self) -> Iterator[Any]:
        self.flush()
        for (key,) in self._db.execute(f"SELECT k FROM {self._table}").fetchall():  # noqa: S608
            yield bytes(key)

    def __len__(self) -> int:
        self.flush()
        return int(self._db.execute(f"SELECT count(*) FROM {self._table}").fetchone()[0])  # noqa: S608

    def flush(self) -> None:
        """Write the buffer out, in one transaction."""
        if not self._pending:
            return
        puts = [
            (k, pickle.dumps(v, pickle.HIGHEST_PROTOCOL))
            for k, v in self._pending.items()
            if v is not _DELETED
        ]
        gone = [(k,) for k, v in self._pending.items() if v is _DELETED]
        with self._db:
            self._db.executemany(self._put, puts)
            self._db.executemany(self._del, gone)
        self._pending.clear()


class PartSpill:
    """Snapshot parts (pickled as a snapshot pickles them) of streams written since the last
    snapshot, in a temporary SQLite file of this process's, one row per part key: putting a key
    again replaces its row. Thread-safe (the views and the sequencer both put and read).

    The file is scratch, like :class:`SpillIndex`'s: what reads a row back checks it against the
    SHA-256 its writer kept in memory (ledger/_ledger.py).
    """

    def __init__(self, directory: Path | None = None, *, cache_mb: int = 16) -> None:
        self._db = _scratch(directory, "claimledger-parts-", cache_mb)
        self._db.execute(
            "CREATE TABLE parts (kind TEXT, name TEXT, data BLOB, PRIMARY KEY (kind, name))"
        )
        self._finalizer = weakref.finalize(self, self._db.close)
        self._lock = threading.Lock()
        self.written = 0  # bytes put, for metrics and tests

    def put(self, key: tuple[str, str], data: bytes) -> None:
        """Store ``data`` as the part ``key`` (replacing what it held)."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO parts VALUES (?, ?, ?)", (*key, data))
        self.written += len(data)

    def get(self, key: tuple[str, str]) -> bytes | None:
        """The bytes last put as ``key``, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM parts WHERE kind = ? AND name = ?", key
            ).fetchone()
        return None if row is None else bytes(row[0])

    def clear(self) -> None:
        """Forget every part (a snapshot now holds them)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM parts")

    def close(self) -> None:
        """Close the file (its space is freed)."""
        self._finalizer()
